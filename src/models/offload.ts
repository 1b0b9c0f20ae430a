// offload: sockets stay on the main thread's event loop (as in event-loop); each decoded
// request's handler call runs on one of --threads piscina worker threads. The connection code
// is unchanged: it gets a proxy Handler whose results are promises, so replies still leave in
// request order per connection. CPU-heavy handlers no longer stall the loop; every request pays
// two thread hops and a copy of its payload. The hops are batched: what one turn of this loop
// decodes, from every connection, goes to the pool as one task per thread (OffloadBatch), since a
// task costs several times what an echo request does (docs/PERFORMANCE.md).
import { BroadcastChannel } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { Piscina } from 'piscina';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import { connectionLimits } from '../shared/config.ts';
import { serveConnection, type Connection } from '../shared/connection.ts';
import { ProtocolError, SwitchboardError, isErrorCode } from '../shared/errors.ts';
import type { Handler, HandlerResult } from '../shared/handler.ts';
import type { OffloadAnswers, OffloadBatch, OffloadEarly, OffloadResult, OffloadStartup } from '../shared/ipc.ts';
import { entryFile } from './entries.ts';
import { ModelBase, type ModelContext } from './model.ts';
import { ThreadWatchdog } from './thread-watchdog.ts';
import { resourceLimits, startupMessage, enableWorkerCompileCache, trackPoolThreads } from './worker-options.ts';
import { RequestMetrics, workerLabel } from '../shared/metrics.ts';

/**
 * Requests one pool thread runs at once. Async handlers (SLEEP, I/O) must not hold a thread
 * while they wait, so each thread takes many; synchronous ones still run one after another
 * on it, and piscina's least-busy balancer spreads them over the threads.
 */
export const TASKS_PER_THREAD = 64;

/** One request on its way: settled once, by an early answer, the batch's reply or its failure. */
interface Pending {
  op: number;
  payload: Buffer;
  connection: number;
  requests: number;
  peer: string;
  resolve(r: HandlerResult): void;
  reject(err: Error): void;
  settled: boolean;
}

let pools = 0; // names each pool's early channel apart (a process can run several servers)

export class OffloadModel extends ModelBase {
  #pool!: Piscina;
  readonly #watchdog: ThreadWatchdog;
  readonly #connections = new Set<Connection>();
  readonly #limits;
  /** The connections run on this thread: their metrics are read here (the pool runs only handlers). */
  readonly #metrics = new RequestMetrics(workerLabel(0));
  #lost = 0; // requests whose thread died under them
  #inPool = 0; // requests running or waiting in piscina
  #closing = false; // close() has begun: a failed task from here on was cut by the pool's destroy()
  readonly #capacity: number; // threads × TASKS_PER_THREAD
  /** Requests decoded in this turn of the loop, sent together at its end (setImmediate). */
  #batch: Pending[] = [];
  /**
   * Batches sent and not answered in full, by batch id. An entry outlives the task's reply while
   * an early answer is still on its way: the early channel and piscina's port are two message
   * queues, and the reply can overtake what was posted before it.
   */
  readonly #inFlight = new Map<number, { requests: Pending[]; left: number }>();
  #batches = 0;
  readonly #earlyName = `switchboard-offload-early:${process.pid}:${++pools}`;
  #early: BroadcastChannel | null = null;

