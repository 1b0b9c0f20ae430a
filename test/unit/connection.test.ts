// serveConnection on its own: a real TCP pair on 127.0.0.1 (the test's own listening socket, set
// up like the accept loop's), the accepted socket handed straight to serveConnection, and a
// client that speaks the wire protocol. No spawned server, no network mocks.
import { threadId } from 'node:worker_threads';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { handle, workDigest } from '../../src/shared/builtin-handler.ts';
import type { ConnectionLimits } from '../../src/shared/config.ts';
import {
  DRAIN_GRACE_MAX_MS,
  DRAIN_REFUSE_MS,
  LINGER_MS,
  serveConnection,
  type Connection,
  type ConnectionCounters,
  type ConnectionSummary,
} from '../../src/shared/connection.ts';
import { ProtocolError } from '../../src/shared/errors.ts';
import type { Handler, HandlerResult } from '../../src/shared/handler.ts';
import { Op, encodeFrame, parseError } from '../../src/shared/protocol.ts';
import { controlledHandler, describeFrame, localServer, sleep, text, waitFor, within, type Pair, type Peer } from './local-net.ts';

const LIMITS: ConnectionLimits = {
  maxFrame: 1024 * 1024,
  maxWork: 1000,
  idleTimeoutMs: 0,
  frameTimeoutMs: 0,
  requestTimeoutMs: 0,
  maxInFlight: 1024,
  proxyProtocol: false,
  admitPeer: false,
};

interface Served {
  peer: Peer;
  conn: Connection;
  /** conn.done, failing the test if the connection does not close within a few seconds. */
  done(timeoutMs?: number): Promise<ConnectionSummary>;
}

function serveOn(pair: Pair, handler: Handler, limits: Partial<ConnectionLimits> = {}, counters?: ConnectionCounters): Served {
  const conn = serveConnection(pair.server, { handler, model: 'unit', connection: 42, limits: { ...LIMITS, ...limits }, counters });
  return { peer: pair.peer, conn, done: (timeoutMs = 3_000) => within(conn.done, 'the connection to close', timeoutMs) };
}

async function serve(handler: Handler = handle, limits: Partial<ConnectionLimits> = {}, { allowHalfOpen = false } = {}): Promise<Served> {
  const server = await localServer();
  return serveOn(await server.connect({ allowHalfOpen }), handler, limits);
}

