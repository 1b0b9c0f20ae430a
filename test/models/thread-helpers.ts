// Shared pieces of the thread-model tests: INFO as JSON, OS threads of a server process by
// name (worker threads appear in /proc/<pid>/task under their thread name), the final stats
// line a server logs at --log-level info, and the crash-isolation scenario.
import { expect } from 'vitest';
import { encodeFrame, Op } from '../../src/shared/protocol.ts';
import { RawPeer } from '../../harness/peer.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { echoFrame, errorCode, sleep } from '../../harness/wire.ts';

import { CRASH_HANDLER } from '../../harness/fixtures.ts';

export { CRASH_HANDLER };
/** Name the OS gives unnamed worker threads (piscina's, offload's pool). */
export const POOL_THREAD = 'WorkerThread';

/** INFO on a connected peer (harness/client.ts); osThreads counts a process's threads by OS name. */
export { info, type InfoReply as Info } from '../../harness/client.ts';
export { threadsNamed as osThreads } from '../../harness/proc-tree.ts';

/** Polls until `read()` returns `want` (or `timeoutMs` passes); returns the last value read. */
export async function settle<T>(read: () => T, want: T, timeoutMs = 5000): Promise<T> {
  const until = performance.now() + timeoutMs;
  let v = read();
  while (v !== want && performance.now() < until) {
    await sleep(25);
    v = read();
  }
  return v;
}

/** SIGTERM, expect exit 0, return the stats the server logged on the way out (needs --log-level info). */
export async function stopAndReadStats(server: TestServer): Promise<Record<string, any>> {
  expect(await server.stop()).toBe(0);
  const line = server
    .stderr()
    .split('\n')
    .find((l) => l.includes('"drained, exiting"'));
  expect(line, 'the server logs its final stats').toBeDefined();
  return JSON.parse(line!).stats;
}

/**
 * A handler that kills its thread on one request: only the connection(s) that thread served
 * are lost (`connectionDies`: whether the crashing connection itself is lost, or only its request); the server
 * keeps serving everyone else and new connections.
 */
export async function crashIsolation(model: string, flags: string[], crashOp: number, opts: { connectionDies: boolean }): Promise<void> {
  const s = await startServer(model, [...flags, '--handler', CRASH_HANDLER, '--log-level', 'info']);
  try {
    const others = await Promise.all(Array.from({ length: 3 }, () => RawPeer.connect(s.port)));
    for (const p of others) await p.write(echoFrame('before'));
    for (const p of others) await p.waitFrames(1);

    const victim = await RawPeer.connect(s.port);
    await victim.write(echoFrame('v1'));
    await victim.waitFrames(1);
    // (Sent on its own: replies of requests read in the same chunk are corked, and a thread
    // that dies mid-chunk never flushes them.)
    await victim.write(encodeFrame(crashOp));
    if (opts.connectionDies) {
      expect(await victim.closedWithin(5000), 'the crashed thread’s connection is closed').toBe(true);
      expect(victim.frames.length).toBe(1);
    } else {
      const [, failed] = await victim.waitFrames(2);
      expect(failed!.op).toBe(Op.ERROR);
      expect(errorCode(failed!.payload)).toBe('E_INTERNAL');
      await victim.write(echoFrame('victim still works'));
      const [, , ok] = await victim.waitFrames(3);
      expect(ok!.payload.toString()).toBe('victim still works');
    }

    // Everyone else: many more requests, all answered.
    await Promise.all(
      others.map(async (p, i) => {
        const frames = Array.from({ length: 20 }, (_, k) => echoFrame(`${i}:${k}`));
        await p.write(Buffer.concat(frames));
        const got = await p.waitFrames(21);
        got.slice(1).forEach((f, k) => expect(f.payload.toString()).toBe(`${i}:${k}`));
      }),
    );
    // New connections keep working (pools have replaced the dead thread by now or soon).
    for (let i = 0; i < 4; i++) {
      const fresh = await RawPeer.connect(s.port);
      await fresh.write(Buffer.concat([encodeFrame(0x11), echoFrame(`fresh ${i}`)]));
      const [thrown, ok] = await fresh.waitFrames(2);
      expect(errorCode(thrown!.payload), 'a plain throw is E_INTERNAL').toBe('E_INTERNAL');
      expect(ok!.payload.toString()).toBe(`fresh ${i}`);
      fresh.destroy();
    }
    for (const p of [...others, victim]) p.destroy();
    const stats = await stopAndReadStats(s);
    expect(stats.workers, 'no thread left after stop').toBe(0);
  } finally {
    await s.stop();
  }
}
