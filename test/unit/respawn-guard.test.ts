// RespawnGuard's policy on its own. It keeps no clock: it answers each unexpected death with the
// delay before respawning (or null: stop), and the models own the timers. So no time is faked
// here; a death is described by the one thing the guard reads, whether the child said `ready`.
import { describe, expect, it } from 'vitest';
import { RespawnGuard, type Child } from '../../src/models/child.ts';

const failedStart = { readyAt: 0 } as Child; // died before `ready`
const afterReady = { readyAt: 1234.5 } as Child; // died while serving

const failures = (guard: RespawnGuard, n: number) => Array.from({ length: n }, () => guard.onCrash(failedStart));

describe('RespawnGuard', () => {
  it('defaults to 5 failed starts in a row, 100 ms base, 5 s cap', () => {
    const guard = new RespawnGuard();
    expect([guard.limit, guard.baseMs, guard.maxMs]).toEqual([5, 100, 5_000]);
    expect(guard.stats()).toEqual({ crashes: 0, failedStarts: 0, respawnDisabled: false });
  });

  it('backs off failed starts exponentially and gives up at the limit', () => {
    const guard = new RespawnGuard();
    expect(failures(guard, 5)).toEqual([100, 200, 400, 800, null]);
    expect(guard.disabled).toBe(true);
    expect(guard.consecutiveFailures).toBe(5);
    expect(guard.stats()).toEqual({ crashes: 5, failedStarts: 5, respawnDisabled: true });
  });

  it('caps the delay at maxMs', () => {
    const guard = new RespawnGuard({ limit: 10, baseMs: 1_000, maxMs: 3_000 });
    expect(failures(guard, 6)).toEqual([1_000, 2_000, 3_000, 3_000, 3_000, 3_000]);
  });

  it('with limit 1 gives up on the first failed start', () => {
    const guard = new RespawnGuard({ limit: 1 });
    expect(guard.onCrash(failedStart)).toBeNull();
    expect(guard.disabled).toBe(true);
  });

  it('a child reaching ready resets the streak: the next failure starts again at baseMs', () => {
    const guard = new RespawnGuard();
    expect(failures(guard, 2)).toEqual([100, 200]);
    guard.onReady();
    expect(guard.consecutiveFailures).toBe(0);
    expect(guard.onCrash(failedStart)).toBe(100);
    expect(guard.stats()).toEqual({ crashes: 3, failedStarts: 3, respawnDisabled: false });
  });

  it('only failures in a row count: limit − 1 failures between readies never disable it', () => {
    const guard = new RespawnGuard({ limit: 3 });
    for (let round = 0; round < 4; round++) {
      expect(failures(guard, 2)).toEqual([100, 200]);
      guard.onReady();
    }
    expect(guard.disabled).toBe(false);
    expect(guard.stats()).toEqual({ crashes: 8, failedStarts: 8, respawnDisabled: false });
  });

  it('replaces a child that dies after ready at once, without counting it as a failed start', () => {
    const guard = new RespawnGuard({ limit: 2 });
    for (let i = 0; i < 10; i++) expect(guard.onCrash(afterReady)).toBe(0);
    expect(guard.consecutiveFailures).toBe(0);
    expect(guard.stats()).toEqual({ crashes: 10, failedStarts: 0, respawnDisabled: false });
    expect(guard.onCrash(failedStart), 'the streak starts from zero').toBe(100);
  });

  it('once it has given up it stays given up: a later ready, failure or crash gets null', () => {
    const guard = new RespawnGuard({ limit: 2 });
    expect(failures(guard, 2)).toEqual([100, null]);
    guard.onReady();
    expect(guard.onCrash(failedStart)).toBeNull();
    expect(guard.onCrash(afterReady)).toBeNull();
    expect(guard.stats()).toEqual({ crashes: 4, failedStarts: 3, respawnDisabled: true });
  });

  // process-pool shares one guard: one slot's child failing its start must not delay the
  // replacement of another, long ready, that crashed.
  it('replaces a child that dies after ready at once even while another child is failing its start', () => {
    const guard = new RespawnGuard();
    expect(failures(guard, 2)).toEqual([100, 200]);
    expect(guard.onCrash(afterReady)).toBe(0);
    expect(guard.onCrash(failedStart), 'the start streak goes on').toBe(400);
  });

  it('a start cut by SIGKILL backs off but never gives up; other failed starts still do', () => {
    const guard = new RespawnGuard({ limit: 3 });
    const killed = Array.from({ length: 10 }, () => guard.onCrash(failedStart, 'SIGKILL'));
    expect(killed.every((d) => d !== null), 'ten SIGKILLed starts: still respawning').toBe(true);
    expect(killed.slice(0, 3)).toEqual([100, 200, 400]);
    expect(guard.disabled).toBe(false);
    expect(guard.onCrash(failedStart, null)).not.toBeNull();
    expect(guard.onCrash(failedStart, 'SIGABRT')).not.toBeNull();
    expect(guard.onCrash(failedStart, null), 'the third failed start of its own').toBeNull();
    expect(guard.disabled).toBe(true);
  });
});