/** One encoded frame; text payloads as UTF-8. */
const frame = (op: number, payload: string | Uint8Array) => encodeFrame(op, typeof payload === 'string' ? Buffer.from(payload) : payload);

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('framing', () => {
  it('answers a frame that arrives one byte per write, and a frame with an empty payload', async () => {
    const { peer } = await serve();
    for (const byte of encodeFrame(Op.ECHO, Buffer.from('split me'))) {
      peer.write(Buffer.of(byte));
      await sleep(2);
    }
    peer.send(Op.ECHO);
    const [a, b] = await peer.frameCount(2);
    expect(a!.op).toBe(Op.ECHO);
    expect(text(a)).toBe('split me');
    expect(b!.op).toBe(Op.ECHO);
    expect(b!.payload.length).toBe(0);
  });

  it('answers every frame of a write that packs many, once each and in order (small and large payloads)', async () => {
    const { peer } = await serve();
    const payloads = Array.from({ length: 40 }, (_, i) => (i === 20 ? Buffer.alloc(200_000, 7) : Buffer.from(`m${i}`)));
    peer.write(Buffer.concat(payloads.map((p) => encodeFrame(Op.ECHO, p))));
    const frames = await peer.frameCount(40);
    expect(frames.every((f) => f.op === Op.ECHO)).toBe(true);
    expect(frames.map((f, i) => f.payload.equals(payloads[i]!))).toEqual(payloads.map(() => true));
    await sleep(50);
    expect(peer.frames, 'no extra answers').toHaveLength(40);
  });

  it('accepts a frame of exactly max-frame bytes', async () => {
    const { peer } = await serve(handle, { maxFrame: 64 });
    peer.send(Op.ECHO, Buffer.alloc(63, 1)); // L = 1 + 63 = 64
    const [f] = await peer.frameCount(1);
    expect(f!.op).toBe(Op.ECHO);
    expect(f!.payload.equals(Buffer.alloc(63, 1))).toBe(true);
  });

  it('answers a frame over max-frame with E_TOO_LARGE after the frames before it, then closes', async () => {
    const { peer, done } = await serve(handle, { maxFrame: 64 });
    const over = Buffer.alloc(4 + 10);
    over.writeUInt32BE(65, 0);
    over[4] = Op.ECHO;
    peer.write(Buffer.concat([frame(Op.ECHO, 'before'), over, frame(Op.ECHO, 'after')]));
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['1:before', 'ERR:E_TOO_LARGE']);
    expect(parseError(peer.frames[1]!.payload).message).toBe('frame of 65 bytes exceeds the 64-byte limit');
    expect(await done()).toEqual({ requests: 1, errors: 1, reason: 'bad-frame' });
  });

  it('answers L = 0 with E_BAD_FRAME after the frames before it, then closes', async () => {
    const { peer, done } = await serve();
    peer.write(Buffer.concat([frame(Op.ECHO, 'before'), Buffer.alloc(4), frame(Op.ECHO, 'after')]));
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['1:before', 'ERR:E_BAD_FRAME']);
    expect(await done()).toEqual({ requests: 1, errors: 1, reason: 'bad-frame' });
  });

  it('after closing on a bad frame it discards the unread rest instead of resetting the peer', async () => {
    const { peer, done } = await serve();
    // The peer is slow to read: the answer and our FIN sit in its buffer while our side still
    // holds 512 KiB it never read. Closing now would reset the peer and could lose the answer.
    peer.socket.pause();
    peer.write(Buffer.concat([Buffer.alloc(4), Buffer.alloc(512 * 1024, 0xab)]));
    await sleep(150);
    peer.socket.resume();
    await peer.untilClosed();
    expect(peer.frames.map(describeFrame)).toEqual(['ERR:E_BAD_FRAME']);
    expect(peer.errors, 'a clean close, no ECONNRESET').toEqual([]);
    // …and it stops lingering as soon as the peer's FIN arrives, not after LINGER_MS.
    expect((await done(LINGER_MS / 2)).reason).toBe('bad-frame');
  });

  it(`stops lingering after LINGER_MS (${LINGER_MS} ms) when the peer never closes its side`, async () => {
    const { peer, done, conn } = await serve(handle, {}, { allowHalfOpen: true });
    let settled = false;
    void conn.done.then(() => (settled = true));
    // The linger timer is a plain setTimeout: fake it, so the test can step to just before and at
    // LINGER_MS instead of waiting (the sockets themselves stay real).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    onTestFinished(() => void vi.useRealTimers());
    peer.write(Buffer.alloc(4));
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['ERR:E_BAD_FRAME']);
    vi.advanceTimersByTime(LINGER_MS - 1);
    await sleep(50);
    expect(settled, 'still lingering just before LINGER_MS').toBe(false);
    vi.advanceTimersByTime(1);
    expect((await done()).reason).toBe('bad-frame');
  });
});

describe('pipelining and back-pressure', () => {
  it('answers in request order whatever order the handler finishes in', async () => {
    const { handler, calls } = controlledHandler({ syncEcho: true });
    const { peer } = await serve(handler);
    peer.send(Op.SLEEP, 'a');
    peer.send(Op.SLEEP, 'b');
    peer.send(Op.SLEEP, 'c');
    peer.send(Op.ECHO, 'd'); // answered synchronously, but behind three unanswered requests
    await waitFor(() => calls.length === 3, 'three pending calls');
    calls[2]!.resolve();
    calls[1]!.reject(new Error('b failed'));
    await sleep(100);
    expect(peer.frames, 'nothing overtakes the unanswered first request').toHaveLength(0);
    calls[0]!.resolve();
    expect((await peer.frameCount(4)).map(describeFrame)).toEqual(['3:a', 'ERR:E_INTERNAL', '3:c', '1:d']);
  });

  it('stops reading at max-in-flight unanswered requests and resumes as answers leave', async () => {
    const { handler, calls } = controlledHandler();
    const { peer } = await serve(handler, { maxInFlight: 2 });
    peer.send(Op.SLEEP, 'a');
    await waitFor(() => calls.length === 1, 'a');
    peer.send(Op.SLEEP, 'b');
    await waitFor(() => calls.length === 2, 'b');
    peer.send(Op.SLEEP, 'c');
    await sleep(200);
    expect(calls, 'a third request is not read while two are unanswered').toHaveLength(2);
    calls[0]!.resolve();
    await waitFor(() => calls.length === 3, 'c to be read once a is answered');
    calls[2]!.resolve();
    calls[1]!.resolve();
    expect((await peer.frameCount(3)).map(describeFrame)).toEqual(['3:a', '3:b', '3:c']);
  });

  it('stops reading while the peer leaves its answers unread, and loses none of them', async () => {
    let handled = 0;
    const echo: Handler = (op, payload) => {
      handled++;
      return { op, payload: Buffer.from(payload) };
    };
    const { peer } = await serve(echo, { maxFrame: 2 * 1024 * 1024 });
    peer.socket.pause();
    const N = 12;
    const MiB = 1024 * 1024;
    for (let i = 0; i < N; i++) peer.write(encodeFrame(Op.ECHO, Buffer.alloc(MiB, i)));
    // Wait for the server to stop handling requests (the count holds still for 300 ms).
    let before = -1;
    for (let rounds = 0; handled !== before && rounds < 20; rounds++) {
      before = handled;
      await sleep(150);
    }
    expect(handled, 'requests handled while the peer read nothing').toBeLessThan(N);
    peer.socket.resume();
    const frames = await peer.frameCount(N, 10_000);
    const intact = frames.map((f, i) => f.payload.length === MiB && f.payload[0] === i && f.payload[MiB - 1] === i);
    expect(intact).toEqual(frames.map(() => true));
    expect(handled).toBe(N);
  });
});

