// The serving side of every model whose connections live away from the accept loop (a worker
// thread, a piscina task, a child process): load the handler once, serve each socket handed
// over with the shared connection code, count, drain. The entry files of those models are thin
// adapters from their transport (postMessage, piscina task, IPC) onto this class.
import type { Socket } from 'node:net';
import type { ConnectionLimits } from './config.ts';
import { serveConnection, type Connection, type ConnectionCounters, type ConnectionSummary, type Refusal } from './connection.ts';
import { SwitchboardError } from './errors.ts';
import { loadHandler, type Handler } from './handler.ts';
import type { AdmitMessage, AdmittedMessage } from './ipc.ts';
import { METRICS_INTERVAL_MS, RequestMetrics, workerLabel, type MetricsSnapshot } from './metrics.ts';
import { threadId } from 'node:worker_threads';

export interface HostOptions {
  model: string;
  handlerUrl: string;
  limits: ConnectionLimits;
  /** limits.admitPeer: sends an AdmitMessage to the main side; its answer comes back through admitted(). */
  ask?: (message: AdmitMessage) => void;
}

export class ConnectionHost {
  readonly options: HostOptions;
  /** Live totals for every connection served here. */
  readonly counters: ConnectionCounters = { requests: 0, errors: 0 };
  /** Live request metrics of this thread; reported to the main thread by reportMetrics(). */
  readonly metrics = new RequestMetrics(workerLabel(threadId));
  readonly #connections = new Set<Connection>();
  #handler: Handler | null = null;
  #draining = false;
  #onEmpty: (() => void) | null = null;
  readonly #asking = new Map<number, (refusal: Refusal) => void>();
  readonly #emptyWaiters: (() => void)[] = [];

  constructor(options: HostOptions) {
    this.options = options;
  }

  /** Loads the handler module; call (and await) before serve(). */
  async load(): Promise<void> {
    this.#handler ??= await loadHandler(this.options.handlerUrl);
  }

  get active(): number {
    return this.#connections.size;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Serves one handed-over socket; resolves with its summary once it has closed. */
  serve(socket: Socket, connection: number): Promise<ConnectionSummary> {
    if (!this.#handler) throw new SwitchboardError('ERR_MODEL_STATE', 'ConnectionHost.serve() before load()');
    const conn = serveConnection(socket, {
      handler: this.#handler,
      model: this.options.model,
      connection,
      limits: this.options.limits,
      counters: this.counters,
      admit: (address) => this.#ask(connection, address),
      metrics: this.metrics,
    });
    this.#connections.add(conn);
    if (this.#draining) conn.drain();
    return conn.done.then((summary) => {
      this.#connections.delete(conn);
      if (this.#connections.size === 0) {
        this.#onEmpty?.();
        for (const w of this.#emptyWaiters.splice(0)) w();
      }
      return summary;
    });
  }

  /**
   * Sends a snapshot of this thread's metrics every METRICS_INTERVAL_MS (the timer never keeps
   * the thread alive); returns the function that sends the final one, for just before exiting.
   */
  reportMetrics(send: (snapshot: MetricsSnapshot, final: boolean) => void): () => void {
    const timer = setInterval(() => send(this.metrics.snapshot(), false), METRICS_INTERVAL_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      send(this.metrics.snapshot(), true);
    };
  }

  /** The main side's answer to an AdmitMessage this host sent (unknown ids are ignored). */
  admitted(message: AdmittedMessage): void {
    const resolve = this.#asking.get(message.id);
    this.#asking.delete(message.id);
    resolve?.(message.refusal);
  }

  #ask(id: number, address: string): Refusal | Promise<Refusal> {
    const send = this.options.ask;
    if (!send) return null; // this transport has nobody to ask: serve (the limit is not enforced)
    return new Promise((resolve) => {
      this.#asking.set(id, resolve);
      send({ type: 'admit', id, address });
    });
  }

  /** Graceful: every connection finishes what it has read, then closes. Resolves when none is left. */
  drain(): Promise<void> {
    this.#draining = true;
    for (const conn of this.#connections) conn.drain();
    if (this.#connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#onEmpty = resolve));
  }

  /** Resolves once no connection is open here (at once if none is). */
  whenEmpty(): Promise<void> {
    if (this.#connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  /** Forced: drop every connection now. */
  destroyAll(): void {
    for (const conn of this.#connections) conn.destroy();
  }
}
