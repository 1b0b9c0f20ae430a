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
  KIND_PART,
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
/**
 * The request ring holds two of the largest request (--max-frame), so one always fits once the
 * thread reads, up to MAX_REQUEST_RING_BYTES: a larger request goes in parts (KIND_PART), so a
 * huge --max-frame costs no huge ring per thread.
 */
export const MAX_REQUEST_RING_BYTES = 1 << 24;
export function requestRingBytes(maxFrame: number): number {
  let n = 1 << 16;
  while (n < 2 * (maxFrame + REQUEST_HEADER + MAX_PEER + 4) && n < MAX_REQUEST_RING_BYTES) n *= 2;
  return n;
}
/** Parts of a request sent in parts are at least this large (or the rest), so a nearly full ring is not filled with slivers. */
const MIN_PART_BYTES = 1 << 16;
/** While requests are held, how often they are offered to the threads again (besides every answer). */
const RETRY_MS = 5;
/** Backoff for replacements that die before they are ready. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 10_000;
/** How long the pool threads may take to load the handler and answer the start-up ping. */
const START_TIMEOUT_MS = 30_000;

/** What a request that close() cut off (or that came after it) is answered: not processed. */
const shuttingDown = () => new ProtocolError('E_SHUTTING_DOWN', 'server is shutting down; request not processed');

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
  /** Rings the thread (made once, so #wake allocates nothing per turn). */
  ring: () => void;
  /** Requests written this turn, the thread not rung yet (#wake). */
  unrung: boolean;
  /** Requests too large for the ring at once, being written in parts (#pump), oldest first. */
  streams: { p: Pending; at: number }[];
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
  #retryTimer: NodeJS.Timeout | null = null;
  /** Replacements in a row that died before they were ready (backoff). */
  #failedStarts = 0;
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
    const t: PoolThread = { worker, out: new Ring(requests), back: new Ring(answers), inFlight: new Map(), ready: false, alive: true, error: null, drain: () => this.#drain(t), ring: () => t.out.wake(), unrung: false, streams: [] };
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
      const p: Pending = { id: this.#id(), op: 0, payload: Buffer.alloc(0), connection: 0, requests: 0, peer: '', parts: null, ping: true, resolve: () => (clearTimeout(timer), resolve()), reject: (e) => (clearTimeout(timer), reject(e)) };
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
    if (this.#closing) throw shuttingDown();
    this.#inPool++;
    return new Promise<HandlerResult>((resolve, reject) => {
      // The payload is a view into the socket's read chunk: the ring write copies it at once.
      const p: Pending = { id: this.#id(), op, payload, connection: ctx.connection, requests: ctx.requests, peer: ctx.peer, resolve, reject, parts: null, ping: false };
      if (this.#waiting.length > 0) this.#dispatchWaiting();
      if (this.#waiting.length > 0 || !this.#send(p)) this.#hold(p);
    });
  };

  /** The wire carries ids as u32: they wrap, and repeat only after 2^32 requests, never among the ≤ 64 in flight on a thread. */
  #id(): number {
    this.#nextId = (this.#nextId + 1) >>> 0;
    return this.#nextId;
  }

  /** A request no thread can take now waits here with its own copy of the payload (the read chunk is reused). */
  #hold(p: Pending): void {
    p.payload = Buffer.from(p.payload);
    this.#waiting.push(p);
    this.#armRetry();
  }

  /**
   * Held requests go on as answers free room; but room can also come with no answer (a thread
   * that read a full ring and now waits on slow async handlers; one the watchdog saw stalled that
   * runs again), so while any are held they are also retried every RETRY_MS.
   */
  #armRetry(): void {
    if (this.#retryTimer || this.#closing || (this.#waiting.length === 0 && !this.#threads.some((t) => t.streams.length > 0))) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#dispatchWaiting();
      this.#armRetry();
    }, RETRY_MS).unref();
  }

  /** To the least busy ready thread the watchdog does not see stalled; false when none can take it now. */
  #send(p: Pending): boolean {
    const now = performance.now();
    // Least busy first; a thread whose ring is full (it is behind) is passed over for the next.
    let full: PoolThread[] | null = null;
    for (;;) {
      let best: PoolThread | null = null;
      for (const t of this.#threads) {
        if (!t.ready || !t.alive || t.inFlight.size >= TASKS_PER_THREAD || (best && t.inFlight.size >= best.inFlight.size)) continue;
        if (full?.includes(t) || this.#watchdog.stalled(t.worker.threadId, now)) continue;
        best = t;
        if (t.inFlight.size === 0) break;
      }
      if (!best) return false;
      best.inFlight.set(p.id, p);
      if (REQUEST_HEADER + MAX_PEER + p.payload.length > best.out.maxMessage) {
        // Too large for the ring at once: in parts, as room comes (#pump), from a copy we own.
        p.payload = Buffer.from(p.payload);
        best.streams.push({ p, at: 0 });
        this.#pump(best);
        return true;
      }
      if (this.#write(best, p, KIND_REQUEST)) return true;
      best.inFlight.delete(p.id);
      (full ??= []).push(best);
    }
  }

  /**
   * Into the thread's ring, without ringing it: the thread is woken once at the end of this turn
   * of the loop for everything the turn decoded (#wake), not once per request. (With piscina the
   * same batching measured 10% less CPU per request at c = 32 than a task per request.)
   */
  #write(t: PoolThread, p: Pending, kind: number, payload: Buffer = p.payload): boolean {
    const n = encodeRequestHead(this.#head, p.id, kind, p.op, p.connection, p.requests, p.peer);
    if (!t.out.write(this.#head.subarray(0, n), payload, false)) return false;
    t.unrung = true;
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      setImmediate(this.#wake);
    }
    return true;
  }

  /**
   * End of the loop's turn: every thread given requests in it is rung (if it is parked), with its
   * answer ring told we are awake (Ring.awake): a thread that answered inside the notify (one
   * CPU for both of us: it runs at once and parks again) is read here, in this turn, without
   * ringing us back. Measured at c = 1 on one server CPU: that ring-back was a third of the main
   * thread's sleeps per request, on V8's futex and platform-task mutexes the pool thread held.
   */
  #wake = (): void => {
    this.#wakeScheduled = false;
    for (const t of this.#threads) {
      if (!t.unrung) continue;
      t.unrung = false;
      if (t.back.awake(t.ring)) this.#readAnswers(t);
    }
  };

  /** Writes as many parts of the thread's requests in parts as its ring has room for, in order. */
  #pump(t: PoolThread): void {
    while (t.streams.length > 0 && t.alive) {
      const s = t.streams[0]!;
      if (!t.inFlight.has(s.p.id)) {
        t.streams.shift(); // failed meanwhile
        continue;
      }
      const room = t.out.free - REQUEST_HEADER - MAX_PEER;
      const left = s.p.payload.length - s.at;
      if (room < Math.min(left, MIN_PART_BYTES)) break;
      const n = Math.min(left, room);
      const last = n === left;
      if (!this.#write(t, s.p, last ? KIND_REQUEST : KIND_PART, s.p.payload.subarray(s.at, s.at + n))) break;
      s.at += n;
      if (last) t.streams.shift();
    }
    if (t.streams.length > 0) this.#armRetry();
  }

  /** Answers free room: requests held back go now, oldest first, as far as the threads take them. */
  #dispatchWaiting(): void {
    for (const t of this.#threads) if (t.streams.length > 0) this.#pump(t);
    while (this.#waiting.length > 0 && !this.#closing) {
      if (!this.#send(this.#waiting[0]!)) return;
      this.#waiting.shift();
    }
  }

  /** Reads every answer the thread has written, then parks on its ring until it writes again. */
  #drain(t: PoolThread): void {
    if (!t.alive) return;
    for (let turns = 0; turns < 64; turns++) {
      this.#readAnswers(t);
      const parked = t.back.waitAsync();
      if (parked) {
        void parked.then(t.drain);
        return;
      }
      if (t.back.closed && t.back.used === 0) return;
    }
    setImmediate(t.drain); // a thread writing as fast as we read: let the loop turn
  }

  /** Every answer the thread has written so far; the room they free goes to requests held back. */
  #readAnswers(t: PoolThread): void {
    let m: Buffer | null;
    let any = false;
    while ((m = t.back.read())) {
      any = true;
      this.#onAnswer(t, m);
    }
    if (any) this.#dispatchWaiting();
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
    if (status === STATUS_OK) {
      if (p.parts) p.parts.push(body);
      p.resolve({ op: m[5]!, payload: p.parts ? Buffer.concat(p.parts) : body });
    } else if (status === STATUS_NOT_RESULT) p.resolve({ op: -1, payload: Buffer.alloc(0) });
    else if (status === STATUS_ERROR) {
      const { code, message } = decodeErrorBody(body);
      // A handler's protocol code survives the hop; anything else is not a ProtocolError, so the
      // connection answers E_INTERNAL "handler failed: …" exactly as event-loop does.
      p.reject(code !== 'E_INTERNAL' && isErrorCode(code) ? new ProtocolError(code, message) : new SwitchboardError('ERR_HANDLER_FAILED', message));
    }
  }

  /** A thread ended: its requests fail (the others are untouched); unless we are closing, another takes its place. */
  #onExit(t: PoolThread, code: number): void {
    // Answers it wrote before it ended (unrung, or not read yet) still count.
    let m: Buffer | null;
    while ((m = t.back.read())) this.#onAnswer(t, m);
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
      if (this.#closing) p.reject(shuttingDown());
      else {
        // The thread died under these requests (crash, process.exit, memory limit, the
        // watchdog). Only they fail; the connections live on the main thread.
        this.#lost++;
        p.reject(new ProtocolError('E_INTERNAL', `handler thread died: ${why}`));
      }
    }
    t.inFlight.clear();
    if (this.#closing) return;
    if (t.ready) {
      this.#failedStarts = 0;
      this.#respawn();
      return;
    }
    if (this.state === 'starting') return; // start-up itself reports a thread that cannot start
    // A replacement that died before it was ready (the handler no longer loads, memory): try
    // again, later each time, so a pool that cannot start threads does not spin.
    const delayMs = Math.min(RESPAWN_MAX_MS, RESPAWN_MIN_MS * 2 ** this.#failedStarts++);
    this.ctx.log.error({ err: t.error, retryInMs: delayMs }, 'a replacement pool thread failed to start; trying again');
    setTimeout(() => this.#respawn(), delayMs).unref();
  }

  #respawn(): void {
    if (this.#closing) return;
    try {
      this.#spawn(true);
    } catch (err) {
      this.ctx.log.error({ err }, 'could not start a replacement pool thread; trying again');
      setTimeout(() => this.#respawn(), RESPAWN_MAX_MS).unref();
    }
  }

  protected async onDrain(): Promise<void> {
    for (const conn of this.#connections) conn.drain();
  }

  protected async onClose(): Promise<void> {
    this.#closing = true;
    this.#watchdog.stop();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    for (const conn of this.#connections) conn.destroy();
    for (const p of this.#waiting.splice(0)) {
      this.#inPool--;
      p.reject(shuttingDown());
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