describe('timeouts', () => {
  it('closes a connection that completes no request for idle-timeout, sending no frame', async () => {
    const t0 = performance.now();
    const { peer, done } = await serve(handle, { idleTimeoutMs: 150 });
    await peer.untilEnded();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(peer.frames).toEqual([]);
    expect(await done()).toEqual({ requests: 0, errors: 0, reason: 'idle' });
  });

  it('keeps a connection open past idle-timeout while it keeps completing requests', async () => {
    const { peer, done } = await serve(handle, { idleTimeoutMs: 300 });
    for (let i = 0; i < 6; i++) {
      peer.send(Op.ECHO, `r${i}`);
      await peer.frameCount(i + 1);
      await sleep(75);
    }
    expect(peer.ended, 'answers restart the idle clock (450 ms in all, idle-timeout 300 ms)').toBe(false);
    peer.socket.end();
    expect(await done()).toEqual({ requests: 6, errors: 0, reason: 'eof' });
  });

  it('does not count a request still being worked on as idle: the connection keeps reading and answering', async () => {
    const { handler, calls } = controlledHandler({ syncEcho: true });
    const { peer, done } = await serve(handler, { idleTimeoutMs: 100 });
    peer.send(Op.SLEEP, 'slow');
    await waitFor(() => calls.length === 1, 'the request');
    await sleep(250);
    expect(peer.ended, 'open at 2.5× idle-timeout').toBe(false);
    peer.send(Op.ECHO, 'more'); // still read: the connection is not on its way out
    await sleep(50);
    calls[0]!.resolve();
    await peer.frameCount(2);
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['3:slow', '1:more']);
    expect(await done()).toEqual({ requests: 2, errors: 0, reason: 'idle' });
  });

  it('closes on idle-timeout even with half a frame received', async () => {
    const { peer, done } = await serve(handle, { idleTimeoutMs: 150 });
    peer.write(frame(Op.ECHO, 'fifteen bytes..').subarray(0, 6));
    await peer.untilEnded();
    expect(peer.frames).toEqual([]);
    expect(await done()).toEqual({ requests: 0, errors: 0, reason: 'idle' });
  });

  it('answers E_TIMEOUT and closes when a started frame does not complete within frame-timeout', async () => {
    const { peer, done } = await serve(handle, { frameTimeoutMs: 150 });
    peer.send(Op.ECHO, 'whole');
    peer.write(frame(Op.ECHO, 'never finished').subarray(0, 7));
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['1:whole', 'ERR:E_TIMEOUT']);
    expect(parseError(peer.frames[1]!.payload).message).toBe('frame not completed within 150 ms');
    expect(await done()).toEqual({ requests: 1, errors: 1, reason: 'frame-timeout' });
  });

  it('times each frame from its own start: frames that each complete in time never time out', async () => {
    const { peer } = await serve(handle, { frameTimeoutMs: 150 });
    const stream = Buffer.concat(Array.from({ length: 5 }, (_, i) => frame(Op.ECHO, `frame-${i}`)));
    // 12-byte frames in six writes 40 ms apart (240 ms in all): every cut but the last falls inside
    // a frame, so a timer kept from the first frame's start (not restarted per frame) would fire.
    const cuts = [6, 19, 33, 40, 52, stream.length];
    let from = 0;
    for (const cut of cuts) {
      peer.write(stream.subarray(from, cut));
      from = cut;
      await sleep(40);
    }
    const frames = await peer.frameCount(5);
    expect(frames.map(describeFrame)).toEqual([0, 1, 2, 3, 4].map((i) => `1:frame-${i}`));
    expect(peer.ended).toBe(false);
  });

  it('answers E_TIMEOUT for a handler slower than request-timeout; the connection stays usable, the late answer is dropped', async () => {
    const { handler, calls } = controlledHandler({ syncEcho: true });
    const { peer, done } = await serve(handler, { requestTimeoutMs: 150 });
    peer.send(Op.SLEEP, 'slow');
    const [timeout] = await peer.frameCount(1);
    expect(parseError(timeout!.payload)).toEqual({ code: 'E_TIMEOUT', message: 'handler did not answer within 150 ms' });
    calls[0]!.resolve(); // too late: must not be sent
    peer.send(Op.ECHO, 'next');
    await peer.frameCount(2);
    await sleep(50);
    expect(peer.frames.map(describeFrame)).toEqual(['ERR:E_TIMEOUT', '1:next']);
    peer.socket.end();
    expect(await done()).toEqual({ requests: 2, errors: 1, reason: 'eof' });
  });

  // One timer per connection serves every awaited answer (connection.ts #onDeadline): each must
  // still time out at its own deadline, counted from its own request, never from the oldest's.
  it('times out each awaited answer at its own deadline, in order, when several wait at once', async () => {
    const { handler } = controlledHandler({ syncEcho: true });
    const { peer } = await serve(handler, { requestTimeoutMs: 200 });
    const sent = performance.now();
    peer.send(Op.SLEEP, 'a');
    await sleep(100);
    peer.send(Op.SLEEP, 'b');
    peer.send(Op.ECHO, 'c'); // answered at once by the handler, but behind b in the queue
    const arrived: number[] = [];
    await waitFor(() => {
      while (arrived.length < peer.frames.length) arrived.push(performance.now() - sent);
      return peer.frames.length === 3;
    }, 'three answers');
    expect(peer.frames.map(describeFrame)).toEqual(['ERR:E_TIMEOUT', 'ERR:E_TIMEOUT', '1:c']);
    expect(arrived[0]).toBeGreaterThanOrEqual(190);
    // b's deadline is 200 ms after b, not after a: ~300 ms after a was sent.
    expect(arrived[1]).toBeGreaterThanOrEqual(285);
  });

  it('keeps timing the next awaited answer after the oldest is answered in time', async () => {
    const { handler, calls } = controlledHandler({ syncEcho: true });
    const { peer, done } = await serve(handler, { requestTimeoutMs: 200 });
    const sent = performance.now();
    peer.send(Op.SLEEP, 'a');
    await sleep(60);
    peer.send(Op.SLEEP, 'b');
    await waitFor(() => calls.length === 2, 'both requests to reach the handler');
    calls[0]!.resolve(); // a in time; the timer was armed for a's deadline
    await peer.frameCount(1);
    await peer.frameCount(2);
    const bAt = performance.now() - sent;
    expect(peer.frames.map(describeFrame)).toEqual(['3:a', 'ERR:E_TIMEOUT']);
    expect(bAt).toBeGreaterThanOrEqual(250); // b's own deadline, ~260 ms after a
    calls[1]!.resolve(); // too late: dropped
    peer.send(Op.ECHO, 'next');
    await peer.frameCount(3);
    expect(peer.frames.map(describeFrame)).toEqual(['3:a', 'ERR:E_TIMEOUT', '1:next']);
    peer.socket.end();
    expect(await done()).toEqual({ requests: 3, errors: 1, reason: 'eof' });
  });

  // The frame timer used to keep running while the server itself had stopped reading
  // (max-in-flight reached), so a peer that sent its frame in full, promptly, was answered
  // E_TIMEOUT "frame not completed" and cut off.
  it('does not charge frame-timeout for time the server was not reading (max-in-flight back-pressure)', async () => {
    const { handler, calls } = controlledHandler();
    const { peer } = await serve(handler, { maxInFlight: 1, frameTimeoutMs: 150 });
    const b = frame(Op.SLEEP, 'b');
    peer.write(Buffer.concat([frame(Op.SLEEP, 'a'), b.subarray(0, 3)])); // a, and the start of b
    await waitFor(() => calls.length === 1, 'a');
    peer.write(b.subarray(3)); // b is complete within a millisecond; only our back-pressure holds it
    await sleep(300); // twice frame-timeout
    calls[0]!.resolve();
    await waitFor(() => calls.length === 2 || peer.ended, 'b to be read, or the connection to end');
    calls[1]?.resolve();
    await peer.frameCount(2);
    expect(peer.frames.map(describeFrame)).toEqual(['3:a', '3:b']); // before the fix: ['3:a', 'ERR:E_TIMEOUT'], then FIN
  });
});

