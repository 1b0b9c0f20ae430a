// The load generator's orchestrator: starts the worker threads, lines up their schedule,
// merges their HDR histograms and counts, and measures its own process's CPU over the window
// (so a saturated client shows in the report). Runs in whatever process calls it: run.ts forks
// bench/loadgen/client.ts for it, the tests call it directly.
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { correctClosedLoop, encodeHistogram, mergeHistograms, summarize, type Percentiles } from '../../harness/histogram.ts';
import { accountConnections, clientBoundReason, jainIndex, type ClientThreadFigures, type ConnectionAccounting } from './accounting.ts';
import { encodeFrame, Op } from '../../src/shared/protocol.ts';
import { workDigest } from '../../src/shared/builtin-handler.ts';
import { loadMix } from '../mix/parse.ts';
import { addCounters, addKindCounters, emptyCounters, emptyKindCounters, errorTotal, nowMs, type Counters, type DoneMsg, type KindCounters, type Mode, type ReadyMsg, type RequestVariant, type WorkerConfig } from './types.ts';

export interface LoadSpec {
  host: string;
  port: number;
  mode: Mode;
  /** 'mix': the requests of `mixFile` (bench/mix/), judged by its expectations. */
  op: 'echo' | 'work' | 'sleep' | 'mix';
  mixFile?: string;
  /** ECHO payload bytes. */
  payloadBytes?: number;
  /** WORK iteration count. */
  workN?: number;
  /** SLEEP milliseconds. */
  sleepMs?: number;
  connections: number;
  pipeline?: number;
  /** Open loop: total requests per second over all connections. */
  ratePerSec?: number;
  idleConnections?: number;
  warmupMs: number;
  durationMs: number;
  /** Load-generator threads (default 2). */
  threads?: number;
  graceMs?: number;
  connectTimeoutMs?: number;
  /**
   * Busy-poll in every load thread while the run is on (worker.ts Spinner). Only where each
   * thread has a CPU of its own (placement.ts clientSpins decides for runCell); default false.
   */
  spin?: boolean;
}

export interface LoadResult {
  windowMs: number;
  /** Correct answers to requests started inside the window. */
  requests: number;
  throughput: number;
  /** Response payload bytes per second (MB/s = this / 1e6). */
  bytesPerSec: number;
  /**
   * µs. Open loop: measured from each request's scheduled send. Closed loop and churn: corrected
   * for coordinated omission (harness/histogram.ts correctClosedLoop), with the raw samples in
   * latencyRawUs.
   */
  latencyUs: Percentiles;
  /** Closed loop and churn: the samples as recorded, before the correction (null for open loop). */
  latencyRawUs: Percentiles | null;
  /** The correction's expected interval between requests on one connection (µs), or null. */
  coIntervalUs: number | null;
  /** The merged histogram, hdr-histogram-js compressed base64 (µs). */
  histogram: string;
  errors: Counters & { total: number };
  firstError?: string;
  client: {
    threads: number;
    /** The load threads busy-polled: their CPU is the whole window; perThread cores is their busy time. */
    spin: boolean;
    cpuUserUs: number;
    cpuSystemUs: number;
    /** CPU of the whole load-generator process over the window, in cores. */
    cores: number;
    /** Each load thread measured by itself over the window. */
    perThread: ClientThreadFigures[];
    /** The worst thread's event-loop delay p99, µs. */
    loopDelayP99Us: number;
    /** Why the client, not the server, may have set the figures (accounting.ts), or null. */
    boundBy: string | null;
  };
  connections: ConnectionAccounting & { requested: number; connected: number; connectFailed: number };
  /** Jain's index over per-connection answers inside the window (1 = all served alike). */
  fairness: number | null;
  /** Correct answers inside the window, per connection (churn: per loop). */
  perConnection: number[];
  /** Mix runs: per request kind (in the mix's order), its answers and raw latency. */
  perKind: KindResult[] | null;
  idle: { requested: number; held: number; refused: number; failed: number; aliveAtEnd: number };
  offeredRate?: number;
}

export interface LoadHooks {
  /** Every connection (and idle connection) is open; load has not started. */
  onReady?(info: { connected: number; idleHeld: number }): void | Promise<void>;
  onMeasureStart?(): void;
  onMeasureEnd?(): void;
}

const WORKER_URL = new URL('./worker.ts', import.meta.url);

export interface KindResult extends KindCounters {
  name: string;
  /** Wrong answers and losses of in-window requests of this kind. */
  errors: number;
  /** Latency of its correct in-window answers, µs, as recorded (no coordinated-omission correction). */
  latencyUs: Percentiles;
}

