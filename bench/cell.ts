// One cell of the matrix: a fresh server process, wait until it listens, the load generator in its
// own process (warm-up, then the measured window), server CPU and memory read from /proc over
// exactly that window, then stop the server. The record it returns is self-contained: it holds
// every parameter needed to read or repeat it (the CI regression report builds on runCell).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { coresBetween, killLeftovers, procAvailable, TreeSampler, type TreeSample } from '../harness/proc-tree.ts';
import { freshStateDir, startTarget, type RunningServer, type Target } from './server-proc.ts';
import type { LoadResult, LoadSpec } from './loadgen/load.ts';
import type { Workload } from './workloads.ts';
import { clientSpins, describePlacement, pinProcess, type Placement } from './placement.ts';
import { cpuBetween, fetchSample, type AgentSample } from './agent.ts';

const CLIENT = fileURLToPath(new URL('./loadgen/client.ts', import.meta.url));

export interface CellSpec {
  target: Target;
  workload: Workload;
  /** Active connections for this cell (one of workload.connections). */
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** WORK n (calibrated) for op work. */
  workN?: number;
  /** Open loop: requests per second. */
  ratePerSec?: number;
  clientThreads?: number;
  graceMs?: number;
  /** Extra server flags after the workload's own. */
  serverFlags?: string[];
  serverEnv?: NodeJS.ProcessEnv;
  /** CPU placement of server and client (taskset); recorded in params.cpus. */
  cpus?: Placement;
}

// The record a cell returns is part of the results schema (bench/results.ts); imported here,
// below the other imports, and re-exported so callers of runCell keep one import.
import type { CellResult } from './results.ts';
export type { CellResult, ServerFigures } from './results.ts';

/** How often a cell samples the server tree for its peaks (see runCell). */
export const SAMPLE_EVERY_MS = 500;

export function cellId(server: string, workload: string, connections: number): string {
  return `${server}/${workload}/c${connections}`;
}

/** The load generator's spec for a cell (bench/profile drives a workload with it too). */
export function loadSpec(s: CellSpec, srv: Pick<RunningServer, 'host' | 'port'>): LoadSpec {
  const w = s.workload;
  return {
    host: srv.host,
    port: srv.port,
    mode: w.loop === 'idle' ? 'closed' : w.loop,
    op: w.op,
    payloadBytes: w.payloadBytes,
    workN: s.workN,
    sleepMs: w.sleepMs,
    mixFile: w.mixFile,
    connections: s.connections,
    pipeline: w.pipeline,
    ratePerSec: s.ratePerSec,
    idleConnections: w.loop === 'idle' ? w.idleConnections : 0,
    warmupMs: s.warmupMs,
    durationMs: s.durationMs,
    threads: s.clientThreads ?? 2,
    graceMs: s.graceMs,
    spin: clientSpins(s.cpus ?? {}, s.clientThreads ?? 2),
  };
}

