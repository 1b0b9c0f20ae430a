// `thread` model: one worker thread per connection, observed from outside the server process.
// Threads are counted by OS thread name in /proc/<pid>/task (THREAD_NAME), so "the thread
// exited" is checked against the kernel, not against the server's own bookkeeping.
import { describe, expect, it } from 'vitest';
import { THREAD_NAME } from '../../src/models/thread.ts';
import { Op } from '../../src/shared/protocol.ts';
import { RawPeer } from '../../harness/peer.ts';
import { startServer } from '../helpers/server.ts';
import { echoFrame, errorCode, infoFrame, sleep } from '../../harness/wire.ts';
import { crashIsolation, info, osThreads, settle, stopAndReadStats } from './thread-helpers.ts';

describe('thread model', () => {
  it('INFO proves it: each concurrent connection has its own thread, never the main one; a closed connection’s thread exits', async () => {
    const s = await startServer('thread', ['--log-level', 'info']);
    const peers = await Promise.all(Array.from({ length: 5 }, () => RawPeer.connect(s.port)));
    const infos = await Promise.all(peers.map(info));
    const ids = infos.map((i) => i.threadId);
    expect(new Set(ids).size, 'one thread per connection').toBe(5);
    expect(ids).not.toContain(0); // 0 is the main thread
    expect(infos.every((i) => i.model === 'thread' && i.pid === s.pid)).toBe(true);
    expect(await settle(() => osThreads(s.pid, THREAD_NAME), 5)).toBe(5);

    peers[0]!.destroy();
    peers[1]!.destroy();
    expect(await settle(() => osThreads(s.pid, THREAD_NAME), 3), 'two connections closed → two threads gone').toBe(3);

    const next = await RawPeer.connect(s.port);
    const fresh = await info(next);
    expect(ids, 'a new connection gets a new thread').not.toContain(fresh.threadId);
    for (const p of [...peers, next]) p.destroy();
    expect(await settle(() => osThreads(s.pid, THREAD_NAME), 0)).toBe(0);

    const stats = await stopAndReadStats(s);
    expect(stats.workers).toBe(0);
    expect(stats.extra.threadsAlive).toBe(0);
    expect(stats.requests).toBe(6);
    expect(stats.startup.unit).toBe('thread');
    expect(stats.startup.n).toBeGreaterThanOrEqual(6);
    expect(stats.startup.p50Ms).toBeGreaterThan(0);
    expect(stats.startup.p99Ms).toBeGreaterThanOrEqual(stats.startup.p50Ms);
    expect(stats.extra.waitedForThread, 'no spares: every connection waited for a start').toBe(6);
  });

  it('--spare-threads keeps started threads waiting; each serves one connection and is replaced', async () => {
    const s = await startServer('thread', ['--spare-threads', '2', '--log-level', 'info']);
    expect(osThreads(s.pid, THREAD_NAME), 'two idle spares before any connection').toBe(2);
    const a = await RawPeer.connect(s.port);
    const first = await info(a);
    expect(await settle(() => osThreads(s.pid, THREAD_NAME), 3), 'one serving + two spares').toBe(3);
    a.destroy();
    expect(await settle(() => osThreads(s.pid, THREAD_NAME), 2), 'its thread exits; spares stay').toBe(2);
    const b = await RawPeer.connect(s.port);
    expect((await info(b)).threadId).not.toBe(first.threadId);
    b.destroy();
    const stats = await stopAndReadStats(s);
    expect(stats.extra.servedBySpare).toBe(2);
    expect(stats.extra.waitedForThread).toBe(0);
    expect(stats.workers).toBe(0);
  });

  it('--max-threads 2 --queue 1: the third connection waits, the fourth gets E_BUSY', async () => {
    const s = await startServer('thread', ['--max-threads', '2', '--queue', '1']);
    const a = await RawPeer.connect(s.port);
    const b = await RawPeer.connect(s.port);
    await info(a);
    await info(b);
    const c = await RawPeer.connect(s.port);
    await c.write(infoFrame());
    await sleep(150);
    expect(c.frames.length, 'queued: no thread for it yet').toBe(0);
    const d = await RawPeer.connect(s.port);
    const [refused] = await d.waitFrames(1);
    expect(refused!.op).toBe(Op.ERROR);
    expect(errorCode(refused!.payload)).toBe('E_BUSY');
    expect(await d.closedWithin(5000)).toBe(true);
    a.destroy(); // frees a thread: the queued connection is served
    const [answer] = await c.waitFrames(1);
    expect(answer!.op).toBe(Op.INFO);
    await c.write(echoFrame('c works'));
    expect((await c.waitFrames(2))[1]!.payload.toString()).toBe('c works');
    b.destroy();
    c.destroy();
    expect(await s.stop()).toBe(0);
  });

  it('--queue-timeout 1: a connection that waits that long for a thread gets E_BUSY and is closed', async () => {
    const s = await startServer('thread', ['--max-threads', '1', '--queue-timeout', '1', '--log-level', 'info']);
    const a = await RawPeer.connect(s.port);
    await info(a);
    const c = await RawPeer.connect(s.port);
    await c.write(infoFrame());
    const t0 = performance.now();
    const [refused] = await c.waitFrames(1, 10_000);
    expect(refused!.op).toBe(Op.ERROR);
    expect(errorCode(refused!.payload)).toBe('E_BUSY');
    expect(refused!.payload.toString()).toMatch(/waited 1 s/);
    expect(performance.now() - t0, 'not before its time').toBeGreaterThanOrEqual(900);
    expect(await c.closedWithin(5000)).toBe(true);
    await a.write(echoFrame('a still served'));
    expect((await a.waitFrames(2))[1]!.payload.toString()).toBe('a still served');
    a.destroy();
    const stats = await stopAndReadStats(s);
    expect(stats.extra.queueTimedOut).toBe(1);
  });

  it('--queue-timeout also bounds the wait for a thread to start; that thread then stays as the spare', async () => {
    // 1 ms is shorter than any thread start (a bare new Worker() to first message measured
    // 9.4–11.6 ms on a fast day here, make bench 2026-12-04, so 10 ms was too close): the second
    // connection, which finds no ready spare, is refused while its thread boots; that thread
    // becomes the spare the third uses.
    const s = await startServer('thread', ['--spare-threads', '1', '--queue-timeout', '0.001', '--log-level', 'info']);
    const a = await RawPeer.connect(s.port);
    await info(a);
    const b = await RawPeer.connect(s.port);
    await b.write(infoFrame());
    const [refused] = await b.waitFrames(1, 10_000);
    expect(errorCode(refused!.payload)).toBe('E_BUSY');
    expect(refused!.payload.toString()).toMatch(/waited 0.001 s for a connection thread/);
    expect(await b.closedWithin(5000)).toBe(true);
    await sleep(1000); // the refused connection's thread finishes starting
    expect(osThreads(s.pid, THREAD_NAME), 'a serving + one spare, nothing leaked').toBe(2);
    const c = await RawPeer.connect(s.port);
    expect((await info(c)).threadId).toBeGreaterThan(0);
    a.destroy();
    c.destroy();
    const stats = await stopAndReadStats(s);
    expect(stats.extra.queueTimedOut).toBe(1);
  });

  it('a handler that kills its thread takes down only its own connection', async () => {
    await crashIsolation('thread', [], 0x10, { connectionDies: true });
  });

  it('--worker-memory-mb: a thread over its heap limit ends; only its connection is lost', async () => {
    await crashIsolation('thread', ['--worker-memory-mb', '16'], 0x12, { connectionDies: true });
  });
});