  constructor(ctx: ModelContext) {
    super('offload', ctx, 'thread');
    // Slots for every thread plus replacements started while a dead one is still listed.
    this.#watchdog = new ThreadWatchdog(2 * ctx.options.threads + 4, ctx.options.requestTimeoutMs, ctx.log);
    this.#limits = connectionLimits(ctx.options);
    this.metricsTable.addLocal(this.#metrics);
    this.#capacity = ctx.options.threads * TASKS_PER_THREAD;
  }

  protected async onStart(): Promise<void> {
    enableWorkerCompileCache();
    const { threads } = this.ctx.options;
    this.#pool = new Piscina({
      filename: entryFile('offload.worker'),
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      loadBalancer: this.#watchdog.balancer(TASKS_PER_THREAD),
      // Our own count (#handler) is the only bound, checked before a task is submitted: piscina 5
      // rejects a full queue with plain Errors that differ only in their text (dist/errors.js,
      // neither exported nor coded), so we never let it be the one to say no. Its queue holds at
      // most --queue requests while every thread takes work, and never more than
      // threads × TASKS_PER_THREAD + --queue (threads stalled or being replaced).
      maxQueue: Infinity,
      idleTimeout: Infinity,
      resourceLimits: resourceLimits(this.ctx),
      workerData: { ...startupMessage('offload', this.ctx, this.#watchdog.table), earlyChannel: this.#earlyName } satisfies OffloadStartup,
    });
    this.#early = new BroadcastChannel(this.#earlyName);
    this.#early.onmessage = (e) => this.#onEarly((e as MessageEvent).data as OffloadEarly);
    this.#pool.on('error', (err) => this.ctx.log.warn({ err }, 'pool thread failed'));
    trackPoolThreads(this.#pool, this.lifecycle, () => this.#closing);
    // Ready handshake: one ping per thread (op −1, never passed to the handler) proves the
    // handler module loads there and has every thread warm before we listen. Its answer times
    // that thread's start-up (the threads start together); replacements are not timed.
    try {
      const startedAt = performance.now();
      const ping = async () => {
        await this.#pool.run(probe());
        this.startup.add(performance.now() - startedAt);
      };
      await Promise.all(Array.from({ length: threads }, ping));
    } catch (err) {
      await this.#pool.destroy();
      throw new SwitchboardError('ERR_THREAD_START', `offload pool failed to start: ${(err as Error).message}`);
    }
    // A spinning handler gets E_TIMEOUT from its connection (that runs here), but would keep its
    // pool thread, and the requests queued behind it, forever: the watchdog frees it.
    this.#watchdog.watch(() => this.#pool.threads);
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

  /** The main-thread Handler: queues the request for this turn's batch; settles with its answer. */
  readonly #handler: Handler = (op, payload, ctx) => {
    // Own count, so --queue 0 means "no waiting" and piscina never refuses a task (see onStart).
    if (this.#inPool >= this.#capacity + this.ctx.options.queue) {
      throw new ProtocolError('E_BUSY', `all ${this.ctx.options.threads} handler threads busy and ${this.ctx.options.queue} requests waiting`);
    }
    this.#inPool++;
    return new Promise<HandlerResult>((resolve, reject) => {
      // The payload is a view into the socket's read chunk: #send copies it into the batch's buffer.
      const request: Pending = { op, payload, connection: ctx.connection, requests: ctx.requests, peer: ctx.peer, resolve, reject, settled: false };
      // Always at the end of the turn, even with the pool idle: sending a lone request at once
      // when nothing is in flight measured 10% more CPU per request at c=32 (bench-ci held
      // design, p=4e-5; a third of the batches were then single requests). The wait is the rest
      // of this turn: setImmediate runs right after the poll phase that decoded the request.
      if (this.#batch.length === 0) setImmediate(this.#flush);
      this.#batch.push(request);
    });
  };

  /** End of the loop's turn: the batch, split into one task per pool thread (CPU-bound requests spread). */
  #flush = (): void => {
    const all = this.#batch;
    this.#batch = [];
    if (all.length === 0) return;
    const parts = Math.min(all.length, this.ctx.options.threads);
    const size = Math.ceil(all.length / parts);
    for (let from = 0; from < all.length; from += size) this.#send(all.slice(from, from + size));
  };

  #send(requests: Pending[]): void {
    const id = ++this.#batches;
    const ops: number[] = [];
    const ends: number[] = [];
    const ctx: OffloadBatch['ctx'] = [];
    let total = 0;
    for (const r of requests) {
      ops.push(r.op);
      ends.push((total += r.payload.byteLength));
      ctx.push({ connection: r.connection, requests: r.requests, peer: r.peer });
    }
    // An exact-size buffer we own, moved to the worker: one copy of each payload, no clone.
    const bytes = new Uint8Array(total);
    for (let i = 0; i < requests.length; i++) bytes.set(requests[i]!.payload, i === 0 ? 0 : ends[i - 1]!);
    const task: OffloadBatch = { batch: id, model: this.name, maxWork: this.#limits.maxWork, ops, ends, bytes, ctx };
    this.#inFlight.set(id, { requests, left: requests.length });
    this.#pool.run(task, { transferList: [bytes.buffer] as never }).then(
      (answers: OffloadAnswers) => this.#answer(id, answers),
      (err: Error) => {
        this.#inFlight.delete(id);
        this.#fail(requests, err);
      },
    );
  }

  #onEarly = (msg: OffloadEarly): void => this.#answer(msg.batch, msg);

  #answer(id: number, a: OffloadAnswers): void {
    const batch = this.#inFlight.get(id);
    if (!batch) return; // failed meanwhile: its requests are settled
    for (let k = 0; k < a.indices.length; k++) {
      const r = batch.requests[a.indices[k]!]!;
      if (r.settled) continue;
      r.settled = true;
      this.#inPool--;
      if (--batch.left === 0) this.#inFlight.delete(id);
      const result = a.results[k]!;
      try {
        r.resolve(fromResult(result, a.bytes));
      } catch (err) {
        r.reject(err as Error);
      }
    }
  }

