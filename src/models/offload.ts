// offload: sockets stay on the main thread's event loop (as in event-loop); each decoded
// request's handler call runs as a piscina task on --threads worker threads. The connection
// code is unchanged: it gets a proxy Handler whose results are promises, so replies still
// leave in request order per connection. CPU-heavy handlers no longer stall the loop; every
// request pays two thread hops and a copy of its payload.
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { Piscina } from 'piscina';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import { connectionLimits } from '../shared/config.ts';
import { serveConnection, type Connection } from '../shared/connection.ts';
import { ProtocolError, SwitchboardError, isErrorCode } from '../shared/errors.ts';
import type { Handler, HandlerResult } from '../shared/handler.ts';
import type { OffloadReply, OffloadTask } from '../shared/ipc.ts';
import { ModelBase, type ModelContext } from './model.ts';
import { ThreadWatchdog } from './thread-watchdog.ts';
import { resourceLimits, startupMessage, enableWorkerCompileCache, trackPoolThreads } from './worker-options.ts';
import { RequestMetrics, workerLabel } from '../shared/metrics.ts';

const WORKER_FILE = fileURLToPath(new URL('./offload.worker.ts', import.meta.url));
/**
 * Requests one pool thread runs at once. Async handlers (SLEEP, I/O) must not hold a thread
 * while they wait, so each thread takes many; synchronous ones still run one after another
 * on it, and piscina's least-busy balancer spreads them over the threads.
 */
export const TASKS_PER_THREAD = 64;

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
      filename: WORKER_FILE,
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
      workerData: startupMessage('offload', this.ctx, this.#watchdog.table),
    });
    this.#pool.on('error', (err) => this.ctx.log.warn({ err }, 'pool thread failed'));
    trackPoolThreads(this.#pool, this.lifecycle, () => this.#closing);
    // Ready handshake: one ping per thread (op −1, never passed to the handler) proves the
    // handler module loads there and has every thread warm before we listen. Its answer times
    // that thread's start-up (the threads start together); replacements are not timed.
    try {
      const startedAt = performance.now();
      const ping = async () => {
        await this.#pool.run(probe);
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

  /** The main-thread Handler: ships the request to the pool, turns the reply back into a result. */
  readonly #handler: Handler = (op, payload, ctx) => {
    // Own count, so --queue 0 means "no waiting" and piscina never refuses a task (see onStart).
    if (this.#inPool >= this.#capacity + this.ctx.options.queue) {
      throw new ProtocolError('E_BUSY', `all ${this.ctx.options.threads} handler threads busy and ${this.ctx.options.queue} requests waiting`);
    }
    // An exact-size copy we own, moved to the worker: cloning the view instead would copy the
    // whole socket read chunk it points into (up to 64 KiB) for every request.
    const bytes = new Uint8Array(payload);
    const task: OffloadTask = {
      op,
      payload: bytes,
      ctx: { model: ctx.model, connection: ctx.connection, requests: ctx.requests, maxWork: ctx.maxWork, peer: ctx.peer },
    };
    this.#inPool++;
    return this.#pool.run(task, { transferList: [bytes.buffer] as never }).then(this.#onReply, this.#onPoolError);
  };

  #onReply = (reply: OffloadReply): HandlerResult => {
    this.#inPool--;
    return fromReply(reply);
  };

  #onPoolError = (err: Error): never => {
    this.#inPool--;
    // Told apart by our own state, not piscina's message text: piscina never refuses a task for
    // its queue (maxQueue Infinity, see onStart), so a task fails either because close() destroyed
    // the pool under it or because its thread died.
    if (this.#closing) throw new ProtocolError('E_SHUTTING_DOWN', 'server is shutting down; request not processed');
    // The thread died under this request (crash, process.exit, memory limit, the watchdog). Only
    // this request fails; the connection lives on the main thread and piscina replaces the thread.
    this.#lost++;
    throw new ProtocolError('E_INTERNAL', `handler thread died: ${err.message}`);
  };

  protected async onDrain(): Promise<void> {
    for (const conn of this.#connections) conn.drain();
  }

  protected async onClose(): Promise<void> {
    this.#closing = true;
    this.#watchdog.stop();
    for (const conn of this.#connections) conn.destroy();
    await this.#pool?.destroy();
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

const probe: OffloadTask = { op: -1, payload: new Uint8Array(0), ctx: { model: 'offload', connection: 0, requests: 0, maxWork: 1, peer: '' } };

function fromReply(reply: OffloadReply): HandlerResult {
  if (reply.ok) return { op: reply.op, payload: reply.payload };
  // A handler's protocol code survives the hop; anything else is not a ProtocolError, so the
  // connection answers E_INTERNAL "handler failed: …" exactly as event-loop does.
  if (reply.code !== 'E_INTERNAL' && isErrorCode(reply.code)) throw new ProtocolError(reply.code, reply.message);
  throw new SwitchboardError('ERR_HANDLER_FAILED', reply.message);
}