/** The few distinct requests a run rotates through, with the answer each must get. */
export function makeVariants(spec: Pick<LoadSpec, 'op' | 'payloadBytes' | 'workN' | 'sleepMs'>, count = 4): RequestVariant[] {
  const out: RequestVariant[] = [];
  if (spec.op === 'mix') return out; // each connection makes its own (bench/mix/source.ts)
  for (let i = 0; i < count; i++) {
    if (spec.op === 'echo') {
      const payload = randomBytes(spec.payloadBytes ?? 64);
      out.push({ frame: encodeFrame(Op.ECHO, payload), op: Op.ECHO, payload });
    } else if (spec.op === 'work') {
      const n = spec.workN ?? 1000;
      const seed = randomBytes(16);
      const p = Buffer.allocUnsafe(4 + seed.length);
      p.writeUInt32BE(n, 0);
      seed.copy(p, 4);
      // Digests computed once here, so checking an answer costs the client a compare, not 1 ms.
      out.push({ frame: encodeFrame(Op.WORK, p), op: Op.WORK, payload: workDigest(n, seed) });
    } else {
      const p = Buffer.allocUnsafe(4);
      p.writeUInt32BE(spec.sleepMs ?? 10, 0);
      out.push({ frame: encodeFrame(Op.SLEEP, p), op: Op.SLEEP, payload: Buffer.alloc(0) });
    }
  }
  return out;
}

