// The stuck-thread watchdog's judgement, on a real shared table with stand-in Worker objects
// (terminating real threads is covered by the handlers fault test in test/faults).
import { describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { F_BEATS, F_BUSY, F_THREAD, SLOT_FIELDS, startHeartbeat } from '../../src/shared/heartbeat.ts';
import { createLogger } from '../../src/shared/log.ts';
import { STUCK_MARGIN_MS, ThreadWatchdog } from '../../src/models/thread-watchdog.ts';

const log = createLogger('silent');
const TIMEOUT = 1000;
const STUCK = TIMEOUT + STUCK_MARGIN_MS;

function fakeWorker(threadId: number) {
  const w = { threadId, terminated: 0, terminate: async () => void w.terminated++ };
  return w;
}
const asWorkers = (...ws: ReturnType<typeof fakeWorker>[]) => ws as unknown as Worker[];

function claim(table: Int32Array, slot: number, threadId: number, busy: number) {
  table[slot * SLOT_FIELDS + F_THREAD] = threadId;
  table[slot * SLOT_FIELDS + F_BUSY] = busy;
}
const beat = (table: Int32Array, slot: number) => void table[slot * SLOT_FIELDS + F_BEATS]!++;

describe('ThreadWatchdog', () => {
  it('terminates a busy thread that stops beating for --request-timeout + margin, once', () => {
    const dog = new ThreadWatchdog(4, TIMEOUT, log);
    const table = dog.table!;
    const w = fakeWorker(7);
    claim(table, 0, 7, 1);
    dog.check(asWorkers(w), 0);
    dog.check(asWorkers(w), STUCK - 1);
    expect(w.terminated).toBe(0);
    dog.check(asWorkers(w), STUCK + 1);
    expect(w.terminated).toBe(1);
    expect(dog.terminated).toBe(1);
    expect(table[F_THREAD], 'its slot is freed').toBe(0);
    dog.check(asWorkers(w), STUCK * 3);
    expect(w.terminated).toBe(1);
  });

  it('spares a thread that keeps beating, however long its work takes', () => {
    const dog = new ThreadWatchdog(4, TIMEOUT, log);
    const w = fakeWorker(7);
    claim(dog.table!, 0, 7, 1);
    for (let t = 0; t <= STUCK * 5; t += 500) {
      beat(dog.table!, 0);
      dog.check(asWorkers(w), t);
    }
    expect(w.terminated).toBe(0);
  });

  it('spares an idle thread that is silent (parked between tasks), and counts silence only from when work starts', () => {
    const dog = new ThreadWatchdog(4, TIMEOUT, log);
    const table = dog.table!;
    const w = fakeWorker(7);
    claim(table, 0, 7, 0);
    dog.check(asWorkers(w), 0);
    dog.check(asWorkers(w), STUCK * 10);
    expect(w.terminated).toBe(0);
    table[F_BUSY] = 1; // work arrives after a long idle silence
    dog.check(asWorkers(w), STUCK * 10 + 500);
    expect(w.terminated, 'the idle silence is not held against it').toBe(0);
    dog.check(asWorkers(w), STUCK * 11 + 1);
    expect(w.terminated).toBe(1);
  });

  it('frees the slots of threads that are gone, so replacements can claim them', () => {
    const dog = new ThreadWatchdog(1, TIMEOUT, log);
    const table = dog.table!;
    expect(startHeartbeat(table, 11)).toBeDefined();
    expect(table[F_THREAD]).toBe(11);
    dog.check([], 0);
    expect(table[F_THREAD]).toBe(0);
  });

  it('a thread that finds the table full runs unwatched; --request-timeout 0 turns it all off', () => {
    const dog = new ThreadWatchdog(1, TIMEOUT, log);
    claim(dog.table!, 0, 5, 1);
    startHeartbeat(dog.table!, 6).busy(1); // no free slot: a no-op heartbeat
    expect([...dog.table!]).toEqual([5, 0, 1]);
    const off = new ThreadWatchdog(4, 0, log);
    expect(off.table).toBeUndefined();
    expect(() => startHeartbeat(off.table, 3).busy(1)).not.toThrow();
  });
});

describe('ThreadWatchdog.balancer', () => {
  const pw = (id: number, currentUsage: number) => ({ id, currentUsage }) as never;
  it('picks the least-busy thread with room, an idle one at once', () => {
    const pick = new ThreadWatchdog(4, TIMEOUT, log).balancer(2)!;
    expect((pick({} as never, [pw(1, 1), pw(2, 0), pw(3, 1)]) as { id: number }).id).toBe(2);
    expect((pick({} as never, [pw(1, 1), pw(2, 2)]) as { id: number }).id).toBe(1);
    expect(pick({} as never, [pw(1, 2), pw(2, 2)]), 'all full: the task waits in the queue').toBeNull();
  });
  it('passes over a busy thread that has stopped beating, even when it is the least busy', () => {
    const dog = new ThreadWatchdog(4, TIMEOUT, log);
    claim(dog.table!, 0, 1, 1);
    claim(dog.table!, 1, 2, 1);
    const t0 = performance.now() - 10_000;
    dog.check(asWorkers(fakeWorker(1), fakeWorker(2)), t0);
    beat(dog.table!, 1); // thread 2 turns, thread 1 does not
    const pick = dog.balancer(64)!;
    expect(dog.stalled(1)).toBe(true);
    expect(dog.stalled(2)).toBe(false);
    expect((pick({} as never, [pw(1, 1), pw(2, 5)]) as { id: number }).id).toBe(2);
    expect(pick({} as never, [pw(1, 1)]), 'only stalled threads: wait for a free one').toBeNull();
  });
  it("is piscina's default when the watchdog is off", () => {
    expect(new ThreadWatchdog(4, 0, log).balancer(4)).toBeUndefined();
  });
});