export async function runCell(s: CellSpec): Promise<CellResult> {
  const w = s.workload;
  const started = Date.now();
  // A short drain: the load generator has closed its connections before the server is stopped.
  const flags = [...(s.target.kind === 'model' ? ['--drain-timeout', '1'] : []), ...w.serverFlags, ...(s.serverFlags ?? [])];
  const base: CellResult = {
    id: cellId(s.target.name, w.name, s.connections),
    server: s.target.name,
    kind: s.target.kind,
    workload: w.name,
    mode: w.loop,
    params: {
      op: w.op,
      payloadBytes: w.op === 'echo' ? w.payloadBytes : 0,
      workN: w.op === 'work' ? (s.workN ?? null) : null,
      sleepMs: w.op === 'sleep' ? w.sleepMs : null,
      connections: s.connections,
      pipeline: w.loop === 'churn' ? 1 : w.pipeline,
      idleConnections: w.loop === 'idle' ? w.idleConnections : 0,
      ratePerSec: s.ratePerSec ?? null,
      warmupMs: s.warmupMs,
      durationMs: s.durationMs,
      clientThreads: s.clientThreads ?? 2,
      serverCommand: [],
      cpus: describePlacement(s.cpus ?? {}),
    },
    round: 1,
    ok: false,
    error: null,
    startedAt: new Date(started).toISOString(),
    wallMs: 0,
    throughput: null,
    mbPerSec: null,
    latencyUs: null,
    errors: null,
    firstError: null,
    client: null,
    connections: null,
    fairness: null,
    perConnection: null,
    serverTree: null,
    timings: { serverStart: 0, connect: 0, load: 0, stop: 0 },
    idle: null,
    histogram: null,
  };

  let srv: RunningServer | null = null;
  let sampler: TreeSampler | null = null;
  let state: ReturnType<typeof freshStateDir> | null = null;
  // The load generator's process starts (and loads its code) while the server starts.
  const child = fork(CLIENT, [], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  // Pinned before it starts its load threads (they inherit the mask).
  if (child.pid) pinProcess(child.pid, s.cpus?.client);
  let stderr = '';
  child.stderr!.on('data', (d) => {
    if (stderr.length < 10_000) stderr += d;
  });
  const childExited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  try {
    if (w.freshState) state = freshStateDir();
    const env = state ? { ...s.serverEnv, ...state.env } : s.serverEnv;
    srv = await startTarget(s.target, flags, { env, cpus: s.cpus?.server });
    base.timings.serverStart = Date.now() - started;
    base.params.serverCommand = srv.command.map((a) => (a.length > 200 ? `${a.slice(0, 40)}…` : a));
    // Every 500 ms: a reading costs ≈ 0.26 ms of /proc reads (5 files at ≈ 55 µs each on this VM)
    // on whichever CPU this process runs, the server's or the load generator's. At 150 ms the
    // bare Node echo's c = 1 p99.9 read 630–760 µs against 290–590 µs at 1 s (4 interleaved runs
    // each), and its corrected p99 1.4–2.3 ms against 1.0–1.8. CPU needs no sampling (two
    // readings, exited children included); only the peaks (RSS, processes) are sampled.
    if (srv.pid !== null && procAvailable) sampler = new TreeSampler(srv.pid, SAMPLE_EVERY_MS);
    const baseline = sampler?.sample() ?? null;
    let ready: TreeSample | null = null;
    let idleHeld = 0;
    let m0: TreeSample | null = null;
    let m1: TreeSample | null = null;
    let peak = 0;
    let peakProcesses = 0;
    // A remote target with agents: the server hosts' own /proc, read at the window's two ends.
    const agents = s.target.kind === 'remote' ? (s.target.agents ?? []) : [];
    // An agent that cannot answer costs the cell its server figures (firstError says why), not its run.
    let agentError: string | null = null;
    const askAgents = (): Promise<AgentSample[] | null> | null =>
      agents.length
        ? Promise.all(agents.map((x) => fetchSample(x))).catch((err: Error) => {
            agentError ??= err.message;
            return null;
          })
        : null;
    let agentsAtStart: Promise<AgentSample[] | null> | null = null;
    let agentsAtEnd: Promise<AgentSample[] | null> | null = null;

    const spec = loadSpec(s, srv);
    const deadline = s.warmupMs + s.durationMs + 90_000;
    const result = await new Promise<LoadResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`load generator did not finish within ${deadline} ms`));
      }, deadline);
      child.on('message', (m: { type: string; result?: LoadResult; error?: string; idleHeld?: number }) => {
        switch (m.type) {
          case 'ready':
            base.timings.connect = Date.now() - started - base.timings.serverStart;
            idleHeld = m.idleHeld ?? 0;
            ready = sampler?.sample() ?? null;
            child.send({ type: 'continue' });
            break;
          case 'measure-start':
            sampler?.resetPeak();
            m0 = sampler?.sample() ?? null;
            agentsAtStart = askAgents();
            break;
          case 'measure-end':
            m1 = sampler?.sample() ?? null;
            agentsAtEnd = askAgents();
            peak = sampler?.peakRssBytes ?? 0;
            peakProcesses = sampler?.peakProcesses ?? 0;
            break;
          case 'result':
            clearTimeout(timer);
            resolve(m.result!);
            break;
          case 'failed':
            clearTimeout(timer);
            reject(new Error(`load generator failed: ${m.error}`));
            break;
        }
      });
      void childExited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`load generator exited (${code}) without a result; stderr: ${stderr.slice(-1500)}`));
      });
      child.send({ type: 'run', spec });
    });

    base.timings.load = Date.now() - started - base.timings.serverStart - base.timings.connect;
    base.throughput = result.throughput;
    base.mbPerSec = result.bytesPerSec / 1e6;
    base.latencyUs = result.latencyUs;
    base.latencyRawUs = result.latencyRawUs;
    base.coIntervalUs = result.coIntervalUs;
    base.errors = result.errors;
    base.firstError = result.firstError ?? null;
    base.client = result.client;
    base.connections = result.connections;
    base.fairness = result.fairness;
    base.perConnection = result.perConnection;
    if (result.perKind) base.perKind = result.perKind;
    base.idle = w.loop === 'idle' ? result.idle : null;
    base.histogram = result.histogram;
    if (sampler && m0 && m1 && baseline) {
      const a = m0 as TreeSample;
      const b = m1 as TreeSample;
      const cpuUs = Math.max(0, b.cpuUs - a.cpuUs);
      const r = ready as TreeSample | null;
      base.serverTree = {
        cpuUs,
        cpuUsPerRequest: result.requests > 0 ? cpuUs / result.requests : null,
        cores: coresBetween(a, b) ?? 0,
        peakRssBytes: peak,
        rssBaselineBytes: baseline.rssBytes,
        rssPerIdleConnBytes: w.loop === 'idle' && r && idleHeld > 0 ? Math.max(0, r.rssBytes - baseline.rssBytes) / idleHeld : null,
        peakProcesses,
      };
      if (!b.alive) throw new Error(`the server exited during the measured window (status ${srv.exitStatus()}); stderr: ${srv.stderr().slice(-1500)}`);
    }
    const [a0, a1] = await Promise.all([agentsAtStart as Promise<AgentSample[] | null> | null, agentsAtEnd as Promise<AgentSample[] | null> | null]);
    if (agentError) base.firstError ??= `server agent: ${agentError}`;
    if (a0 && a1) {
      let cpuUs = 0;
      let cores = 0;
      for (let i = 0; i < a0.length; i++) {
        const d = cpuBetween(a0[i]!, a1[i]!);
        cpuUs += d.cpuUs;
        cores += d.cpuUs / 1000 / Math.max(1, d.ms);
      }
      base.serverTree = {
        cpuUs,
        cpuUsPerRequest: result.requests > 0 ? cpuUs / result.requests : null,
        cores,
        // Two readings, not a sampled peak: the larger of the window's ends.
        peakRssBytes: Math.max(sumOf(a0, 'rssBytes'), sumOf(a1, 'rssBytes')),
        rssBaselineBytes: sumOf(a0, 'rssBytes'),
        rssPerIdleConnBytes: null,
        peakProcesses: Math.max(sumOf(a0, 'processes'), sumOf(a1, 'processes')),
      };
      base.params.agents = agents;
    }
    // The cell ran: its figures stand even when they are zero (a model that answered nothing in
    // the window shows 0 req/s and its errors). ok=false is kept for cells that could not run.
    base.ok = true;
    if (result.requests === 0) base.firstError = `no request completed in the window${result.firstError ? `; first error: ${result.firstError}` : ''}`;
  } catch (err) {
    base.ok = false;
    base.error = (err as Error).message;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      if (child.connected) child.disconnect();
      await childExited;
      clearTimeout(t);
    }
    sampler?.stop();
    const t = Date.now();
    if (srv) await srv.stop(3000).catch(() => null);
    if (sampler) {
      const leftovers = killLeftovers(sampler.seen);
      if (leftovers) base.firstError ??= `${leftovers} process(es) of the server outlived it and were killed`;
    }
    base.timings.stop = Date.now() - t;
    state?.remove();
    base.wallMs = Date.now() - started;
  }
  return base;
}

const sumOf = (samples: AgentSample[], k: 'rssBytes' | 'processes') => samples.reduce((a, x) => a + x[k], 0);
