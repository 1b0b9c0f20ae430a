// The main-thread side of the stuck-thread watchdog for the worker_threads models (thread,
// thread-pool, offload); the worker side is src/shared/heartbeat.ts. A thread that owes an
// answer and has not beaten for --request-timeout plus a margin is stuck in a spinning handler:
// it is terminated (V8 interrupts even a busy loop), which costs only what ran on it, and the
// model replaces it exactly as it replaces a thread that crashed. The process models do the same
// with a ping over IPC (src/models/child.ts).
import type { Worker } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { F_BEATS, F_BUSY, F_THREAD, SLOT_FIELDS } from '../shared/heartbeat.ts';
import type { Logger } from '../shared/log.ts';

/** How often the table is read. */
export const CHECK_INTERVAL_MS = 250;
/** A busy thread silent this long gets no new pool tasks while a turning one can take them. */
export const STALLED_AFTER_MS = 500;
/** Silence allowed beyond --request-timeout before a thread counts as stuck. */
export const STUCK_MARGIN_MS = 1_000;

/** piscina's loadBalancer option (its type is not exported by name). */
export type LoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

/**
 * piscina's least-busy choice: an idle thread at once, else the one running the fewest tasks
 * below `maximumUsage` (read per choice when a function), passing over threads `skip` names.
 * null (all full or skipped) leaves the task in piscina's queue for the next free thread.
 */
export function leastBusy(maximumUsage: number | (() => number), skip?: (threadId: number, now: number) => boolean): LoadBalancer {
  return (_task, workers) => {
    const max = typeof maximumUsage === 'function' ? maximumUsage() : maximumUsage;
    const now = skip ? performance.now() : 0;
    let best: (typeof workers)[number] | null = null;
    for (const w of workers) {
      if (w.currentUsage >= max || (best && w.currentUsage >= best.currentUsage) || skip?.(w.id, now)) continue;
      best = w;
      if (w.currentUsage === 0) break;
    }
    return best;
  };
}

interface Seen {
  beats: number;
  /** performance.now() when it last beat, or last owed nothing. */
  since: number;
}

export class ThreadWatchdog {
  /** Goes to every thread in workerData (undefined when the watchdog is off). */
  readonly table: Int32Array | undefined;
  /** Threads terminated as stuck, over the server's life. */
  terminated = 0;
  readonly #stuckAfterMs: number;
  readonly #log: Logger;
  readonly #seen = new Map<number, Seen & { slot: number }>();
  #timer: NodeJS.Timeout | null = null;

  /**
   * @param slots most threads alive at once (replacements included); a thread that finds the
   *   table full runs unwatched.
   * @param requestTimeoutMs --request-timeout; 0 turns the watchdog off.
   */
  constructor(slots: number, requestTimeoutMs: number, log: Logger) {
    this.#stuckAfterMs = requestTimeoutMs + STUCK_MARGIN_MS;
    this.#log = log;
    this.table = requestTimeoutMs > 0 ? new Int32Array(new SharedArrayBuffer(slots * SLOT_FIELDS * 4)) : undefined;
  }

  /**
   * True while the thread owes work and has not beaten for STALLED_AFTER_MS: its event loop is
   * blocked (a long synchronous handler, or a spinning one), so a task sent there would wait.
   */
  stalled(threadId: number, now = performance.now()): boolean {
    const seen = this.#seen.get(threadId);
    const table = this.table;
    if (!seen || !table) return false;
    return now - seen.since > STALLED_AFTER_MS && Atomics.load(table, seen.slot + F_BEATS) === seen.beats && Atomics.load(table, seen.slot + F_BUSY) > 0;
  }

  /**
   * piscina's least-busy choice among threads whose event loop turns. Stalled threads get
   * nothing new: otherwise a stuck thread, until the watchdog ends it, collects its share of every
   * connection's requests (offload) or new connections (thread-pool), all of them lost with it.
   * null (all full or stalled) leaves the task in piscina's queue for the next free thread.
   */
  balancer(maximumUsage: number | (() => number)): LoadBalancer | undefined {
    if (!this.table) return undefined;
    return leastBusy(maximumUsage, (id, now) => this.stalled(id, now));
  }

  /** Starts checking the threads `threads()` lists (read afresh each time). */
  watch(threads: () => Iterable<Worker>): void {
    if (!this.table || this.#timer) return;
    this.#timer = setInterval(() => this.check(threads()), CHECK_INTERVAL_MS).unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One pass: terminates the stuck threads among `threads`, frees the slots of dead ones. */
  check(threads: Iterable<Worker>, now = performance.now()): void {
    const table = this.table;
    if (!table) return;
    const live = new Map<number, Worker>();
    for (const w of threads) live.set(w.threadId, w);
    for (let base = 0; base < table.length; base += SLOT_FIELDS) {
      const id = Atomics.load(table, base + F_THREAD);
      if (id === 0) continue;
      const worker = live.get(id);
      if (!worker) {
        // Its thread is gone (a thread not yet listed cannot have claimed a slot: the pool or
        // the model lists a Worker before its code runs).
        Atomics.compareExchange(table, base + F_THREAD, id, 0);
        this.#seen.delete(id);
        continue;
      }
      const beats = Atomics.load(table, base + F_BEATS);
      const seen = this.#seen.get(id);
      if (!seen || seen.beats !== beats || Atomics.load(table, base + F_BUSY) <= 0) {
        this.#seen.set(id, { beats, since: now, slot: base });
        continue;
      }
      const silentMs = now - seen.since;
      if (silentMs > this.#stuckAfterMs) {
        this.#log.warn({ threadId: id, silentMs: Math.round(silentMs) }, 'thread unresponsive (event loop blocked past --request-timeout); terminating it');
        this.terminated++;
        this.#seen.delete(id);
        Atomics.compareExchange(table, base + F_THREAD, id, 0);
        void worker.terminate();
      }
    }
  }
}