  /** The task failed: every request of it not yet answered fails, the others are untouched. */
  #fail(requests: Pending[], err: Error): void {
    for (const r of requests) {
      if (r.settled) continue;
      r.settled = true;
      this.#inPool--;
      // Told apart by our own state, not piscina's message text: piscina never refuses a task for
      // its queue (maxQueue Infinity, see onStart), so a task fails either because close() destroyed
      // the pool under it or because its thread died.
      if (this.#closing) r.reject(new ProtocolError('E_SHUTTING_DOWN', 'server is shutting down; request not processed'));
      else {
        // The thread died under this batch (crash, process.exit, memory limit, the watchdog). Only
        // its requests fail; the connections live on the main thread and piscina replaces the thread.
        this.#lost++;
        r.reject(new ProtocolError('E_INTERNAL', `handler thread died: ${err.message}`));
      }
    }
  }

  protected async onDrain(): Promise<void> {
    for (const conn of this.#connections) conn.drain();
  }

  protected async onClose(): Promise<void> {
    this.#closing = true;
    this.#watchdog.stop();
    for (const conn of this.#connections) conn.destroy();
    await this.#pool?.destroy();
    this.#early?.close();
  }

  protected workers(): number {
    return this.#pool?.threads.length ?? 0;
  }

  protected queued(): number {
    return Math.max(0, this.#inPool - this.#capacity);
  }

  protected lifecycleNow() {
    return { ...this.lifecycle, watchdogKills: this.#watchdog.terminated };
  }

  protected extraStats(): Record<string, unknown> {
    return { threadsAlive: this.workers(), tasksPerThread: TASKS_PER_THREAD, requestsLostWithThread: this.#lost, threadsTerminatedStuck: this.#watchdog.terminated };
  }
}

/** The start-up ping: a batch of one op −1, answered without calling the handler. */
const probe = (): OffloadBatch => ({ batch: 0, model: 'offload', maxWork: 1, ops: [-1], ends: [0], bytes: new Uint8Array(0), ctx: [{ connection: 0, requests: 0, peer: '' }] });

function fromResult(r: OffloadResult, bytes: Uint8Array): HandlerResult {
  if (r.ok) return { op: r.op, payload: Buffer.from(bytes.buffer, bytes.byteOffset + r.start, r.end - r.start) };
  // A handler's protocol code survives the hop; anything else is not a ProtocolError, so the
  // connection answers E_INTERNAL "handler failed: …" exactly as event-loop does.
  if (r.code !== 'E_INTERNAL' && isErrorCode(r.code)) throw new ProtocolError(r.code, r.message);
  throw new SwitchboardError('ERR_HANDLER_FAILED', r.message);
}
