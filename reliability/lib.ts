// What every fault needs: a real server process (the CLI) on 127.0.0.1, port 0; raw and
// closed-loop clients; latency figures; and the shape of a fault's result. Used both by
// `make reliability` (reliability/run.ts) and by the small fault tests in test/faults/.
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawnListening } from '../bench/spawn-listening.ts';
import { FrameClient } from '../src/shared/client.ts';
import { Op, parseError } from '../src/shared/protocol.ts';
import { procStats, type ProcStats } from './procstats.ts';

export const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
export const FAULTY_HANDLER = fileURLToPath(new URL('../test/fixtures/faulty-handler.ts', import.meta.url));

export type Scale = 'test' | 'quick' | 'full';

export interface Variant {
  name: string;
  model: string;
  flags: string[];
}

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

export interface Server {
  port: number;
  pid: number;
  proc: ChildProcess;
  stderr(): string;
  exited: Promise<number | string>;
  /** True while the process has not exited. */
  alive(): boolean;
  stats(): ProcStats;
  /** SIGTERM, wait (SIGKILL after timeoutMs); resolves with the exit code or signal. */
  stop(timeoutMs?: number): Promise<number | string>;
  kill(): Promise<number | string>;
}

export async function startServer(variant: Variant, flags: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const args = [CLI, 'serve', '--model', variant.model, '--port', '0', '--log-level', 'warn', ...variant.flags, ...flags];
  const { proc, port, exited, stderr } = await spawnListening([process.execPath, ...args], { env, stderrCap: 200_000 });
  let done = false;
  void exited.then(() => (done = true));
  const pid = proc.pid!;
  const server: Server = {
    port,
    pid,
    proc,
    stderr,
    exited,
    alive: () => !done,
    stats: () => procStats(pid),
    async stop(timeoutMs = 15_000) {
      if (!done) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (!done) proc.kill('SIGKILL');
      return exited;
    },
  };
  return server;
}

// ── clients ──────────────────────────────────────────────────────────────────────────────

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))),
  ]);
}

/** One request on a fresh connection; resolves with the reply's op and payload, or throws. */
export async function oneShot(port: number, op: number, payload: Buffer, timeoutMs = 5000): Promise<{ op: number; payload: Buffer; code?: string }> {
  const c = await FrameClient.connect(port, '127.0.0.1', { timeoutMs });
  try {
    const f = await withTimeout(c.send(op, payload), timeoutMs, 'request');
    return f.op === Op.ERROR ? { ...f, code: parseError(f.payload).code } : f;
  } finally {
    c.socket.destroy();
  }
}

export async function echoOk(port: number, timeoutMs = 5000): Promise<boolean> {
  try {
    const r = await oneShot(port, Op.ECHO, Buffer.from('ping'), timeoutMs);
    return r.op === Op.ECHO && r.payload.toString() === 'ping';
  } catch {
    return false;
  }
}

export interface LoadResult {
  ok: number;
  /** Requests that got a wrong answer or an ERROR frame. */
  errors: number;
  /** Requests sent whose connection failed before the answer. */
  lost: number;
  /** Connections that failed (reset/closed under a client). */
  connFailures: number;
  latenciesMs: number[];
  errorCodes: Record<string, number>;
}

export interface LoadOptions {
  port: number;
  clients: number;
  /** Stop after this long… */
  durationMs?: number;
  /** …or once this many requests have been answered per client. */
  requestsPerClient?: number;
  /** Builds request i of client c: [op, payload, expected payload or null to accept any non-error]. */
  request?: (c: number, i: number) => [number, Buffer, Buffer | null];
  /** Pause between requests per client (ms), for a paced (open-ish) load. */
  pauseMs?: number;
  /** Stop early when this returns true (checked between requests). */
  stop?: () => boolean;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Reconnect after a failure (true) or end that client (false). */
  reconnect?: boolean;
  /** Close and reopen the connection every n requests (churn). */
  churnEvery?: number;
  /** Called with each answered request's latency (ms). */
  onLatency?: (ms: number) => void;
}

const defaultRequest = (c: number, i: number): [number, Buffer, Buffer | null] => {
  const p = Buffer.from(`${c}:${i}:${'x'.repeat(48)}`);
  return [Op.ECHO, p, p];
};

