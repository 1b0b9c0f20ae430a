// offload: sockets stay on the main thread's event loop (as in event-loop); each decoded
// request's handler call runs on one of --threads pool threads. The connection code is
// unchanged: it gets a proxy Handler whose results are promises, so replies still leave in
// request order per connection. CPU-heavy handlers no longer stall the loop; every request pays
// a thread hop each way and a copy of its payload.
//
// The hop is a pair of shared-memory rings per thread (src/shared/ring.ts; messages in
// src/shared/offload-wire.ts), not a piscina task: a bare piscina task alone cost 1.8×
// event-loop's p50 at one connection, the same hop through a ring 1.5× (docs/PERFORMANCE.md).
// So this module does what piscina did for it: starts the threads and proves them ready, picks
// the least busy one for each request (never one the watchdog sees stalled), holds requests
// while every thread has TASKS_PER_THREAD in flight, replaces a thread that dies and fails only
// the requests that were on it.
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import { connectionLimits } from '../shared/config.ts';
import { serveConnection, type Connection } from '../shared/connection.ts';
import { ProtocolError, SwitchboardError, isErrorCode } from '../shared/errors.ts';
import type { Handler, HandlerResult } from '../shared/handler.ts';
import type { OffloadStartup } from '../shared/ipc.ts';
import { RequestMetrics, workerLabel } from '../shared/metrics.ts';
import {
  ANSWER_HEADER,
  decodeErrorBody,
  encodeRequestHead,
  KIND_PING,
  KIND_REQUEST,
  MAX_PEER,
  REQUEST_HEADER,
  STATUS_ERROR,
  STATUS_NOT_RESULT,
  STATUS_OK,
  STATUS_PART,
} from '../shared/offload-wire.ts';
import { Ring, ringBuffer } from '../shared/ring.ts';
import { entryFile } from './entries.ts';
import { ModelBase, type ModelContext } from './model.ts';
import { ThreadWatchdog } from './thread-watchdog.ts';
import { enableWorkerCompileCache, resourceLimits, startupMessage } from './worker-options.ts';

/**
 * Requests one pool thread runs at once. Async handlers (SLEEP, I/O) must not hold a thread
 * while they wait, so each thread takes many; synchronous ones still run one after another
 * on it, and the least-busy choice spreads them over the threads.
 */
export const TASKS_PER_THREAD = 64;
/** Answers larger than this ring carries at once go in parts (offload.worker.ts). */
export const ANSWER_RING_BYTES = 1 << 20;
/** The request ring holds two of the largest request (--max-frame) at least, so one always fits once the thread reads. */
export function requestRingBytes(maxFrame: number): number {
  let n = 1 << 16;
  while (n < 2 * (maxFrame + REQUEST_HEADER + MAX_PEER + 4)) n *= 2;
  return n;
}
/** How long the pool threads may take to load the handler and answer the start-up ping. */
const START_TIMEOUT_MS = 30_000;

/** One request on its way: settled once, by its answer or by its thread's death. */
interface Pending {
  id: number;
  op: number;
  payload: Buffer;
  connection: number;
  requests: number;
  peer: string;
  resolve(r: HandlerResult): void;
  reject(err: Error): void;
  /** An answer arriving in parts (larger than the answer ring carries at once). */
  parts: Buffer[] | null;
  /** The start-up ping (not a request: not counted in #inPool). */
  ping: boolean;
}

interface PoolThread {
  worker: Worker;
  /** Main → thread: requests. */
  out: Ring;
  /** Thread → main: answers. */
  back: Ring;
  inFlight: Map<number, Pending>;
  ready: boolean;
  alive: boolean;
  error: Error | null;
  drain: () => void;
  /** Requests written this turn, the thread not rung yet (#wake). */
  unrung: boolean;
}

