// A connection the kernel completed before the listener closed is served, not reset. A SIGTERM
// that the server only gets to after a busy turn finds connections waiting in the listen backlog
// (or with their handshake still being processed): closing the listener at once resets them,
// though their peers are connected and have sent requests. The accept loop keeps the listener
// open briefly after a drain begins and serves what it takes then (accept-loop.ts stopAccepting).
//
// Made deterministic by ordering: the event-loop server's only thread is blocked in a long WORK,
// the SIGTERM is sent, and only then do the late peers connect and send ECHO, so when the thread
// is free again the signal is ready before the listener is (the order in which the old code lost
// them: the signal handler closed the listener first).
import { expect, it } from 'vitest';
import { RawPeer } from '../harness/peer.ts';
import { echoFrame, workFrame } from '../harness/wire.ts';
import { Op } from '../src/shared/protocol.ts';
import { startServer } from './helpers/server.ts';

/** WORK iterations that keep the thread busy ≥ 1 s on this VM (≈ 670 per ms) and ≥ 0.5 s on one twice as fast. */
const BLOCKING_WORK = 1_000_000;

it('SIGTERM while the loop is busy: connections made after the signal, before the listener closed, are answered, exit 0', { timeout: 30_000 }, async () => {
  const s = await startServer('event-loop', ['--max-work', String(BLOCKING_WORK)]);
  const busy = await RawPeer.connect(s.port);
  await busy.write(workFrame(BLOCKING_WORK));
  await new Promise((r) => setTimeout(r, 100)); // the server is now inside the WORK
  s.proc.kill('SIGTERM');
  const late = await Promise.all(Array.from({ length: 5 }, () => RawPeer.connect(s.port, { timeoutMs: 5000 })));
  await Promise.all(late.map((p, i) => p.write(echoFrame(`late ${i}`))));
  // The precondition of this test: the late peers connected and wrote while the thread was busy.
  expect(busy.frames.length, 'the WORK was still running when the late peers had written').toBe(0);
  await busy.waitFrames(1, 20_000);
  expect(busy.frames[0]!.op, 'the WORK is answered').toBe(Op.WORK);
  await Promise.all(late.map((p) => p.waitFrames(1, 10_000).catch(() => {})));
  late.forEach((p, i) => expect(p.frames.map((f) => f.payload.toString()), `late peer ${i} (error ${p.error?.message ?? 'none'})`).toEqual([`late ${i}`]));
  expect(await s.exited).toBe(0);
});
