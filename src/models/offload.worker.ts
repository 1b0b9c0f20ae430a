// Entry of an `offload` pool thread: reads requests from its request ring, runs the real handler
// for each, and writes each answer to its answer ring as soon as it settles (an answer that is
// ready never waits for a slower one). With nothing in flight the thread parks in Atomics.wait
// (as a piscina thread does between tasks); while async handlers run (SLEEP, I/O) it waits with
// Atomics.waitAsync instead, so their timers and sockets keep turning on its event loop. Errors
// cross back as data with their protocol code. Imports only shared code.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { errorCodeOf } from '../shared/errors.ts';
import { isHandlerResult, loadHandler, type HandlerResult } from '../shared/handler.ts';
import { startHeartbeat } from '../shared/heartbeat.ts';
import type { OffloadStartup } from '../shared/ipc.ts';
import { ANSWER_HEADER, decodeRequest, encodeAnswerHead, encodeErrorBody, KIND_PART, KIND_PING, STATUS_ERROR, STATUS_NOT_RESULT, STATUS_OK, STATUS_PART } from '../shared/offload-wire.ts';
import { Ring } from '../shared/ring.ts';

const startup = workerData as OffloadStartup;
const handler = await loadHandler(startup.handlerUrl);
const pid = process.pid;
// Watched only while a handler runs: a parked thread stops beating, and owes nothing.
const heartbeat = startHeartbeat(startup.heartbeat, threadId);
const inbox = new Ring(startup.requests);
const outbox = new Ring(startup.answers);
const head = Buffer.alloc(ANSWER_HEADER);
const EMPTY = Buffer.alloc(0);
const nap = new Int32Array(new SharedArrayBuffer(4));
let inFlight = 0;

/**
 * While the thread runs what it has just read, its answers are written without ringing the main
 * loop, which is rung once after the last (one wake-up for the lot); an answer that settles later
 * rings at once.
 */
let batching = false;
/** …but an answer waits for the ones after it at most this long (ms) before the main loop is rung. */
const BATCH_WAKE_MS = 1;

/** One message into the answer ring; a full ring means the main loop has not read yet: ring it and wait. */
function put(h: Buffer, body: Uint8Array): void {
  while (!outbox.write(h, body, !batching)) {
    if (outbox.closed) return; // closing: nobody reads any more
    outbox.wake();
    Atomics.wait(nap, 0, 0, 0.05);
  }
}

function answer(id: number, result: unknown): void {
  // Not a result: the connection's own check (the same isHandlerResult) answers it on the main thread.
  if (!isHandlerResult(result)) return put(encodeAnswerHead(head, id, STATUS_NOT_RESULT, 0), EMPTY);
  const { op, payload: out } = result;
  // An answer larger than the ring carries at once goes in parts, reassembled on the main thread.
  const most = outbox.maxMessage - ANSWER_HEADER;
  let at = 0;
  while (out.byteLength - at > most) {
    put(encodeAnswerHead(head, id, STATUS_PART, op), out.subarray(at, at + most));
    at += most;
  }
  put(encodeAnswerHead(head, id, STATUS_OK, op), at === 0 ? out : out.subarray(at));
}

function fail(id: number, err: unknown): void {
  const code = errorCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  // Cut to what one message carries (a 4-byte UTF-8 character per char at worst).
  const most = Math.floor((outbox.maxMessage - ANSWER_HEADER - 2 - code.length) / 4);
  put(encodeAnswerHead(head, id, STATUS_ERROR, 0), encodeErrorBody(code, message.length > most ? message.slice(0, most) : message));
}

/** A settled handler's answer; a failure to encode it is that request's error, not the thread's. */
function reply(id: number, v: unknown): void {
  try {
    answer(id, v);
  } catch (err) {
    fail(id, err);
  }
}

function settled(): void {
  inFlight--;
  heartbeat.busy(-1);
}

/** Requests arriving in parts (larger than the request ring carries at once): their chunks so far, by id. */
const parts = new Map<number, Buffer[]>();

function run(m: Buffer): void {
  const r = decodeRequest(m);
  if (r.kind === KIND_PING) return put(encodeAnswerHead(head, r.id, STATUS_OK, 0), EMPTY);
  if (r.kind === KIND_PART) {
    const got = parts.get(r.id);
    if (got) got.push(r.payload);
    else parts.set(r.id, [r.payload]);
    return;
  }
  const earlier = parts.get(r.id);
  if (earlier) {
    parts.delete(r.id);
    earlier.push(r.payload);
    r.payload = Buffer.concat(earlier);
  }
  inFlight++;
  heartbeat.busy(1);
  heartbeat.beat(); // requests back to back never turn the loop, whose timer beats otherwise
  let result: HandlerResult | Promise<HandlerResult>;
  try {
    result = handler(r.op, r.payload, { model: startup.model, pid, threadId, connection: r.connection, requests: r.requests, maxWork: startup.maxWork, peer: r.peer });
  } catch (err) {
    settled();
    return fail(r.id, err);
  }
  if (result && typeof (result as Promise<HandlerResult>).then === 'function') {
    (result as Promise<HandlerResult>).then(
      (v) => {
        settled();
        reply(r.id, v);
      },
      (err) => {
        settled();
        fail(r.id, err);
      },
    );
  } else {
    settled();
    reply(r.id, result as HandlerResult);
  }
}

// A pending waitAsync does not keep a thread alive; a port with a listener does.
parentPort!.on('message', () => {});
parentPort!.postMessage('ready');
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
// The loop mixes inbox.wait() and inbox.waitAsync(), which ring.ts warns against: safe here because
// an armed waitAsync is always awaited (and so has settled and unparked) before wait() can run.
for (;;) {
  let m: Buffer | null;
  batching = true;
  let since = performance.now();
  while ((m = inbox.read())) {
    run(m);
    // Slow synchronous handlers: what is answered goes out at least every BATCH_WAKE_MS.
    const now = performance.now();
    if (now - since > BATCH_WAKE_MS) {
      outbox.wake();
      since = now;
    }
  }
  batching = false;
  outbox.wake();
  // Handlers that finish in microtasks (an async function with nothing to wait for) land here.
  if (inFlight > 0) await nextTurn();
  if (inbox.closed && inbox.used === 0) break;
  if (inFlight === 0) {
    if (inbox.used === 0 && inbox.wait() === 'closed') break;
  } else {
    await (inbox.waitAsync() ?? nextTurn());
  }
}
process.exit(0);
