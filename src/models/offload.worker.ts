// Entry of an `offload` pool thread: reads requests from its request ring, runs the real handler
// for each, and writes each answer to its answer ring as soon as it settles (an answer that is
// ready never waits for a slower one). With nothing in flight the thread parks in Atomics.wait
// (as a piscina thread does between tasks); while async handlers run (SLEEP, I/O) it waits with
// Atomics.waitAsync instead, so their timers and sockets keep turning on its event loop. Errors
// cross back as data with their protocol code. Imports only shared code.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { errorCodeOf } from '../shared/errors.ts';
import { loadHandler, type HandlerResult } from '../shared/handler.ts';
import { startHeartbeat } from '../shared/heartbeat.ts';
import type { OffloadStartup } from '../shared/ipc.ts';
import { ANSWER_HEADER, decodeRequest, encodeAnswerHead, encodeErrorBody, KIND_PING, STATUS_ERROR, STATUS_NOT_RESULT, STATUS_OK, STATUS_PART } from '../shared/offload-wire.ts';
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

/** One message into the answer ring; a full ring means the main loop has not read yet: ring it and wait. */
function put(h: Buffer, body: Uint8Array): void {
  while (!outbox.write(h, body, !batching)) {
    if (outbox.closed) return; // closing: nobody reads any more
    outbox.wake();
    Atomics.wait(nap, 0, 0, 0.05);
  }
}

function answer(id: number, result: HandlerResult | undefined): void {
  const out = result?.payload;
  if (!(out instanceof Uint8Array) || !Number.isInteger(result!.op) || result!.op < 0 || result!.op > 0xff) {
    return put(encodeAnswerHead(head, id, STATUS_NOT_RESULT, 0), EMPTY);
  }
  // An answer larger than the ring carries at once goes in parts, reassembled on the main thread.
  const most = outbox.maxMessage - ANSWER_HEADER;
  let at = 0;
  while (out.byteLength - at > most) {
    put(encodeAnswerHead(head, id, STATUS_PART, result!.op), out.subarray(at, at + most));
    at += most;
  }
  put(encodeAnswerHead(head, id, STATUS_OK, result!.op), at === 0 ? out : out.subarray(at));
}

function fail(id: number, err: unknown): void {
  put(encodeAnswerHead(head, id, STATUS_ERROR, 0), encodeErrorBody(errorCodeOf(err), err instanceof Error ? err.message : String(err)));
}

function settled(): void {
  inFlight--;
  heartbeat.busy(-1);
}

function run(m: Buffer): void {
  const r = decodeRequest(m);
  if (r.kind === KIND_PING) return put(encodeAnswerHead(head, r.id, STATUS_OK, 0), EMPTY);
  inFlight++;
  heartbeat.busy(1);
  try {
    const result = handler(r.op, r.payload, { model: startup.model, pid, threadId, connection: r.connection, requests: r.requests, maxWork: startup.maxWork, peer: r.peer });
    if (result && typeof (result as Promise<HandlerResult>).then === 'function') {
      (result as Promise<HandlerResult>).then(
        (v) => {
          settled();
          answer(r.id, v);
        },
        (err) => {
          settled();
          fail(r.id, err);
        },
      );
    } else {
      settled();
      answer(r.id, result as HandlerResult);
    }
  } catch (err) {
    settled();
    fail(r.id, err);
  }
}

// A pending waitAsync does not keep a thread alive; a port with a listener does.
parentPort!.on('message', () => {});
parentPort!.postMessage('ready');
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
for (;;) {
  let m: Buffer | null;
  batching = true;
  while ((m = inbox.read())) run(m);
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
