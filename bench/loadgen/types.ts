// Messages and records shared by the load generator's process, its worker threads and run.ts.

export type Mode = 'closed' | 'open' | 'churn';

/** One pre-encoded request and what a correct answer looks like. */
export interface RequestVariant {
  frame: Uint8Array;
  /** Expected response op and payload. */
  op: number;
  payload: Uint8Array;
}

export interface WorkerConfig {
  host: string;
  port: number;
  mode: Mode;
  variants: RequestVariant[];
  /** Active connections this thread drives (closed/open) or parallel churn loops. */
  connections: number;
  pipeline: number;
  /** Open loop: requests per second this thread offers (spread over its connections). */
  ratePerSec: number;
  /** Idle connections this thread opens and holds (idle-10k). */
  idle: number;
  connectTimeoutMs: number;
  /** After the window, how long to wait for answers to requests sent inside it. */
  graceMs: number;
  /** Busy-poll while the run is on (worker.ts Spinner): only on a CPU of its own. */
  spin: boolean;
  /** A traffic mix file (bench/mix/) to send instead of `variants`, or null. */
  mixFile: string | null;
  /** Index of this thread's first connection in the run (mix sources are seeded per connection). */
  connOffset: number;
}

/** One mix kind's answers: what went right and what went wrong, in-window requests only. */
export interface KindCounters {
  ok: number;
  errorFrames: Record<string, number>;
  mismatch: number;
  closed: number;
  unanswered: number;
  /** The first wrong answer or loss, with the request shown. */
  firstError: string | null;
}

export function emptyKindCounters(): KindCounters {
  return { ok: 0, errorFrames: {}, mismatch: 0, closed: 0, unanswered: 0, firstError: null };
}

export function addKindCounters(a: KindCounters, b: KindCounters): KindCounters {
  const errorFrames = { ...a.errorFrames };
  for (const [k, v] of Object.entries(b.errorFrames)) errorFrames[k] = (errorFrames[k] ?? 0) + v;
  return { ok: a.ok + b.ok, errorFrames, mismatch: a.mismatch + b.mismatch, closed: a.closed + b.closed, unanswered: a.unanswered + b.unanswered, firstError: a.firstError ?? b.firstError };
}

export interface Schedule {
  /** Epoch ms (performance.timeOrigin + performance.now()) when load starts. */
  startAt: number;
  measureFrom: number;
  measureTo: number;
}

export interface Counters {
  /** Requests sent (intended, for open loop) inside the window and answered correctly. */
  ok: number;
  /** Response payload bytes of those. */
  bytes: number;
  /** Answered with an ERROR frame, by code. */
  errorFrames: Record<string, number>;
  /** Answered, but the bytes were not what was sent / the digest was wrong / the op was wrong. */
  mismatch: number;
  /** In-window requests lost to a closed connection. */
  closed: number;
  /** Connect attempts that failed (churn, reconnects). */
  connectFailed: number;
  /** In-window requests still unanswered at the end of the grace period. */
  unanswered: number;
  /** Active connections re-established after the server closed one. */
  reconnects: number;
  /** Requests sent before the window and still unanswered at its end (each a latency sample of its age). */
  agedAtWindowEnd: number;
}

export interface ReadyMsg {
  type: 'ready';
  connected: number;
  connectFailed: number;
  idleHeld: number;
  idleRefused: number;
  idleFailed: number;
  firstError?: string;
}

export interface DoneMsg {
  type: 'done';
  counters: Counters;
  /** hdr-histogram-js compressed base64, µs. */
  histogram: string;
  idleAliveAtEnd: number;
  firstError?: string;
  /** Correct answers that arrived inside the window, per connection (churn: per loop). */
  perConnection: number[];
  /** Mix runs: per kind, its counters and latency histogram (encoded like `histogram`). */
  perKind?: { counters: KindCounters; histogram: string }[];
  /** The thread measuring itself over the window. */
  /** busyUs: a spinning thread's non-idle time (its cpuUs is then the whole window), else null. */
  self: { cpuUs: number; busyUs: number | null; runqueueWaitUs: number | null; loopDelayP99Us: number; loopDelayMaxUs: number };
}

export function emptyCounters(): Counters {
  return { ok: 0, bytes: 0, errorFrames: {}, mismatch: 0, closed: 0, connectFailed: 0, unanswered: 0, reconnects: 0, agedAtWindowEnd: 0 };
}

export function addCounters(a: Counters, b: Counters): Counters {
  const errorFrames = { ...a.errorFrames };
  for (const [k, v] of Object.entries(b.errorFrames)) errorFrames[k] = (errorFrames[k] ?? 0) + v;
  return {
    ok: a.ok + b.ok,
    bytes: a.bytes + b.bytes,
    errorFrames,
    mismatch: a.mismatch + b.mismatch,
    closed: a.closed + b.closed,
    connectFailed: a.connectFailed + b.connectFailed,
    unanswered: a.unanswered + b.unanswered,
    reconnects: a.reconnects + b.reconnects,
    agedAtWindowEnd: a.agedAtWindowEnd + b.agedAtWindowEnd,
  };
}

export function errorTotal(c: Counters): number {
  return Object.values(c.errorFrames).reduce((s, v) => s + v, 0) + c.mismatch + c.closed + c.unanswered;
}

/** The one clock every thread of the load generator uses: epoch milliseconds, sub-ms precision. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