/** Closed-loop clients: each sends one request, awaits and checks the answer, repeats. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const res: LoadResult = { ok: 0, errors: 0, lost: 0, connFailures: 0, latenciesMs: [], errorCodes: {} };
  const deadline = o.durationMs ? performance.now() + o.durationMs : Infinity;
  const build = o.request ?? defaultRequest;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const one = async (c: number) => {
    let i = 0;
    let client: FrameClient | null = null;
    let sinceConnect = 0;
    while (performance.now() < deadline && !(o.requestsPerClient && i >= o.requestsPerClient) && !o.stop?.()) {
      try {
        if (!client || o.churnEvery && sinceConnect >= o.churnEvery) {
          client?.socket.destroy();
          client = null;
          client = await FrameClient.connect(o.port, '127.0.0.1', { timeoutMs });
          sinceConnect = 0;
        }
      } catch {
        res.connFailures++;
        await sleep(20);
        if (o.reconnect === false) return;
        continue;
      }
      const [op, payload, expected] = build(c, i++);
      sinceConnect++;
      const t0 = performance.now();
      try {
        const f = await withTimeout(client.send(op, payload), timeoutMs, 'request');
        const ms = performance.now() - t0;
        res.latenciesMs.push(ms);
        o.onLatency?.(ms);
        if (f.op === Op.ERROR) {
          res.errors++;
          const code = parseError(f.payload).code;
          res.errorCodes[code] = (res.errorCodes[code] ?? 0) + 1;
        } else if (f.op !== op || (expected && !f.payload.equals(expected))) {
          res.errors++;
          res.errorCodes.WRONG_ANSWER = (res.errorCodes.WRONG_ANSWER ?? 0) + 1;
        } else res.ok++;
      } catch {
        res.lost++;
        res.connFailures++;
        client.socket.destroy();
        client = null;
        if (o.reconnect === false) return;
      }
      if (o.pauseMs) await sleep(o.pauseMs);
    }
    client?.socket.destroy();
  };
  await Promise.all(Array.from({ length: o.clients }, (_, c) => one(c)));
  return res;
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** Opens a raw socket to 127.0.0.1 (optionally from a given local address); resolves once connected. */
export function rawConnect(port: number, localAddress?: string, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Scale-dependent numbers: pick(scale, test, quick, full). */
export function pick<T>(scale: Scale, test: T, quick: T, full: T): T {
  return scale === 'test' ? test : scale === 'quick' ? quick : full;
}

/** Models whose handlers run away from the main thread and can be preempted by ending that thread/child. */
export const THREAD_MODELS = new Set(['thread', 'thread-pool', 'offload']);
export const PROCESS_MODELS = new Set(['process', 'process-pool']);
/**
 * Models that start a thread or fork a child for every connection: their connection rate is
 * bounded by that start-up (a fork also blocks the accept loop while it runs), and each start
 * costs CPU the other connections feel. Faults that need thousands of connections in a fixed
 * time record that bound as a measured limitation instead of a failure, once all else held.
 */
export const START_PER_CONNECTION: Record<string, string> = { process: 'a fork per connection', thread: 'a thread start per connection' };

/** The value of a `--flag n` in a variant's flags, else the default. */
export function flagValue(variant: Variant, flag: string, fallback: number): number {
  const i = variant.flags.lastIndexOf(flag);
  return i >= 0 ? Number(variant.flags[i + 1]) : fallback;
}

/**
 * How many connections the variant serves at once before new ones wait in its queue (Infinity
 * for models that multiplex without bound). Connection-bound models (one thread or child per
 * connection, or a fixed pool of them) can be filled by slow peers: queued connections are not
 * read until served, so their timeouts only start then.
 */
export function connectionCapacity(variant: Variant): number {
  switch (variant.model) {
    case 'thread':
      return flagValue(variant, '--max-threads', 256);
    case 'thread-pool':
      return flagValue(variant, '--threads', 2) * flagValue(variant, '--connections-per-thread', 1);
    case 'process':
      return flagValue(variant, '--max-processes', 64);
    default:
      return Infinity;
  }
}
