// The wait queue of the models with a bound on connections served at once (thread, process,
// thread-pool beyond threads × K): connections that found every slot busy wait here, unread, in
// arrival order. The length bound (--queue) is the
// model's to apply; the time bound (--queue-timeout, like HAProxy's `timeout queue`) is applied
// here: a connection that waited that long is refused E_BUSY. A peer cannot tell a long wait from
// a dead server, and the timeouts of a connection (idle, frame) only start once it is served, so
// without this a flood or slow peers holding every slot would leave the rest hanging unanswered.
// It also says so: one warning when connections start to queue (not one per connection), and
// the queued count and the oldest wait for ModelStats.
import type { Socket } from 'node:net';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import type { ErrorCode } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';

/** After a queueing warning, the next one waits at least this long (episodes meanwhile are counted). */
export const QUEUE_WARN_INTERVAL_MS = 60_000;

/** The refusal of a connection still waiting, unread, when shutdown gives up on it (see stopServingAfter). */
export const UNREAD_AT_SHUTDOWN = 'server is shutting down; nothing was read from this connection';

/**
 * Share of --drain-timeout during which a draining model still hands queued connections to
 * threads or children as they free up. A connection started later would likely be cut by the
 * deadline mid-request, its read requests lost; refused unread, its peer knows none was processed.
 */
export const SERVE_QUEUE_SHARE_OF_DRAIN = 0.5;

export interface WaitQueueOptions {
  /** Where the queueing warning goes (none without it). */
  log?: Logger;
  /** What every served connection holds, for that warning: "--max-threads 256 connection threads". */
  slots?: () => string;
  /**
   * Waiting connections at the front that already have a slot coming (process: children being
   * forked for them, or --max-processes room for one): waiting, but not queued for capacity.
   */
  ahead?: () => number;
  /** Default QUEUE_WARN_INTERVAL_MS. */
  warnIntervalMs?: number;
  /** Each connection that leaves the queue to be served: how long it waited (the queue-wait histogram). */
  onWaited?: (ms: number) => void;
}

export interface Waiting {
  socket: Socket;
  ticket: ConnectionTicket;
  /** performance.now() when it started waiting. */
  since: number;
}

export class WaitQueue {
  readonly #items: Waiting[] = [];
  readonly #timeoutMs: number;
  readonly #waitingFor: string;
  readonly #options: WaitQueueOptions;
  #timer: NodeJS.Timeout | null = null;
  /** Connections refused for waiting too long, over the server's life. */
  expired = 0;
  /** A queueing episode: from the first connection queued until none is. */
  #queueing = false;
  #warnedAt = -Infinity;
  #unwarnedEpisodes = 0;
  /** Queueing episodes over the server's life (each began with all slots busy). */
  episodes = 0;
  /** Set once shutdown stopped serving the queue: anything waiting, or put back, is refused. */
  #refusing: { code: ErrorCode; message: string } | null = null;