/** Splits n into k near-equal non-negative parts. */
export function split(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

// Histogram helpers live in the harness; re-exported for the load generator's callers.
export { mergeHistograms, summarize, type Percentiles } from '../../harness/histogram.ts';

/** Per-kind counters and histograms of every thread, merged (null unless a mix ran). */
function perKindOf(spec: LoadSpec, done: DoneMsg[]): KindResult[] | null {
  if (spec.op !== 'mix' || !spec.mixFile) return null;
  const names = loadMix(spec.mixFile).kinds.map((k) => k.name);
  return names.map((name, i) => {
    const c = done.reduce((acc, d) => (d.perKind?.[i] ? addKindCounters(acc, d.perKind[i].counters) : acc), emptyKindCounters());
    const h = mergeHistograms(done.flatMap((d) => (d.perKind?.[i] ? [d.perKind[i].histogram] : [])));
    const errors = Object.values(c.errorFrames).reduce((a, b) => a + b, 0) + c.mismatch + c.closed + c.unanswered;
    return { name, ...c, errors, latencyUs: summarize(h) };
  });
}

export async function runLoad(spec: LoadSpec, hooks: LoadHooks = {}): Promise<LoadResult> {
  const threads = Math.max(1, Math.min(spec.threads ?? 2, Math.max(spec.connections, 1)));
  const variants = makeVariants(spec);
  const conns = split(spec.connections, threads);
  const idle = split(spec.idleConnections ?? 0, threads);
  const rates = conns.map((c) => ((spec.ratePerSec ?? 0) * c) / Math.max(1, spec.connections));
  const graceMs = spec.graceMs ?? Math.min(2000, Math.max(500, spec.durationMs / 4));
  const workers = conns.map((c, i) => {
    const connOffset = conns.slice(0, i).reduce((a, b) => a + b, 0);
    const cfg: WorkerConfig = {
      host: spec.host,
      port: spec.port,
      mode: spec.mode,
      variants,
      connections: c,
      pipeline: spec.pipeline ?? 1,
      ratePerSec: rates[i]!,
      idle: idle[i]!,
      connectTimeoutMs: spec.connectTimeoutMs ?? 10_000,
      graceMs,
      spin: spec.spin ?? false,
      mixFile: spec.op === 'mix' ? (spec.mixFile ?? null) : null,
      connOffset,
    };
    return new Worker(WORKER_URL, { workerData: cfg });
  });
  const failures: Error[] = [];
  const inbox = workers.map((w) => {
    const queue: (ReadyMsg | DoneMsg)[] = [];
    const waiters: ((m: ReadyMsg | DoneMsg) => void)[] = [];
    w.on('message', (m: ReadyMsg | DoneMsg) => (waiters.length ? waiters.shift()!(m) : queue.push(m)));
    w.on('error', (err) => failures.push(err as Error));
    const exit = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    return {
      next: (): Promise<ReadyMsg | DoneMsg> =>
        queue.length
          ? Promise.resolve(queue.shift()!)
          : Promise.race([
              new Promise<ReadyMsg | DoneMsg>((resolve) => waiters.push(resolve)),
              exit.then(() => {
                throw failures[0] ?? new Error('load-generator thread exited early');
              }),
            ]),
    };
  });
  try {
    const ready = (await Promise.all(inbox.map((b) => b.next()))) as ReadyMsg[];
    const connected = ready.reduce((s, r) => s + r.connected, 0);
    const idleHeld = ready.reduce((s, r) => s + r.idleHeld, 0);
    await hooks.onReady?.({ connected, idleHeld });

    const startAt = nowMs() + 20;
    const schedule = { startAt, measureFrom: startAt + spec.warmupMs, measureTo: startAt + spec.warmupMs + spec.durationMs };
    for (const w of workers) w.postMessage({ type: 'go', schedule });
    let cpu0 = process.cpuUsage();
    let cpu1 = cpu0;
    let t0 = schedule.measureFrom;
    let t1 = schedule.measureTo;
    const marks = new Promise<void>((resolve) => {
      setTimeout(() => {
        cpu0 = process.cpuUsage();
        t0 = nowMs();
        hooks.onMeasureStart?.();
        setTimeout(() => {
          cpu1 = process.cpuUsage();
          t1 = nowMs();
          hooks.onMeasureEnd?.();
          resolve();
        }, Math.max(0, schedule.measureTo - nowMs()));
      }, Math.max(0, schedule.measureFrom - nowMs()));
    });
    const done = (await Promise.all(inbox.map((b) => b.next()))) as DoneMsg[];
    await marks;

    const raw = mergeHistograms(done.map((d) => d.histogram));
    // The open loop's schedule already counts every wait; a closed loop's must be corrected.
    const co = spec.mode === 'open' ? null : correctClosedLoop(raw);
    const merged = co?.corrected ?? raw;
    const counters = done.reduce((acc, d) => addCounters(acc, d.counters), emptyCounters());
    const windowMs = spec.durationMs;
    const cpuUserUs = cpu1.user - cpu0.user;
    const cpuSystemUs = cpu1.system - cpu0.system;
    const perConnection = done.flatMap((d) => d.perConnection);
    const latencyUs = summarize(merged);
    const latencyRawUs = co ? summarize(raw) : null;
    const perThread = done.map((d) => ({
      cores: (d.self.busyUs ?? d.self.cpuUs) / 1000 / windowMs,
      waitShare: d.self.runqueueWaitUs === null ? null : d.self.runqueueWaitUs / 1000 / windowMs,
      loopDelayP99Us: d.self.loopDelayP99Us,
    }));
    const result: LoadResult = {
      windowMs,
      requests: counters.ok,
      throughput: counters.ok / (windowMs / 1000),
      bytesPerSec: counters.bytes / (windowMs / 1000),
      latencyUs,
      latencyRawUs,
      coIntervalUs: co?.intervalUs ?? null,
      histogram: encodeHistogram(merged),
      errors: { ...counters, total: errorTotal(counters) },
      firstError: [...ready, ...done].find((m) => m.firstError)?.firstError,
      client: {
        threads,
        spin: spec.spin ?? false,
        cpuUserUs,
        cpuSystemUs,
        cores: (cpuUserUs + cpuSystemUs) / 1000 / Math.max(1, t1 - t0),
        perThread,
        loopDelayP99Us: Math.max(0, ...perThread.map((t) => t.loopDelayP99Us)),
        // Against the raw samples: the client's own delay is inside each of them.
        boundBy: clientBoundReason(perThread, (latencyRawUs ?? latencyUs).p99),
      },
      connections: {
        ...accountConnections(perConnection),
        requested: spec.mode === 'churn' ? 0 : spec.connections,
        connected,
        connectFailed: ready.reduce((s, r) => s + r.connectFailed, 0),
      },
      fairness: jainIndex(perConnection),
      perConnection,
      perKind: perKindOf(spec, done),
      idle: {
        requested: spec.idleConnections ?? 0,
        held: idleHeld,
        refused: ready.reduce((s, r) => s + r.idleRefused, 0),
        failed: ready.reduce((s, r) => s + r.idleFailed, 0),
        aliveAtEnd: done.reduce((s, d) => s + d.idleAliveAtEnd, 0),
      },
    };
    if (spec.mode === 'open') result.offeredRate = spec.ratePerSec;
    merged.destroy();
    if (co) raw.destroy();
    return result;
  } finally {
    for (const w of workers) void w.terminate();
  }
}