export class OffloadModel extends ModelBase {
  readonly #watchdog: ThreadWatchdog;
  readonly #connections = new Set<Connection>();
  readonly #limits;
  /** The connections run on this thread: their metrics are read here (the pool runs only handlers). */
  readonly #metrics = new RequestMetrics(workerLabel(0));
  readonly #threads: PoolThread[] = [];
  readonly #requestRing: number;
  /** Requests no thread could take yet (all at TASKS_PER_THREAD, stalled or starting), oldest first. */
  #waiting: Pending[] = [];
  #lost = 0; // requests whose thread died under them
  #inPool = 0; // requests running or waiting
  #closing = false;
  #nextId = 0;
  #wakeScheduled = false;
  readonly #capacity: number; // threads × TASKS_PER_THREAD
  readonly #head = Buffer.alloc(REQUEST_HEADER + MAX_PEER);

  constructor(ctx: ModelContext) {
    super('offload', ctx, 'thread');
    // Slots for every thread plus replacements started while a dead one is still listed.
    this.#watchdog = new ThreadWatchdog(2 * ctx.options.threads + 4, ctx.options.requestTimeoutMs, ctx.log);
    this.#limits = connectionLimits(ctx.options);
    this.metricsTable.addLocal(this.#metrics);
    this.#capacity = ctx.options.threads * TASKS_PER_THREAD;
    this.#requestRing = requestRingBytes(ctx.options.maxFrame);
  }

  protected async onStart(): Promise<void> {
    enableWorkerCompileCache();
    const startedAt = performance.now();
    const threads = Array.from({ length: this.ctx.options.threads }, () => this.#spawn(false));
    // Ready handshake: one ping per thread proves the handler module loads there and has every
    // thread warm before we listen; its answer times that thread's start-up.
    try {
      await Promise.all(threads.map((t) => this.#ping(t).then(() => this.startup.add(performance.now() - startedAt))));
    } catch (err) {
      this.#closing = true;
      await Promise.all(this.#threads.map((t) => t.worker.terminate()));
      throw new SwitchboardError('ERR_THREAD_START', `offload pool failed to start: ${(err as Error).message}`);
    }
    // A spinning handler gets E_TIMEOUT from its connection (that runs here), but would keep its
    // thread, and the requests queued behind it, forever: the watchdog frees it.
    this.#watchdog.watch(() => this.#threads.map((t) => t.worker));
  }

  /** Starts one pool thread; its answers are read on this loop from the moment it exists. */
  #spawn(replacement: boolean): PoolThread {
    const requests = ringBuffer(this.#requestRing);
    const answers = ringBuffer(ANSWER_RING_BYTES);
    const data: OffloadStartup = { ...startupMessage('offload', this.ctx, this.#watchdog.table), requests, answers, maxWork: this.#limits.maxWork };
    const worker = new Worker(entryFile('offload.worker'), { workerData: data, resourceLimits: resourceLimits(this.ctx) });
    const t: PoolThread = { worker, out: new Ring(requests), back: new Ring(answers), inFlight: new Map(), ready: false, alive: true, error: null, drain: () => this.#drain(t), unrung: false };
    this.#threads.push(t);
    this.lifecycle.starts++;
    if (replacement) this.lifecycle.respawns++;
    worker.on('error', (err) => {
      t.error ??= err as Error;
      if (!this.#closing) this.ctx.log.warn({ err }, 'pool thread failed');
    });
    worker.once('exit', (code) => this.#onExit(t, code));
    // 'ready' is posted once the handler has loaded; from then on the thread reads its ring.
    worker.once('message', () => {
      if (!t.alive) return;
      t.ready = true;
      this.#dispatchWaiting();
    });
    t.drain();
    return t;
  }

  /** The start-up ping through the thread's own rings: answered without calling the handler. */
  #ping(t: PoolThread): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`a thread did not answer its start-up ping in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS).unref();
      const p: Pending = { id: ++this.#nextId, op: 0, payload: Buffer.alloc(0), connection: 0, requests: 0, peer: '', parts: null, ping: true, resolve: () => (clearTimeout(timer), resolve()), reject: (e) => (clearTimeout(timer), reject(e)) };
      t.inFlight.set(p.id, p);
      this.#write(t, p, KIND_PING);
    });
  }

  protected onAccept(socket: Socket, ticket: ConnectionTicket): void {
    const conn = serveConnection(socket, {
      handler: this.#handler,
      model: this.name,
      connection: ticket.id,
      limits: this.#limits,
      counters: this.counters,
      admit: (address) => ticket.admit(address),
      metrics: this.#metrics,
    });
    this.#connections.add(conn);
    void conn.done.then((summary) => {
      this.#connections.delete(conn);
      ticket.closed(summary);
    });
  }

  /** The main-thread Handler: hands the request to the least busy thread; settles with its answer. */
  readonly #handler: Handler = (op, payload, ctx) => {
    // Own count, so --queue 0 means "no waiting".
    if (this.#inPool >= this.#capacity + this.ctx.options.queue) {
      throw new ProtocolError('E_BUSY', `all ${this.ctx.options.threads} handler threads busy and ${this.ctx.options.queue} requests waiting`);
    }
    if (this.#closing) throw new ProtocolError('E_SHUTTING_DOWN', 'server is shutting down; request not processed');
    this.#inPool++;
    return new Promise<HandlerResult>((resolve, reject) => {
      // The payload is a view into the socket's read chunk: the ring write copies it at once.
      const p: Pending = { id: ++this.#nextId, op, payload, connection: ctx.connection, requests: ctx.requests, peer: ctx.peer, resolve, reject, parts: null, ping: false };
      if (this.#waiting.length > 0 || !this.#send(p)) this.#hold(p);
    });
  };

  /** A request no thread can take now waits here with its own copy of the payload (the read chunk is reused). */
  #hold(p: Pending): void {
    p.payload = Buffer.from(p.payload);
    this.#waiting.push(p);
  }

  /** To the least busy ready thread the watchdog does not see stalled; false when none can take it now. */
  #send(p: Pending): boolean {
    const now = performance.now();
    let best: PoolThread | null = null;
    for (const t of this.#threads) {
      if (!t.ready || !t.alive || t.inFlight.size >= TASKS_PER_THREAD || (best && t.inFlight.size >= best.inFlight.size)) continue;
      if (this.#watchdog.stalled(t.worker.threadId, now)) continue;
      best = t;
      if (t.inFlight.size === 0) break;
    }
    if (!best) return false;
    best.inFlight.set(p.id, p);
    if (this.#write(best, p, KIND_REQUEST)) return true;
    best.inFlight.delete(p.id); // its ring is full: the thread is behind; wait for answers
    return false;
  }

  /**
   * Into the thread's ring, without ringing it: the thread is woken once at the end of this turn
   * of the loop for everything the turn decoded (#wake), not once per request. (With piscina the
   * same batching measured 10% less CPU per request at c = 32 than a task per request.)
   */
  #write(t: PoolThread, p: Pending, kind: number): boolean {
    const n = encodeRequestHead(this.#head, p.id, kind, p.op, p.connection, p.requests, p.peer);
    if (!t.out.write(this.#head.subarray(0, n), p.payload, false)) return false;
    t.unrung = true;
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      setImmediate(this.#wake);
    }
    return true;
  }

  /** End of the loop's turn: every thread given requests in it is rung (if it is parked). */
  #wake = (): void => {
    this.#wakeScheduled = false;
    for (const t of this.#threads) {
      if (!t.unrung) continue;
      t.unrung = false;
      t.out.wake();
    }
  };

  /** Answers free room: requests held back go now, oldest first, as far as the threads take them. */
  #dispatchWaiting(): void {
    while (this.#waiting.length > 0 && !this.#closing) {
      if (!this.#send(this.#waiting[0]!)) return;
      this.#waiting.shift();
    }
  }

  /** Reads every answer the thread has written, then parks on its ring until it writes again. */
  #drain(t: PoolThread): void {
    if (!t.alive) return;
    for (let turns = 0; turns < 64; turns++) {
      let m: Buffer | null;
      let any = false;
      while ((m = t.back.read())) {
        any = true;
        this.#onAnswer(t, m);
      }
      if (any && this.#waiting.length > 0) this.#dispatchWaiting();
      const parked = t.back.waitAsync();
      if (parked) {
        void parked.then(t.drain);
        return;
      }
      if (t.back.closed && t.back.used === 0) return;
    }
    setImmediate(t.drain); // a thread writing as fast as we read: let the loop turn
  }

  #onAnswer(t: PoolThread, m: Buffer): void {
    const id = m.readUInt32LE(0);
    const p = t.inFlight.get(id);
    if (!p) return; // failed meanwhile
    const status = m[4]!;
    const body = m.subarray(ANSWER_HEADER);
    if (status === STATUS_PART) {
      (p.parts ??= []).push(body);
      return;
    }
    t.inFlight.delete(id);
    if (!p.ping) this.#inPool--;
    if (status === STATUS_OK) p.resolve({ op: m[5]!, payload: p.parts ? Buffer.concat([...p.parts, body]) : body });
    else if (status === STATUS_NOT_RESULT) p.resolve({ op: -1, payload: Buffer.alloc(0) });
    else if (status === STATUS_ERROR) {
      const { code, message } = decodeErrorBody(body);
      // A handler's protocol code survives the hop; anything else is not a ProtocolError, so the
      // connection answers E_INTERNAL "handler failed: …" exactly as event-loop does.
      p.reject(code !== 'E_INTERNAL' && isErrorCode(code) ? new ProtocolError(code, message) : new SwitchboardError('ERR_HANDLER_FAILED', message));
    }
  }

  /** A thread ended: its requests fail (the others are untouched); unless we are closing, another takes its place. */
  #onExit(t: PoolThread, code: number): void {
    t.alive = false;
    this.lifecycle.exits++;
    const i = this.#threads.indexOf(t);
    if (i >= 0) this.#threads.splice(i, 1);
    t.out.close();
    t.back.close();
    const why = t.error?.message ?? `exited with code ${code}`;
    for (const p of t.inFlight.values()) {
      if (p.ping) {
        p.reject(new Error(`a thread exited before it was ready: ${why}`));
        continue;
      }
      this.#inPool--;
      if (this.#closing) p.reject(new ProtocolError('E_SHUTTING_DOWN', 'server is shutting down; request not processed'));
      else {
        // The thread died under these requests (crash, process.exit, memory limit, the
        // watchdog). Only they fail; the connections live on the main thread.
        this.#lost++;
        p.reject(new ProtocolError('E_INTERNAL', `handler thread died: ${why}`));
      }
    }
    t.inFlight.clear();
    // A thread that dies before it is ready failed to start (the handler does not load there):
    // start-up reports it, and a replacement would only fail the same way.
    if (!this.#closing && t.ready) this.#spawn(true);
    else if (!this.#closing && this.state === 'running') this.ctx.log.error({ err: t.error }, 'a replacement pool thread failed to start; the pool runs one thread short');
  }

  protected async onDrain(): Promise<void> {
    for (const conn of this.#connections) conn.drain();
  }

  protected async onClose(): Promise<void> {
    this.#closing = true;
    this.#watchdog.stop();
    for (const conn of this.#connections) conn.destroy();
    for (const p of this.#waiting.splice(0)) {
      this.#inPool--;
      p.reject(new ProtocolError('E_SHUTTING_DOWN', 'server is shutting down; request not processed'));
    }
    await Promise.all(this.#threads.map((t) => t.worker.terminate()));
  }

  protected workers(): number {
    return this.#threads.filter((t) => t.alive).length;
  }

  protected queued(): number {
    return this.#waiting.length;
  }

  protected lifecycleNow() {
    return { ...this.lifecycle, watchdogKills: this.#watchdog.terminated };
  }

  protected extraStats(): Record<string, unknown> {
    return { threadsAlive: this.workers(), tasksPerThread: TASKS_PER_THREAD, requestsLostWithThread: this.#lost, threadsTerminatedStuck: this.#watchdog.terminated };
  }
}
