// Live request metrics, wherever connections are served. Each thread or process that serves
// connections keeps one RequestMetrics (requests by op, error frames by code, a request-duration
// histogram) that the connection code adds to as it answers; the serving side sends a snapshot
// of it to the main thread every second (and once more before it exits), and the main thread's
// WorkerMetricsTable keeps the latest one per worker for the admin endpoint (src/admin/). A worker
// that stops reporting is folded into the retired totals, so every counter only ever grows, as
// Prometheus counters must.
//
// Dependency-free and allocation-free on the hot path: worker and child entries import it.
import { OP_NAMES } from './protocol.ts';

/** Request duration buckets, seconds (upper bounds; +Inf is implicit): 50 µs … 10 s. */
export const DURATION_BUCKETS_S = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** How often a worker or child reports its snapshot. */
export const METRICS_INTERVAL_MS = 1000;

/** A plain object: posted between threads and over IPC as is. */
export interface MetricsSnapshot {
  /** `main`, `thread:<threadId>` or `pid:<pid>`: the label that shows uneven dispatch. */
  worker: string;
  /** Connections open on this worker now, and served here so far. */
  activeConnections: number;
  connections: number;
  /** Requests decoded and handed to the handler, by op name (`0x2a` for an op without one). */
  requests: Record<string, number>;
  /** ERROR frames sent, by code. */
  errors: Record<string, number>;
  /** Request durations (decoded → answer written), non-cumulative counts per DURATION_BUCKETS_S bucket + one for +Inf. */
  duration: DurationCounts;
}

/** Non-cumulative counts per DURATION_BUCKETS_S bucket (+Inf last), their sum (s) and count. */
export interface DurationCounts {
  counts: number[];
  sum: number;
  count: number;
}

/** A fixed-bucket histogram of durations (the admin endpoint turns it into a Prometheus histogram). */
export class DurationHistogram {
  readonly #counts = new Float64Array(DURATION_BUCKETS_S.length + 1);
  #sum = 0;
  #count = 0;

  observe(ms: number): void {
    const s = ms / 1000;
    let i = 0;
    while (i < DURATION_BUCKETS_S.length && s > DURATION_BUCKETS_S[i]!) i++;
    this.#counts[i]!++;
    this.#sum += s;
    this.#count++;
  }