describe('half-close', () => {
  it('answers every complete request after the peer half-closes, drops a partial one, then closes', async () => {
    const { handler, calls } = controlledHandler({ syncEcho: true });
    const { peer, done } = await serve(handler, { frameTimeoutMs: 100 }, { allowHalfOpen: true });
    peer.send(Op.SLEEP, 'a');
    peer.send(Op.ECHO, 'b');
    peer.send(Op.SLEEP, 'c');
    peer.write(frame(Op.ECHO, 'partial').subarray(0, 8));
    peer.socket.end();
    await waitFor(() => calls.length === 2, 'both slow requests');
    await sleep(250); // past frame-timeout: the dropped partial frame must not time out either
    expect(peer.ended, 'answers are still owed').toBe(false);
    calls[1]!.resolve();
    calls[0]!.resolve();
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['3:a', '1:b', '3:c']);
    expect(await done()).toEqual({ requests: 3, errors: 0, reason: 'eof' });
  });
});

describe('handler results and failures', () => {
  it('answers a ProtocolError (or any error with an E_ code) with its code, anything else with E_INTERNAL, and keeps serving', async () => {
    const handler: Handler = (op, payload) => {
      switch (payload.toString()) {
        case 'protocol':
          throw new ProtocolError('E_BAD_ARGS', 'not like that');
        case 'plain':
          throw new Error('boom');
        case 'duck':
          throw Object.assign(new Error('try later'), { code: 'E_BUSY' });
        case 'string':
          throw 'just a string';
        case 'reject':
          return Promise.reject(new Error('later'));
        case 'reject-protocol':
          return Promise.reject(new ProtocolError('E_UNKNOWN_OP', 'nope'));
        case 'bad-op':
          return { op: 256, payload: Buffer.alloc(0) };
        case 'bad-payload':
          return { op: Op.ECHO, payload: 'text' } as unknown as HandlerResult;
        case 'null':
          return null as unknown as HandlerResult;
        default:
          return { op, payload };
      }
    };
    const { peer, done } = await serve(handler);
    const cases = ['protocol', 'plain', 'duck', 'string', 'reject', 'reject-protocol', 'bad-op', 'bad-payload', 'null', 'ok'];
    for (const c of cases) peer.send(Op.ECHO, c);
    const frames = await peer.frameCount(cases.length);
    const invalid = { code: 'E_INTERNAL', message: 'handler returned something other than {op: 0..255, payload: Uint8Array}' };
    expect(frames.slice(0, -1).map((f) => parseError(f.payload))).toEqual([
      { code: 'E_BAD_ARGS', message: 'not like that' },
      { code: 'E_INTERNAL', message: 'handler failed: boom' },
      { code: 'E_BUSY', message: 'try later' },
      { code: 'E_INTERNAL', message: 'handler failed: just a string' },
      { code: 'E_INTERNAL', message: 'handler failed: later' },
      { code: 'E_UNKNOWN_OP', message: 'nope' },
      invalid,
      invalid,
      invalid,
    ]);
    expect(frames.slice(0, -1).every((f) => f.op === Op.ERROR)).toBe(true);
    expect(describeFrame(frames.at(-1)!)).toBe('1:ok');
    peer.socket.end();
    expect(await done()).toEqual({ requests: 10, errors: 9, reason: 'eof' });
  });

  it('gives the handler the model, connection number, running request count and max-work (built-in handler)', async () => {
    const { peer } = await serve(handle, { maxWork: 50 });
    const work = (n: number, seed: string) => Buffer.concat([u32(n), Buffer.from(seed)]);
    peer.send(Op.INFO);
    peer.send(Op.WORK, work(3, 'seed'));
    peer.send(Op.WORK, work(51, 'seed'));
    peer.send(Op.SLEEP, u32(20));
    peer.send(0x42);
    peer.send(Op.INFO);
    const [info1, ok, tooMuch, slept, unknown, info6] = await peer.frameCount(6);
    const self = { model: 'unit', pid: process.pid, threadId, connection: 42, peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) };
    expect(JSON.parse(text(info1))).toEqual({ ...self, requests: 1 });
    expect(ok!.op).toBe(Op.WORK);
    expect(ok!.payload.equals(workDigest(3, Buffer.from('seed')))).toBe(true);
    expect(parseError(tooMuch!.payload)).toEqual({ code: 'E_BAD_ARGS', message: 'WORK n must be 1..50, got 51' });
    expect(slept).toEqual({ op: Op.SLEEP, payload: Buffer.alloc(0) });
    expect(parseError(unknown!.payload)).toEqual({ code: 'E_UNKNOWN_OP', message: 'unknown op 0x42' });
    expect(JSON.parse(text(info6))).toEqual({ ...self, requests: 6 });
  });
});

