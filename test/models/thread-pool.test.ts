// `thread-pool` model: a piscina pool of --threads threads, each connection a task.
import { describe, expect, it } from 'vitest';
import { encodeFrame, Op } from '../../src/shared/protocol.ts';
import { RawPeer } from '../../harness/peer.ts';
import { startServer } from '../helpers/server.ts';
import { echoFrame, errorCode, infoFrame, sleep, sleepFrame } from '../../harness/wire.ts';
import { CRASH_HANDLER, POOL_THREAD, crashIsolation, info, osThreads, settle, stopAndReadStats } from './thread-helpers.ts';

describe('thread-pool model', () => {
  it('INFO proves it (K = 4): every connection is served by one of the N pool threads', async () => {
    const s = await startServer('thread-pool', ['--threads', '2', '--connections-per-thread', '4', '--log-level', 'info']);
    expect(osThreads(s.pid, POOL_THREAD), 'exactly the N pool threads').toBe(2);
    const peers = await Promise.all(Array.from({ length: 8 }, () => RawPeer.connect(s.port)));
    const ids = (await Promise.all(peers.map(info))).map((i) => i.threadId);
    expect(ids).not.toContain(0);
    // Least-busy placement: 8 connections, K = 4 → four on each thread.
    expect(new Set(ids).size).toBe(2);
    for (const id of new Set(ids)) expect(ids.filter((x) => x === id)).toHaveLength(4);
    expect(osThreads(s.pid, POOL_THREAD), 'no thread per connection').toBe(2);
    for (const p of peers) p.destroy();
    const stats = await stopAndReadStats(s);
    expect(stats.workers, 'pool destroyed after stop').toBe(0);
    expect(stats.requests).toBe(8);
    // The pool's threads start up front, each timed to its ready ping.
    expect(stats.startup).toMatchObject({ unit: 'thread', n: 2 });
    expect(stats.startup.p50Ms).toBeGreaterThan(0);
  });

  it('default K (auto) = ceil(--max-connections ÷ --threads): every connection served at once, spread least-loaded over the threads', async () => {
    const s = await startServer('thread-pool', ['--threads', '2', '--max-connections', '100', '--log-level', 'info']);
    // Held open together: a thread-per-connection default (K = 1) would leave 8 of them unanswered.
    const peers = await Promise.all(Array.from({ length: 10 }, () => RawPeer.connect(s.port)));
    const ids = (await Promise.all(peers.map(info))).map((i) => i.threadId);
    expect(new Set(ids).size).toBe(2);
    for (const id of new Set(ids)) expect(ids.filter((x) => x === id), 'least-loaded: 5 on each thread').toHaveLength(5);
    for (const p of peers) p.destroy();
    const stats = await stopAndReadStats(s);
    expect(stats.extra.connectionsPerThread, 'K = ceil(100 ÷ 2)').toBe(50);
    expect(stats.connections).toMatchObject({ accepted: 10, queued: 0, oldestWaitMs: 0, refused: 0 });
    expect(stats.extra.queueEpisodes, 'no connection ever queued').toBe(0);
  });

  it('K = 1: a thread serves one connection at a time and is reused for the next', async () => {
    const s = await startServer('thread-pool', ['--threads', '2', '--connections-per-thread', '1']);
    const a = await RawPeer.connect(s.port);
    const b = await RawPeer.connect(s.port);
    const [ia, ib] = [await info(a), await info(b)];
    expect(ia.threadId).not.toBe(ib.threadId);
    const c = await RawPeer.connect(s.port);
    await c.write(infoFrame());
    await sleep(150);
    expect(c.frames.length, 'both threads busy: c waits in the queue').toBe(0);
    a.destroy();
    const [f] = await c.waitFrames(1);
    expect(JSON.parse(f!.payload.toString()).threadId, 'c gets the thread a released').toBe(ia.threadId);
    b.destroy();
    c.destroy();
    expect(await s.stop()).toBe(0);
  });

  it('SIGTERM: connections queued beyond threads × K are served at once (beyond K), not as slots free', async () => {
    const s = await startServer('thread-pool', ['--threads', '1', '--connections-per-thread', '1']);
    // Peers that hold their side open: a slot freed only after the server's linger on a's FIN.
    const a = await RawPeer.connect(s.port, { allowHalfOpen: true });
    await info(a);
    await a.write(sleepFrame(1000));
    const queued = [await RawPeer.connect(s.port, { allowHalfOpen: true }), await RawPeer.connect(s.port, { allowHalfOpen: true })];
    for (const p of queued) await p.write(echoFrame('queued'));
    await sleep(150);
    expect(queued.map((p) => p.frames.length), 'the one thread is taken: both wait').toEqual([0, 0]);
    s.proc.kill('SIGTERM');
    for (const p of queued) expect((await p.waitFrames(1, 5000))[0]!.payload.toString()).toBe('queued');
    expect(a.frames.length, 'both answered while the SLEEP in flight still holds the thread').toBe(1);
    expect((await a.waitFrames(2, 5000))[1]!.op).toBe(Op.SLEEP);
    for (const p of [a, ...queued]) p.destroy();
    expect(await s.exited).toBe(0);
  });

  it('queue bound: with every thread full and --queue 1 waiting, the next connection gets E_BUSY', async () => {
    const s = await startServer('thread-pool', ['--threads', '1', '--connections-per-thread', '1', '--queue', '1']);
    const a = await RawPeer.connect(s.port);
    await info(a);
    const b = await RawPeer.connect(s.port); // queued
    await sleep(100);
    const c = await RawPeer.connect(s.port);
    const [refused] = await c.waitFrames(1);
    expect(refused!.op).toBe(Op.ERROR);
    expect(errorCode(refused!.payload)).toBe('E_BUSY');
    expect(await c.closedWithin(5000)).toBe(true);
    a.destroy();
    expect((await info(b)).threadId).toBeGreaterThan(0);
    b.destroy();
    expect(await s.stop()).toBe(0);
  });

  it('--queue 0: no waiting at all; a connection beyond threads × K is refused at once', async () => {
    const s = await startServer('thread-pool', ['--threads', '1', '--connections-per-thread', '2', '--queue', '0']);
    const [a, b] = [await RawPeer.connect(s.port), await RawPeer.connect(s.port)];
    await info(a);
    await info(b);
    const c = await RawPeer.connect(s.port);
    expect(errorCode((await c.waitFrames(1))[0]!.payload)).toBe('E_BUSY');
    a.destroy();
    b.destroy();
    expect(await s.stop()).toBe(0);
  });

  it('a handler that kills its thread (K = 1) takes down only its own connection; the pool replaces the thread', async () => {
    await crashIsolation('thread-pool', ['--threads', '4', '--connections-per-thread', '1'], 0x10, { connectionDies: true });
  });

  it('--worker-memory-mb: a thread over its heap limit ends; only its connection is lost', async () => {
    await crashIsolation('thread-pool', ['--threads', '4', '--connections-per-thread', '1', '--worker-memory-mb', '16'], 0x12, {
      connectionDies: true,
    });
  });

  it('K = 2: a crash loses exactly the connections that thread multiplexed', async () => {
    const s = await startServer('thread-pool', ['--threads', '2', '--connections-per-thread', '2', '--handler', CRASH_HANDLER]);
    const peers = await Promise.all(Array.from({ length: 4 }, () => RawPeer.connect(s.port)));
    const ids = (await Promise.all(peers.map(info))).map((i) => i.threadId);
    const victim = peers[0]!;
    const mates = peers.filter((_, i) => ids[i] === ids[0]);
    const others = peers.filter((_, i) => ids[i] !== ids[0]);
    expect(mates).toHaveLength(2);
    await victim.write(encodeFrame(0x10));
    for (const p of mates) expect(await p.closedWithin(5000), 'shared the dead thread').toBe(true);
    for (const p of others) {
      await p.write(echoFrame('alive'));
      expect((await p.waitFrames(2))[1]!.payload.toString()).toBe('alive');
    }
    expect(await settle(() => osThreads(s.pid, POOL_THREAD), 2), 'the pool is back to N threads').toBe(2);
    const fresh = await RawPeer.connect(s.port);
    expect((await info(fresh)).threadId).not.toBe(ids[0]);
    for (const p of [...others, fresh]) p.destroy();
    expect(await s.stop()).toBe(0);
  });
});
