// The one small shape every concurrency model implements, and the lifecycle they share.
//
// A model runs connections; it never sees protocol bytes. It gets unread sockets from the
// accept loop, serves them wherever it likes (this thread, worker threads, child processes)
// with the shared connection code, and reports each connection's end through its ticket.
// Like undici's DispatcherBase, the lifecycle (start once, drain once, close idempotently,
// refuse after shutdown) lives here once; subclasses fill in the hooks.
import type { Socket } from 'node:net';
import type { ConnectionSink, ConnectionTicket } from '../shared/accept-loop.ts';
import type { FilledServerOptions } from '../shared/config.ts';
import type { ConnectionSummary } from '../shared/connection.ts';
import { SwitchboardError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { StartupStats, type StartupSummary, type StartupUnit } from './startup-stats.ts';
import { DurationHistogram, WorkerMetricsTable, type DurationCounts, type MetricsSnapshot, type MetricsTotals } from '../shared/metrics.ts';

export type ModelState = 'idle' | 'starting' | 'running' | 'draining' | 'closed';

export interface ModelContext {
  options: FilledServerOptions;
  /** URL of the handler module every thread/process loads. */
  handlerUrl: string;
  log: Logger;
}

/** A snapshot; the same fields for every model (extra holds model-specific figures). */
export interface ModelStats {
  model: string;
  state: ModelState;
  connections: {
    accepted: number; // handed to this model
    active: number; // accepted and not yet closed (includes queued)
    queued: number; // waiting, unread, for a thread or child (all of the model's slots busy)
    /** How long the oldest of the queued ones has waited so far, in ms (0 when none is queued). */
    oldestWaitMs: number;
    refused: number; // turned away by the model (queue full, shutting down)
  };
  requests: number;
  errors: number;
  /** Threads or processes serving connections now (1 for event-loop: the main thread). */
  workers: number;
  /** How long its threads or children took to get ready (unit null, n 0 for event-loop). */
  startup: StartupSummary;
  /** Threads or children over the model's life (all 0 for event-loop). */
  lifecycle: Lifecycle;
  extra: Record<string, unknown>;
}

export interface Lifecycle {
  /** Threads or children started (the first ones, spares, replacements). */
  starts: number;
  /** …that ended, for any reason. */
  exits: number;
  /** Started to replace one that died unexpectedly. */
  respawns: number;
  /** Retired on purpose after --max-connections-per-child. */
  recycles: number;
  /** Ended by the watchdog: an event loop blocked past --request-timeout. */
  watchdogKills: number;
}

/** Live request metrics: the latest report of each thread or child serving, and the totals of all. */
export interface ModelMetrics {
  workers: MetricsSnapshot[];
  totals: MetricsTotals;
  /** How long connections waited, unread, for a thread or child (models with a wait queue). */
  queueWait: DurationCounts;
}

export interface Model extends ConnectionSink {
  readonly name: string;
  readonly state: ModelState;
  start(): Promise<void>;
  accept(socket: Socket, ticket: ConnectionTicket): void;
  /** Stop taking connections, let every open one finish; resolves when none is left. */
  drain(): Promise<void>;
  /** Force-close whatever is left and release every thread/process. Idempotent. */
  close(): Promise<void>;
  stats(): ModelStats;
  metrics(): ModelMetrics;
  whenIdle(): Promise<void>;
  /**
   * Models that can replace their workers one at a time in place (process-pool, thread-pool) do
   * so here; the server restarts the others as a new generation.
   */
  rollingRestart?(): Promise<{ replaced: number; ms: number } | null>;
}

export abstract class ModelBase implements Model {
  readonly name: string;
  protected readonly ctx: ModelContext;
  /** Live totals: in-process connections add to these directly; remote ones report into them. */
  protected readonly counters = { requests: 0, errors: 0 };
  /** Start-up times of the threads/children this model starts; the model adds them as it times them. */
  protected readonly startup: StartupStats;
  /** Fed by the threads' and children's MetricsMessages (or, in-process, a local RequestMetrics). */
  protected readonly metricsTable = new WorkerMetricsTable();
  /** Models with a WaitQueue observe each connection's wait into it (WaitQueueOptions.onWaited). */
  protected readonly queueWait = new DurationHistogram();
  protected readonly lifecycle: Lifecycle = { starts: 0, exits: 0, respawns: 0, recycles: 0, watchdogKills: 0 };

  #state: ModelState = 'idle';
  #accepted = 0;
  #active = 0;
  #refused = 0;
  #drained: Promise<void> | null = null;
  #closed: Promise<void> | null = null;
  #onIdle: (() => void) | null = null;
  readonly #idleWaiters: (() => void)[] = [];

  /** `startupUnit`: what this model starts and times in stats().startup (null: neither threads nor processes). */
  constructor(name: string, ctx: ModelContext, startupUnit: StartupUnit | null = null) {
    this.name = name;
    this.ctx = ctx;
    this.startup = new StartupStats(startupUnit);
  }

  get state(): ModelState {
    return this.#state;
  }

  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new SwitchboardError('ERR_MODEL_STATE', `${this.name}: start() called twice`);
    this.#state = 'starting';
    await this.onStart();
    if (this.#state === 'starting') this.#state = 'running';
  }

  accept(socket: Socket, ticket: ConnectionTicket): void {
    if (this.#state !== 'running') {
      this.#refused++;
      ticket.refuse(socket, 'E_SHUTTING_DOWN', 'server is shutting down');
      return;
    }
    this.#accepted++;
    this.#active++;
    let open = true;
    const tracked: ConnectionTicket = {
      id: ticket.id,
      remoteAddress: ticket.remoteAddress,
      admit: (address) => (open ? ticket.admit(address) : { code: 'E_SHUTTING_DOWN', message: 'connection already closed' }),
      closed: (summary) => {
        if (!open) return;
        open = false;
        this.#active--;
        ticket.closed(summary);
        if (this.#active === 0) this.#idle();
      },
      refuse: (s, code, message) => {
        if (!open) {
          s.destroy();
          return;
        }
        open = false;
        this.#active--;
        this.#refused++;
        ticket.refuse(s, code, message);
        if (this.#active === 0) this.#idle();
      },
    };
    this.onAccept(socket, tracked);
  }

  #idle(): void {
    this.#onIdle?.();
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  /**
   * Resolves once no connection is left. For a generation that a live switch has replaced: the
   * accept loop sends it nothing new, and its connections end when their clients close them.
   */
  whenIdle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  drain(): Promise<void> {
    this.#drained ??= (async () => {
      if (this.#state === 'running' || this.#state === 'starting') this.#state = 'draining';
      const idle = new Promise<void>((resolve) => {
        this.#onIdle = resolve;
        if (this.#active === 0) resolve();
      });
      await this.onDrain();
      await idle;
    })();
    return this.#drained;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#state !== 'closed') this.#state = 'draining';
      try {
        await this.onClose();
      } finally {
        this.#state = 'closed';
        this.#onIdle?.();
      }
    })();
    return this.#closed;
  }

  stats(): ModelStats {
    return {
      model: this.name,
      state: this.#state,
      connections: { accepted: this.#accepted, active: this.#active, queued: this.queued(), oldestWaitMs: this.oldestWaitMs(), refused: this.#refused },
      requests: this.counters.requests,
      errors: this.counters.errors,
      workers: this.workers(),
      startup: this.startup.summary(),
      lifecycle: this.lifecycleNow(),
      extra: this.extraStats(),
    };
  }

  metrics(): ModelMetrics {
    return { ...this.metricsTable.collect(), queueWait: this.queueWait.snapshot() };
  }

  /** A rolling restart is under way (pools: the workers leaving are not respawns). */
  protected restarting = false;

  /**
   * What process-pool and thread-pool rolling restarts share: one at a time, timed, logged.
   * `replaceAll` replaces the workers one by one and returns how many.
   */
  protected async rollOver(replaceAll: () => Promise<number>): Promise<{ replaced: number; ms: number }> {
    if (this.restarting) throw new SwitchboardError('ERR_MODEL_STATE', 'a restart is already under way');
    this.restarting = true;
    const t0 = performance.now();
    try {
      const replaced = await replaceAll();
      const ms = Math.round(performance.now() - t0);
      this.ctx.log.info({ replaced, ms }, 'rolling restart done');
      return { replaced, ms };
    } finally {
      this.restarting = false;
    }
  }

  /** The lifecycle counts now (models whose pool counts some of them elsewhere add those in). */
  protected lifecycleNow(): Lifecycle {
    return { ...this.lifecycle };
  }

  /** Adds a finished remote connection's counts (for models whose connections run elsewhere). */
  protected addSummary(summary: Partial<ConnectionSummary> | undefined): void {
    this.counters.requests += summary?.requests ?? 0;
    this.counters.errors += summary?.errors ?? 0;
  }

  protected abstract onStart(): Promise<void>;
  protected abstract onAccept(socket: Socket, ticket: ConnectionTicket): void;
  /** Tell every connection (and every worker/child) to finish gracefully. */
  protected abstract onDrain(): Promise<void>;
  /** Destroy what is left and release threads/processes. */
  protected abstract onClose(): Promise<void>;
  protected queued(): number {
    return 0;
  }
  /** The oldest queued connection's wait so far, in ms (models with a WaitQueue: its oldestWaitMs()). */
  protected oldestWaitMs(): number {
    return 0;
  }
  protected abstract workers(): number;
  protected extraStats(): Record<string, unknown> {
    return {};
  }
}