describe('what it reports', () => {
  it("adds to shared counters live, and reports each connection's own totals when it closes", async () => {
    const server = await localServer();
    const counters = { requests: 0, errors: 0 };
    const a = serveOn(await server.connect(), handle, {}, counters);
    const b = serveOn(await server.connect(), handle, {}, counters);
    a.peer.send(Op.ECHO, '1');
    a.peer.send(0x42);
    b.peer.send(Op.ECHO, '2');
    await a.peer.frameCount(2);
    await b.peer.frameCount(1);
    expect(counters, 'while both are still open').toEqual({ requests: 3, errors: 1 });
    expect(a.conn.requests).toBe(2);
    a.peer.socket.end();
    b.peer.socket.end();
    expect(await a.done()).toEqual({ requests: 2, errors: 1, reason: 'eof' });
    expect(await b.done()).toEqual({ requests: 1, errors: 0, reason: 'eof' });
  });

  it('reports reset when the peer resets the connection', async () => {
    const { peer, done } = await serve();
    peer.send(Op.ECHO, 'x');
    await peer.frameCount(1);
    peer.socket.resetAndDestroy();
    expect(await done()).toEqual({ requests: 1, errors: 0, reason: 'reset' });
  });

  it('destroy() drops outstanding answers and reports destroyed; a late answer goes nowhere', async () => {
    const { handler, calls } = controlledHandler();
    const { peer, conn, done } = await serve(handler);
    peer.send(Op.SLEEP, 'a');
    await waitFor(() => calls.length === 1, 'the request');
    conn.destroy();
    expect(await done()).toEqual({ requests: 1, errors: 0, reason: 'destroyed' });
    calls[0]!.resolve();
    await peer.untilClosed();
    await sleep(20);
    expect(peer.frames).toEqual([]);
  });

  it('settles done for a socket that was already destroyed when handed over', async () => {
    const server = await localServer();
    const pair = await server.connect();
    pair.server.destroy();
    const { done } = serveOn(pair, handle);
    expect(await done()).toEqual({ requests: 0, errors: 0, reason: 'reset' });
  });
});