  /** @param waitingFor what they wait for, for the refusal message ("a connection thread"). */
  constructor(timeoutMs: number, waitingFor: string, options: WaitQueueOptions = {}) {
    this.#timeoutMs = timeoutMs;
    this.#waitingFor = waitingFor;
    this.#options = options;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Waiting for capacity: all but the ones at the front with a slot already coming (`ahead`). */
  get queued(): number {
    return Math.max(0, this.#items.length - (this.#options.ahead?.() ?? 0));
  }

  /** How long the oldest connection counted in `queued` has waited so far, in ms (0: none). */
  oldestWaitMs(now = performance.now()): number {
    const queued = this.queued;
    if (queued === 0) return 0;
    return Math.max(0, Math.round(now - this.#items[this.#items.length - queued]!.since));
  }

  push(socket: Socket, ticket: ConnectionTicket): void {
    if (this.#refusing) return ticket.refuse(socket, this.#refusing.code, this.#refusing.message);
    this.#items.push({ socket, ticket, since: performance.now() });
    this.#arm();
    this.#watch();
  }

  /** Back to the front (a hand-off that failed), keeping its place in time. */
  unshift(w: Waiting): void {
    if (this.#refusing) return w.ticket.refuse(w.socket, this.#refusing.code, this.#refusing.message);
    this.#items.unshift(w);
    this.#arm();
    this.#watch();
  }

  shift(): Waiting | undefined {
    const w = this.#items.shift();
    if (w) this.#options.onWaited?.(performance.now() - w.since);
    this.#watch();
    return w;
  }

  /** The newest (to refuse it when the queue is over its length bound). */
  pop(): Waiting | undefined {
    const w = this.#items.pop();
    this.#watch();
    return w;
  }

  /** Refuses every waiting connection but the `keep` oldest (still unread: the peer gets the code). */
  refuseAll(code: ErrorCode, message: string, keep = 0): void {
    for (const { socket, ticket } of this.#items.splice(keep)) ticket.refuse(socket, code, message);
    this.#watch();
  }

  /**
   * Draining: the model keeps serving the queue for `ms` (SERVE_QUEUE_SHARE_OF_DRAIN of
   * --drain-timeout), then every connection still waiting, or put back later, is refused
   * E_SHUTTING_DOWN, unread.
   */
  stopServingAfter(ms: number): void {
    setTimeout(() => {
      this.#refusing = { code: 'E_SHUTTING_DOWN', message: UNREAD_AT_SHUTDOWN };
      this.refuseAll('E_SHUTTING_DOWN', UNREAD_AT_SHUTDOWN);
    }, ms).unref();
  }

  /** Closing: every waiting connection is dropped (the models refuse them instead, UNREAD_AT_SHUTDOWN). */
  destroyAll(): void {
    for (const { socket, ticket } of this.#items.splice(0)) {
      socket.destroy();
      ticket.closed({ reason: 'destroyed' });
    }
    this.#watch();
  }

  /**
   * One warning when connections start to queue, not one per connection: again only once the
   * queue has emptied and refilled, and at most once per warnIntervalMs (episodes in between are
   * counted in the next warning).
   */
  #watch(): void {
    const queued = this.queued;
    if (queued === 0) {
      this.#queueing = false;
      return;
    }
    if (this.#queueing) return;
    this.#queueing = true;
    this.episodes++;
    const { log, slots, warnIntervalMs = QUEUE_WARN_INTERVAL_MS } = this.#options;
    if (!log) return;
    const now = performance.now();
    if (now - this.#warnedAt < warnIntervalMs) {
      this.#unwarnedEpisodes++;
      return;
    }
    this.#warnedAt = now;
    const before = this.#unwarnedEpisodes;
    this.#unwarnedEpisodes = 0;
    log.warn(
      {
        queued,
        slots: slots?.(),
        queueTimeoutMs: this.#timeoutMs,
        ...(before > 0 ? { episodesSinceLastWarning: before } : {}),
      },
      `connections are queueing for ${this.#waitingFor}: every slot is busy${slots ? ` (${slots()})` : ''}; a queued connection is not read until one frees` +
        (this.#timeoutMs > 0 ? `, and gets E_BUSY after ${this.#timeoutMs / 1000} s (--queue-timeout)` : ' (--queue-timeout 0: no limit)') +
        '; stats: connections.queued, connections.oldestWaitMs',
    );
  }

  #arm(): void {
    if (this.#timer || this.#timeoutMs <= 0 || this.#items.length === 0) return;
    const head = this.#items[0]!;
    this.#timer = setTimeout(this.#expire, Math.max(0, head.since + this.#timeoutMs - performance.now())).unref();
  }

  #expire = (): void => {
    this.#timer = null;
    const now = performance.now();
    // Oldest first: stop at the first one still within its time.
    while (this.#items.length > 0 && now - this.#items[0]!.since >= this.#timeoutMs) {
      const { socket, ticket } = this.#items.shift()!;
      this.expired++;
      ticket.refuse(socket, 'E_BUSY', `waited ${this.#timeoutMs / 1000} s for ${this.#waitingFor}; try again later`);
    }
    this.#arm();
    this.#watch();
  };
}
