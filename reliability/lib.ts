// What every fault shares: its context (variant, scale, seed), the shape of its result, and the
// Recorder that builds one. Servers, clients, process statistics, variants and fixtures come
// from the harness layer (harness/), which the benchmark and the tests use too. Used both by
// `make reliability` (reliability/run.ts) and by the small fault tests in test/faults/.
import type { ProcStats } from '../harness/proc-tree.ts';
import { startModelServer, type ServerProcess } from '../harness/server.ts';
import type { Variant } from '../harness/variants.ts';

export type { Variant };
export type Scale = 'test' | 'quick' | 'full';

export interface FaultContext {
  variant: Variant;
  scale: Scale;
  /** Progress lines (the runner prints them; tests drop them). */
  log(msg: string): void;
  /** Seed for generated inputs (fuzz). */
  seed?: number;
  /** Soak duration override (seconds). */
  soakSeconds?: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface FaultResult {
  fault: string;
  model: string;
  variant: string;
  /** 'pass', 'fail', 'limitation' (a documented, measured shortcoming), 'n/a' (does not apply). */
  status: 'pass' | 'fail' | 'limitation' | 'n/a';
  /** One line: why it passed/failed, or the limitation. */
  reason: string;
  load: string;
  injected: string;
  inputs: number;
  lost: number;
  crashes: number;
  peakRssMb: number;
  recoveryMs: number | null;
  durationMs: number;
  checks: Check[];
  metrics: Record<string, unknown>;
}

/** Collects checks and figures; `result()` turns them into a FaultResult. */
export class Recorder {
  readonly checks: Check[] = [];
  readonly metrics: Record<string, unknown> = {};
  load = '';
  injected = '';
  inputs = 0;
  lost = 0;
  crashes = 0;
  peakRss = 0;
  recoveryMs: number | null = null;
  limitation: string | null = null;
  notApplicable: string | null = null;
  /** Appended to the reason of a passing row. */
  reasonNote = '';
  readonly #started = performance.now();
  readonly #fault: string;
  readonly #variant: Variant;

  constructor(fault: string, variant: Variant) {
    this.#fault = fault;
    this.#variant = variant;
  }

  check(name: string, ok: boolean, detail?: string): boolean {
    this.checks.push({ name, ok, ...(detail === undefined ? {} : { detail }) });
    return ok;
  }

  /**
   * RSS of one idle child, from the first sample that has children (0 while none): what a
   * model's per-connection child costs before it holds any data. Memory checks judge the RSS
   * beyond that fixed cost (see beyondChildren), so the process model's one child per
   * connection — a cost the benchmark reports — is not mistaken for data piling up.
   */
  idleChildRss: number | null = null;
  /** Peak of beyondChildren() over the samples. */
  peakBeyondChildren = 0;

  sample(stats: ProcStats): ProcStats {
    this.peakRss = Math.max(this.peakRss, stats.rss);
    if (this.idleChildRss === null && stats.children > 0) this.idleChildRss = (stats.rss - stats.rootRss) / stats.children;
    this.peakBeyondChildren = Math.max(this.peakBeyondChildren, this.beyondChildren(stats));
    return stats;
  }

  /** The tree's RSS less `children` × the idle child's RSS. */
  beyondChildren(stats: ProcStats): number {
    return stats.rss - stats.children * (this.idleChildRss ?? 0);
  }

  result(): FaultResult {
    const failed = this.checks.filter((c) => !c.ok);
    let status: FaultResult['status'] = failed.length ? 'fail' : 'pass';
    let reason = failed.length
      ? failed.map((c) => `${c.name}${c.detail ? ` (${c.detail})` : ''}`).join('; ')
      : `${this.checks.length} checks held${this.reasonNote ? `; ${this.reasonNote}` : ''}`;
    if (this.notApplicable && !failed.length) {
      status = 'n/a';
      reason = this.notApplicable;
    } else if (this.limitation && !failed.length) {
      status = 'limitation';
      reason = this.limitation;
    }
    return {
      fault: this.#fault,
      model: this.#variant.model,
      variant: this.#variant.name,
      status,
      reason,
      load: this.load,
      injected: this.injected,
      inputs: this.inputs,
      lost: this.lost,
      crashes: this.crashes,
      peakRssMb: Math.round((this.peakRss / 2 ** 20) * 10) / 10,
      recoveryMs: this.recoveryMs === null ? null : Math.round(this.recoveryMs),
      durationMs: Math.round(performance.now() - this.#started),
      checks: this.checks,
      metrics: this.metrics,
    };
  }
}

// ── servers ──────────────────────────────────────────────────────────────────────────────

export type Server = ServerProcess;

/** The variant's server (its flags, then `flags`), keeping up to 200 kB of its stderr for the report. */
export function startServer(variant: Variant, flags: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  return startModelServer(variant, flags, { env, stderrCap: 200_000 });
}

/** Scale-dependent numbers: pick(scale, test, quick, full). */
export function pick<T>(scale: Scale, test: T, quick: T, full: T): T {
  return scale === 'test' ? test : scale === 'quick' ? quick : full;
}

export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