describe('drain', () => {
  it('closes a quiet connection after the grace with reason drained, sending no frame', async () => {
    const { peer, conn, done } = await serve();
    peer.send(Op.ECHO, 'before');
    await peer.frameCount(1);
    conn.drain();
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['1:before']);
    expect(await done()).toEqual({ requests: 1, errors: 0, reason: 'drained' });
  });

  it('answers a request that arrives during the grace', async () => {
    const { peer, conn, done } = await serve();
    conn.drain();
    peer.send(Op.ECHO, 'in grace');
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['1:in grace']);
    expect(await done()).toEqual({ requests: 1, errors: 0, reason: 'drained' });
  });

  it('keeps serving while the peer is still sending, and closes once it has been quiet for the grace', async () => {
    const { peer, conn, done } = await serve();
    conn.drain(100);
    // 175 ms in all, never 100 ms quiet (and well inside DRAIN_GRACE_MAX_MS)
    for (let i = 0; i < 7; i++) {
      peer.send(Op.ECHO, `r${i}`);
      await sleep(25);
    }
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(Array.from({ length: 7 }, (_, i) => `1:r${i}`));
    expect(await done()).toEqual({ requests: 7, errors: 0, reason: 'drained' });
  });

  it('answers what is outstanding before it closes', async () => {
    const { handler, calls } = controlledHandler();
    const { peer, conn, done } = await serve(handler);
    peer.send(Op.SLEEP, 'a');
    await waitFor(() => calls.length === 1, 'the request');
    conn.drain();
    await sleep(200);
    expect(peer.ended, 'an answer is still owed').toBe(false);
    calls[0]!.resolve();
    await peer.untilEnded();
    expect(peer.frames.map(describeFrame)).toEqual(['3:a']);
    expect(await done()).toEqual({ requests: 1, errors: 0, reason: 'drained' });
  });

  /** A peer that sends an ECHO every 5 ms until the server closes; returns how many it sent. */
  function keepSending(peer: Peer): () => number {
    let sent = 0;
    const timer = setInterval(() => {
      if (peer.socket.writable && !peer.ended) peer.send(Op.ECHO, String(sent++));
    }, 5);
    onTestFinished(() => clearInterval(timer));
    return () => {
      clearInterval(timer);
      return sent;
    };
  }

  it(`cuts off a peer that keeps sending by DRAIN_GRACE_MAX_MS (${DRAIN_GRACE_MAX_MS} ms): all it read before is answered in order, the rest E_SHUTTING_DOWN, then FIN`, async () => {
    const { peer, conn, done } = await serve();
    const stop = keepSending(peer);
    await peer.frameCount(1);
    const t0 = performance.now();
    conn.drain();
    await peer.untilEnded(DRAIN_GRACE_MAX_MS + DRAIN_REFUSE_MS + 3_000);
    const sent = stop();
    // A peer that ignores E_SHUTTING_DOWN is refused for DRAIN_REFUSE_MS more, then closed.
    expect(performance.now() - t0).toBeLessThan(DRAIN_GRACE_MAX_MS + DRAIN_REFUSE_MS + 2_500);
    const firstRefusal = peer.frames.findIndex((f) => f.op === Op.ERROR);
    const real = firstRefusal < 0 ? peer.frames : peer.frames.slice(0, firstRefusal);
    const answered = real.map(text);
    expect(answered, 'a gap-free prefix of what was sent').toEqual(Array.from({ length: answered.length }, (_, i) => String(i)));
    expect(peer.frames.slice(real.length).map(describeFrame).every((d) => d === 'ERR:E_SHUTTING_DOWN'), 'after the cut-off only refusals').toBe(true);
    expect(peer.frames.length).toBeLessThanOrEqual(sent);
    const summary = await done();
    expect(summary.reason).toBe('drained');
    expect(summary.requests).toBe(answered.length);
  });

  // A peer that keeps sending past the grace is told E_SHUTTING_DOWN (not processed: retry
  // elsewhere) for what it sends from then on, instead of having it discarded unread.
  it('answers requests read after the grace with E_SHUTTING_DOWN', async () => {
    const { peer, conn } = await serve();
    const stop = keepSending(peer);
    await peer.frameCount(1);
    conn.drain();
    await peer.untilEnded(DRAIN_GRACE_MAX_MS + DRAIN_REFUSE_MS + 3_000);
    stop();
    expect(peer.frames.map(describeFrame)).toContain('ERR:E_SHUTTING_DOWN');
  });

  it('a peer that heeds E_SHUTTING_DOWN and closes loses nothing: every request it sent is answered or refused', async () => {
    const { peer, conn, done } = await serve();
    let sent = 0;
    let outstanding = 0;
    let refused = false;
    // Closed loop, as the load generator runs it: one request in flight, the next on each answer.
    const next = () => {
      sent++;
      outstanding++;
      peer.send(Op.ECHO, String(sent));
    };
    peer.onFrame = (f) => {
      outstanding--;
      if (f.op === Op.ERROR) refused = true;
      if (refused) {
        if (outstanding === 0) peer.socket.end();
      } else next();
    };
    next();
    await peer.frameCount(1);
    conn.drain();
    await peer.untilEnded(DRAIN_GRACE_MAX_MS + DRAIN_REFUSE_MS + 3_000);
    expect(refused, 'the busy peer was cut off with E_SHUTTING_DOWN').toBe(true);
    expect(peer.frames.length, 'one answer or refusal per request sent').toBe(sent);
    expect((await done()).reason).toBe('drained');
  });
});