  snapshot(): DurationCounts {
    return { counts: Array.from(this.#counts), sum: this.#sum, count: this.#count };
  }
}

export class RequestMetrics {
  readonly worker: string;
  activeConnections = 0;
  connections = 0;
  readonly #byOp = new Float64Array(256);
  readonly #errors: Record<string, number> = {};
  readonly #duration = new DurationHistogram();

  constructor(worker: string) {
    this.worker = worker;
  }

  request(op: number): void {
    this.#byOp[op & 0xff]!++;
  }

  error(code: string): void {
    this.#errors[code] = (this.#errors[code] ?? 0) + 1;
  }

  /** One request answered after `ms` milliseconds. */
  observe(ms: number): void {
    this.#duration.observe(ms);
  }

  snapshot(): MetricsSnapshot {
    const requests: Record<string, number> = {};
    for (let op = 0; op < 256; op++) {
      const n = this.#byOp[op]!;
      if (n > 0) requests[opLabel(op)] = n;
    }
    return {
      worker: this.worker,
      activeConnections: this.activeConnections,
      connections: this.connections,
      requests,
      errors: { ...this.#errors },
      duration: this.#duration.snapshot(),
    };
  }
}

export function opLabel(op: number): string {
  return (OP_NAMES as Record<number, string>)[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
}

let mainLabels = 0;

/**
 * This thread's label: the main thread of a process is `pid:<pid>`, a worker thread `thread:<id>`.
 * A second RequestMetrics in one main thread (the next generation of event-loop or offload after
 * a live switch) is `pid:<pid>#2`, …: its counts start at 0, and reusing the label would make the
 * series go down, and show twice while the old generation finishes.
 */
export function workerLabel(threadId: number, pid = process.pid): string {
  if (threadId !== 0) return `thread:${threadId}`;
  return ++mainLabels === 1 ? `pid:${pid}` : `pid:${pid}#${mainLabels}`;
}

/** Totals over snapshots (the retired ones and the live ones alike). */
export interface MetricsTotals {
  connections: number;
  requests: Record<string, number>;
  errors: Record<string, number>;
  duration: DurationCounts;
}

export function emptyTotals(): MetricsTotals {
  return { connections: 0, requests: {}, errors: {}, duration: { counts: new Array(DURATION_BUCKETS_S.length + 1).fill(0), sum: 0, count: 0 } };
}

/** `into` += `s` (sign −1: −=, to take back a snapshot folded in too early). */
export function addInto(into: MetricsTotals, s: Omit<MetricsTotals, never>, sign: 1 | -1 = 1): MetricsTotals {
  into.connections += sign * s.connections;
  for (const [k, v] of Object.entries(s.requests)) into.requests[k] = (into.requests[k] ?? 0) + sign * v;
  for (const [k, v] of Object.entries(s.errors)) into.errors[k] = (into.errors[k] ?? 0) + sign * v;
  s.duration.counts.forEach((v, i) => (into.duration.counts[i] = (into.duration.counts[i] ?? 0) + sign * v));
  into.duration.sum += sign * s.duration.sum;
  into.duration.count += sign * s.duration.count;
  return into;
}

/**
 * The main thread's view: the latest snapshot of each live worker, plus what workers that have
 * gone reported last. A worker silent for `staleMs` is retired (it exited, or was killed before
 * its final report: what it did since its last report is lost, at most one interval).
 */
export class WorkerMetricsTable {
  readonly #live = new Map<string, { snapshot: MetricsSnapshot; at: number }>();
  /** Retired for silence, not for a final report: a worker that was only slow may report again. */
  readonly #silent = new Map<string, MetricsSnapshot>();
  readonly #retired = emptyTotals();
  readonly #staleMs: number;
  /** Sources read at collection time instead of reported (the main thread's own RequestMetrics). */
  readonly #local = new Set<RequestMetrics>();

  constructor(staleMs = 3 * METRICS_INTERVAL_MS) {
    this.#staleMs = staleMs;
  }

  /** A worker's latest report; `final` when it is about to exit (retired at once). */
  update(snapshot: MetricsSnapshot, final = false): void {
    // Back from silence (an event loop blocked for seconds): its counts are cumulative, so the
    // snapshot folded in when it went quiet comes out of the retired totals again.
    const silent = this.#silent.get(snapshot.worker);
    if (silent) {
      this.#silent.delete(snapshot.worker);
      addInto(this.#retired, silent, -1);
    }
    if (final) {
      this.#live.delete(snapshot.worker);
      addInto(this.#retired, snapshot);
      return;
    }
    this.#live.set(snapshot.worker, { snapshot, at: performance.now() });
  }

  /** A RequestMetrics in this thread: read live at every collect(). */
  addLocal(metrics: RequestMetrics): void {
    this.#local.add(metrics);
  }

  /** The live workers' snapshots (stale ones retired first) and the totals over every worker ever seen. */
  collect(): { workers: MetricsSnapshot[]; totals: MetricsTotals } {
    const now = performance.now();
    for (const [key, { snapshot, at }] of this.#live) {
      if (now - at > this.#staleMs) {
        this.#live.delete(key);
        this.#silent.set(key, snapshot);
        addInto(this.#retired, snapshot);
        // Bounded: only the most recent can still come back (a worker killed for good never does).
        if (this.#silent.size > 1024) this.#silent.delete(this.#silent.keys().next().value!);
      }
    }
    const workers = [...[...this.#local].map((m) => m.snapshot()), ...[...this.#live.values()].map((e) => e.snapshot)];
    const totals = addInto(structuredClone(this.#retired), emptyTotals());
    for (const w of workers) addInto(totals, w);
    return { workers, totals };
  }
}
