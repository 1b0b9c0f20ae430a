// Entry of an `offload` (piscina) worker: runs the real handler for every request of a batch
// (OffloadBatch: what one turn of the main thread's loop decoded). All of a batch's requests
// start at once, so async handlers overlap as they would on the event loop; synchronous ones run
// one after another. Answers return packed into one moved buffer. Whatever is ready after one
// turn of this thread's loop while some request still waits goes ahead on the early channel, so
// a fast answer never waits for a slow request of the same batch. Errors cross back as data with
// their protocol code (a thrown Error would lose `code` in the structured clone).
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { errorCodeOf } from '../shared/errors.ts';
import { loadHandler, type HandlerResult } from '../shared/handler.ts';
import { startHeartbeat } from '../shared/heartbeat.ts';
import type { OffloadAnswers, OffloadBatch, OffloadEarly, OffloadResult, OffloadStartup } from '../shared/ipc.ts';

const startup = workerData as OffloadStartup;
const handler = await loadHandler(startup.handlerUrl);
const pid = process.pid;
// Watched only while a handler runs: an idle pool thread parks in Atomics.wait and stops beating.
const heartbeat = startHeartbeat(startup.heartbeat, threadId);
// Posted to only when a batch has a slow request. unref: it must not keep a closing thread alive.
let early: BroadcastChannel | null = null;

const NOT_A_RESULT = { op: -1, payload: new Uint8Array(0) };
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An answer before packing: a success still holds the handler's own payload. */
type Answer = OffloadResult | { ok: true; op: number; payload: Uint8Array };

/** Answers (and their payloads, packed) collected until they are sent. */
class Outbox {
  indices: number[] = [];
  results: Answer[] = [];
  add(i: number, r: Answer): void {
    this.indices.push(i);
    this.results.push(r);
  }
  /** One buffer for every payload: the message moves it instead of cloning a view's backing store per answer. */
  take(): { answers: OffloadAnswers; transfer: ArrayBuffer } {
    let total = 0;
    for (const r of this.results) if (r.ok && 'payload' in r) total += r.payload.byteLength;
    const bytes = new Uint8Array(total);
    let at = 0;
    const results = this.results.map((r): OffloadResult => {
      if (!r.ok || !('payload' in r)) return r;
      bytes.set(r.payload, at);
      const out = { ok: true as const, op: r.op, start: at, end: at + r.payload.byteLength };
      at = out.end;
      return out;
    });
    const answers = { indices: this.indices, results, bytes };
    this.indices = [];
    this.results = [];
    return { answers, transfer: bytes.buffer };
  }
}

function answerOf(result: HandlerResult | undefined): { ok: true; op: number; payload: Uint8Array } {
  const out = result?.payload;
  // Not a result: the connection's own check answers E_INTERNAL with its usual message.
  if (!(out instanceof Uint8Array) || !Number.isInteger(result!.op)) return { ok: true, ...NOT_A_RESULT };
  return { ok: true, op: result!.op, payload: out };
}

function failureOf(err: unknown): OffloadResult {
  return { ok: false, code: errorCodeOf(err), message: err instanceof Error ? err.message : String(err) };
}

export default async function run(b: OffloadBatch): Promise<unknown> {
  const out = new Outbox();
  let pending = b.ops.length;
  let allDone: (() => void) | null = null;
  let sendingEarly = false;
  let flushScheduled = false;
  const flushEarly = () => {
    flushScheduled = false;
    if (out.indices.length === 0 || pending === 0) return; // the task's reply takes them
    const { answers } = out.take();
    early ??= new BroadcastChannel(startup.earlyChannel).unref();
    early.postMessage({ batch: b.batch, ...answers } satisfies OffloadEarly); // cloned: a BroadcastChannel moves nothing
  };
  const settle = (i: number, r: Answer) => {
    heartbeat.busy(-1);
    out.add(i, r);
    if (--pending === 0) allDone?.();
    else if (sendingEarly && !flushScheduled) {
      flushScheduled = true;
      setImmediate(flushEarly);
    }
  };
  let start = 0;
  for (let i = 0; i < b.ops.length; i++) {
    const op = b.ops[i]!;
    const end = b.ends[i]!;
    heartbeat.busy(1);
    if (op < 0) {
      settle(i, { ok: true, ...NOT_A_RESULT }); // start-up ping
      start = end;
      continue;
    }
    const payload = Buffer.from(b.bytes.buffer, b.bytes.byteOffset + start, end - start);
    start = end;
    const { connection, requests, peer } = b.ctx[i]!;
    try {
      const result = handler(op, payload, { model: b.model, pid, threadId, connection, requests, maxWork: b.maxWork, peer });
      if (result && typeof (result as Promise<HandlerResult>).then === 'function') {
        (result as Promise<HandlerResult>).then(
          (r) => settle(i, answerOf(r)),
          (err) => settle(i, failureOf(err)),
        );
      } else settle(i, answerOf(result as HandlerResult));
    } catch (err) {
      settle(i, failureOf(err));
    }
  }
  // Handlers that finish in microtasks (an async function with nothing to wait for) land here.
  if (pending > 0) await nextTurn();
  if (pending > 0) {
    // Something waits on I/O or a timer: what is ready goes now, the rest as it settles.
    sendingEarly = true;
    flushEarly();
    await new Promise<void>((resolve) => (allDone = resolve));
  }
  const { answers, transfer } = out.take();
  return move({ [transferableSymbol]: transfer, [valueSymbol]: answers } as never);
}
