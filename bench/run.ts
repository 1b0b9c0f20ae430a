#!/usr/bin/env node
// `make bench`: every model in src/models/registry.ts (plus the bare Node echo reference and an
// echo server this project did not write) through every workload; writes
//   results/<date>-<short sha>/results.json, charts (SVG), report.md  and  results/latest.md.
//
// Exit codes: 0 the run finished and its outputs are written (cells that failed are recorded in
// them with their error); 1 the harness itself failed (nothing or partial written); 2 bad usage.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { git } from './git.ts';
import { runMain } from './cli-args.ts';
import { hideBin } from 'yargs/helpers';
import { MODEL_NAMES } from '../src/models/registry.ts';
import { calibrateWork, type Calibration } from './calibrate.ts';
import { runCell, type CellSpec } from './cell.ts';
import { DEFAULT_CLIENT_THREADS, DEFAULT_PLACEMENT, describePlacement, parsePlacement, tasksetAvailable, type Placement } from './placement.ts';
import { commandOptions } from './report/model-facts.ts';
import { DEFAULT_ROUNDS, SCHEMA_VERSION, type CellResult, type RunResults } from './results.ts';
import { PYTHON_TARGET, pythonAvailable, REFERENCE_TARGET, type Target } from './server-proc.ts';
import { WORKLOAD_NAMES, WORKLOADS, withOverrides, type Workload } from './workloads.ts';
import { codecBench } from './micro/codec.ts';
import { rttBench } from './micro/rtt.ts';
import { handoffBench } from './micro/handoff.ts';
import { connectionFloor, spawnReference } from './micro/spawn.ts';
import { threadHop } from './micro/hop.ts';
import { parallelCeiling } from './micro/parallel-ceiling.ts';
import { writeReport } from './report.ts';
import { checkConsistency } from './mix/consistency.ts';
import { EXIT_HANDLER, HandlerLoadError, prepareMix, type MixRun } from './mix/prepare.ts';
import { profileHandler } from './mix/profile.ts';
import { MixError } from './mix/types.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const list = (v: unknown): string[] =>
  ([] as unknown[])
    .concat(v ?? [])
    .flatMap((x) => String(x).split(','))
    .map((s) => s.trim())
    .filter(Boolean);


function fdLimit(): number | null {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const fmtDur = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

class Progress {
  readonly total: number;
  done = 0;
  readonly started = Date.now();
  readonly tty = process.stderr.isTTY === true;
  #estimateMs: number;
  #spent = 0;
  constructor(total: number, estimatePerCellMs: number) {
    this.total = total;
    this.#estimateMs = estimatePerCellMs;
  }
  show(label: string): void {
    const width = 28;
    const filled = Math.round((this.done / Math.max(1, this.total)) * width);
    const perCell = this.done ? this.#spent / this.done : this.#estimateMs;
    const eta = (this.total - this.done) * perCell;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} cells  ${fmtDur(Date.now() - this.started)} elapsed, ETA ${fmtDur(eta)}  ${label}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    else process.stderr.write(`${line}\n`);
  }
  tick(ms: number): void {
    this.done++;
    this.#spent += ms;
  }
  end(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

export async function main(argv = hideBin(process.argv)): Promise<number> {
  const y = yargs(argv)
    .scriptName('bench/run.ts')
    .usage(
      'Usage: node bench/run.ts [options]   (or: make bench [QUICK=1] BENCH_ARGS="…", or: switchboard bench …)\n\n' +
        'Runs every model through the fixed workloads, each cell on a fresh server process, the load generator in its\n' +
        'own process (worker threads), server CPU/RSS of the whole process tree read from /proc over the measured window.\n' +
        `Models (from src/models/registry.ts): ${MODEL_NAMES.join(', ')}\nWorkloads: ${WORKLOAD_NAMES.join(', ')}`,
    )
    .option('quick', { type: 'boolean', default: false, describe: 'short run (≤ 3 min): one round, 0.25 s warm-up + 0.75 s windows, idle-10k scaled to 1,000, echo-64B at c=32 only' })
    .option('rounds', { type: 'number', describe: 'times every cell runs, interleaved (round 1 of every cell, then round 2, …) so machine drift hits every server alike; tables show the median and the range (default 3, quick 1)' })
    .option('models', { type: 'string', array: true, describe: 'models to bench (comma-separated or repeated); default: every registered model' })
    .option('workloads', { type: 'string', array: true, describe: `workloads (default: all): ${WORKLOAD_NAMES.join(', ')}` })
    .option('duration', { type: 'number', describe: 'measured seconds per cell and round (default 2.5, quick 0.75: a full run stays within 20 min on 2 cores — 19m31s at 3 s)' })
    .option('warmup', { type: 'number', describe: 'warm-up seconds per cell, excluded from every figure except the age of requests still unanswered (default 1, quick 0.25)' })
    .option('connections', { alias: 'c', type: 'string', describe: 'override the concurrency levels of the selected workloads, e.g. 1,64' })
    .option('pipeline', { type: 'number', describe: 'requests in flight per connection (closed loop; default 1)' })
    .option('idle', { type: 'number', describe: 'idle-10k: idle connections to hold (default 10000; quick 1000)' })
    .option('payload', { type: 'number', describe: 'ECHO payload bytes for echo workloads (overrides 64 B / 64 KiB)' })
    .option('sleep-ms', { type: 'number', describe: 'sleep-10ms: SLEEP milliseconds' })
    .option('rate', { type: 'number', describe: 'echo-64B-open: fixed requests/s instead of 50% of measured capacity' })
    .option('work-n', { type: 'number', describe: 'work-1ms: WORK iteration count (default: calibrated so a request costs ≈1 ms CPU)' })
    .option('client-threads', { type: 'number', default: DEFAULT_CLIENT_THREADS, describe: 'load-generator worker threads' })
    .option('cpus', { type: 'string', default: describePlacement(DEFAULT_PLACEMENT), describe: `CPU placement through taskset${tasksetAvailable ? '' : ' (not found here: ignored)'}: server=LIST,client=LIST, or none (${WORKLOADS.filter((w) => w.placement === 'shared').map((w) => w.name).join(', ')}: always unpinned, the server on every CPU)` })
    .option('reference', { type: 'boolean', default: true, describe: 'include the bare Node net echo server (the Node ceiling); --no-reference to skip' })
    .option('external', { type: 'boolean', default: true, describe: "include Python's socketserver echo (validation: a server this project did not write)" })
    .option('micro', { type: 'boolean', default: true, describe: 'run the tinybench micro-benchmarks (codec, unloaded RTT per model, each hand-off)' })
    .option('target', { type: 'string', describe: 'bench a server that is already running, e.g. 10.0.0.5:7070 (another host: server CPU/RSS only through --agent)' })
    .option('agent', { type: 'string', array: true, describe: 'with --target: a `switchboard agent` HOST:PORT on a server host (repeat for several hosts); its CPU and RSS over the window become the cell\'s server figures' })
    .option('label', { type: 'string', default: 'remote', describe: 'row name for --target' })
    .option('out', { type: 'string', default: path.join(ROOT, 'results'), describe: 'results directory' })
    .option('server-flags', { type: 'string', describe: 'extra flags for every `switchboard serve`, e.g. "--threads 4"' })
    .option('handler', { type: 'string', describe: 'your handler module (as `serve --handler`); with --mix, every model runs it' })
    .option('mix', { type: 'string', describe: 'your traffic mix (JSON, docs/MIX.md): replaces the fixed workloads with closed loop at 1,16,64 (or --connections), open loop at 50% of each model\'s capacity on it, and churn; answers checked against the mix and across models' })
    .example('make bench', 'the full matrix (≤ 20 min on 2 cores)')
    .example('make bench QUICK=1', 'a short run (≤ 3 min)')
    .example('node bench/run.ts --models event-loop,thread-pool --workloads echo-64B,work-1ms --duration 5', 'a subset')
    .example('node bench/run.ts --target 10.0.0.5:7070 --label thread-pool --workloads echo-64B', 'a server on another host')
    .example('switchboard bench --handler examples/kv-sqlite/handler.ts --mix examples/kv-sqlite/mix.json', 'your handler and traffic under every model')
    .epilogue(
      'Exit codes: 0 run complete (failed cells are recorded with their error), 1 the harness failed, 2 bad usage.\n' +
        'Another host: start `switchboard serve --model M --host 0.0.0.0 --port 7070 --max-connections 10100 --idle-timeout 0` there,\n' +
        'then run with --target HOST:7070 here. Server CPU/RSS cannot be read across hosts: they are left empty, unless\n' +
        '`switchboard agent --pid PID --host 0.0.0.0` runs on each server host and --agent HOST:9100 names it here.',
    )
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(120, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`${msg}\nRun with --help for usage.`);
      process.exit(2);
    });
  const a = await y.parseAsync();
  const quick = a.quick;
  const warmupMs = Math.round((a.warmup ?? (quick ? 0.25 : 1)) * 1000);
  const durationMs = Math.round((a.duration ?? (quick ? 0.75 : 2.5)) * 1000);
  const rounds = a.rounds ?? (quick ? 1 : DEFAULT_ROUNDS);
  const notes: string[] = [];
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error('bench/run.ts: --rounds takes a positive integer');
    return 2;
  }
  let placement: Placement;
  try {
    placement = parsePlacement(a.cpus);
  } catch (err) {
    console.error(`bench/run.ts: ${(err as Error).message}`);
    return 2;
  }
  if (rounds === 1) notes.push(`Each cell ran once (one round): no ranges, and no winner can be told from noise; a full run repeats every cell ${DEFAULT_ROUNDS} times.`);
  if ((placement.server || placement.client) && !tasksetAvailable) notes.push(`--cpus ${a.cpus} was asked for, but taskset is not on this machine: nothing was pinned.`);
  const usage = (m: string) => {
    console.error(`bench/run.ts: ${m}`);
    return 2;
  };

  // ── what to run ──
  let targets: Target[];
  if (a.target) {
    const m = /^(.+):(\d+)$/.exec(a.target);
    if (!m) return usage(`--target must be HOST:PORT, got ${a.target}`);
    const agents = (a.agent ?? []).map(String);
    for (const x of agents) if (!/^.+:\d+$/.test(x)) return usage(`--agent must be HOST:PORT, got ${x}`);
    targets = [{ name: a.label, kind: 'remote', host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), agents }];
  } else {
    const models = list(a.models);
    for (const m of models) if (!MODEL_NAMES.includes(m as never) && m !== REFERENCE_TARGET.name && m !== PYTHON_TARGET.name) return usage(`unknown model "${m}"; registered: ${MODEL_NAMES.join(', ')}`);
    if (a.agent?.length) return usage('--agent needs --target (a local server is measured from /proc directly)');
    const chosen = models.length ? models : [...MODEL_NAMES];
    targets = [];
    if (a.reference || chosen.includes(REFERENCE_TARGET.name)) targets.push(REFERENCE_TARGET);
    targets.push(...chosen.filter((m) => m !== REFERENCE_TARGET.name && m !== PYTHON_TARGET.name).map((name) => ({ name, kind: 'model' as const })));
    if (a.external || chosen.includes(PYTHON_TARGET.name)) {
      if (pythonAvailable()) targets.push(PYTHON_TARGET);
      else notes.push('Python 3 not found: the external echo-server validation was skipped.');
    }
  }
  // ── your handler and mix ──
  let mixRun: MixRun | null = null;
  if (a.mix) {
    try {
      mixRun = await prepareMix(a.mix, a.handler);
    } catch (err) {
      if (err instanceof MixError) return usage(err.message);
      if (err instanceof HandlerLoadError) {
        console.error(`bench/run.ts: ${err.message}`);
        return EXIT_HANDLER;
      }
      throw err;
    }
    targets = targets.filter((t) => t.kind === 'model' || t.kind === 'remote');
  } else if (a.handler) return usage('--handler needs --mix: the fixed workloads speak only the built-in ops (see docs/MIX.md)');
  const wanted = list(a.workloads);
  const known = mixRun ? mixRun.workloads.map((w) => w.name) : WORKLOAD_NAMES;
  for (const w of wanted) if (!known.includes(w)) return usage(`unknown workload "${w}"; choose from ${known.join(', ')}`);
  const connections = a.connections ? list(a.connections).map(Number) : undefined;
  if (connections?.some((c) => !Number.isInteger(c) || c < 1)) return usage('--connections takes positive integers, e.g. 1,32');

  const limit = fdLimit();
  let idle = a.idle ?? (quick ? 1000 : 10_000);
  if (limit !== null && idle + 600 > limit) {
    const scaled = Math.max(100, limit - 600);
    notes.push(`idle-10k: the open-file limit is ${limit}, so ${scaled} idle connections were held instead of ${idle} (raise it with \`ulimit -n\`).`);
    idle = scaled;
  } else if (idle !== 10_000) notes.push(`idle-10k held ${idle} idle connections (${quick ? 'QUICK run' : '--idle'}), not 10,000.`);
  const workloads = (mixRun ? mixRun.workloads : WORKLOADS).filter((w) => !wanted.length || wanted.includes(w.name)).map((w) => {
    const o = withOverrides(w, { connections, pipeline: a.pipeline, idleConnections: idle, payloadBytes: a.payload, sleepMs: a['sleep-ms'] });
    if (quick && !connections && w.name === 'echo-64B') o.connections = [32];
    return o;
  });

  // ── identity of the run ──
  const sha = git(['rev-parse', 'HEAD']) || 'unknown';
  const short = sha.slice(0, 7);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']).length > 0;
  const started = new Date();
  const stamp = started.toISOString().replace(/:\d\d\.\d+Z$/, '').replace(':', '').replace('T', '-');
  const runId = `${stamp}-${short}${mixRun ? `-${mixRun.handlerName}` : ''}${quick ? '-quick' : ''}`;
  const outDir = path.join(a.out, runId);
  if (dirty) notes.push('The working tree had uncommitted changes to tracked files when this ran (commit.dirty).');
  if (os.availableParallelism() <= 2) notes.push(`This machine has ${os.availableParallelism()} cores: the load generator and the server share them, so client CPU is reported next to every figure.`);

  const workN = a['work-n'] ?? null;
  let calibration: Calibration | null = null;
  if (workloads.some((w) => w.op === 'work')) {
    calibration = workN ? { workN, targetUs: NaN, measuredUs: NaN, usPerRound: NaN, method: 'set by --work-n' } : calibrateWork(1000);
    process.stderr.write(`work-1ms: WORK n = ${calibration.workN} (≈${Math.round(calibration.measuredUs)} µs CPU here)\n`);
  }

  // ── plan ──
  interface Planned {
    target: Target;
    workload: Workload;
    connections: number;
  }
  const plan: Planned[] = [];
  for (const target of targets) {
    for (const w of workloads) {
      if (target.kind !== 'model' && !w.reference) continue;
      if (target.kind === 'external' && !['echo-64B', 'echo-64KiB'].includes(w.name)) continue;
      const levels = target.kind === 'external' && w.name === 'echo-64B' ? w.connections.filter((c) => c === 32).concat() : w.connections;
      for (const c of levels.length ? levels : w.connections.slice(0, 1)) plan.push({ target, workload: w, connections: c });
    }
  }
  const overheadMs = 1500;
  const progress = new Progress(plan.length * rounds, warmupMs + durationMs + overheadMs);
  const cells: CellResult[] = [];
  const serverFlags = a['server-flags'] ? a['server-flags'].split(/\s+/).filter(Boolean) : [];

  const results: RunResults = {
    schema: SCHEMA_VERSION,
    run: { id: runId, startedAt: started.toISOString(), finishedAt: '', wallMs: 0, quick, argv, flags: { warmupMs, durationMs, rounds, cpus: describePlacement(placement), clientThreads: a['client-threads'], idle, connections: connections ?? null, pipeline: a.pipeline ?? null, rate: a.rate ?? null, serverFlags } },
    machine: { cpuModel: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), kernel: os.release(), platform: os.platform(), arch: os.arch(), totalMemBytes: os.totalmem(), fdLimit: limit },
    node: { version: process.version, v8: process.versions.v8 },
    commit: { sha, short, dirty },
    calibration,
    servers: targets.map((t) => ({ name: t.name, kind: t.kind })),
    workloads,
    cells,
    micro: null,
    notes,
  };

  /** Closed-loop echo-64B capacity of a server measured in this run (max over c), or a quick probe. */
  const capacity = async (target: Target, open: Workload): Promise<number> => {
    const of = open.capacityOf ?? 'echo-64B';
    const measured = cells.filter((c) => c.server === target.name && c.workload === of && c.ok).map((c) => c.throughput ?? 0);
    if (measured.length) return Math.max(...measured);
    const closed = (mixRun?.workloads ?? WORKLOADS).find((w) => w.name === of)!;
    const probe = await runCell({ target, workload: closed, connections: 32, warmupMs: 300, durationMs: Math.min(2000, durationMs), clientThreads: a['client-threads'], serverFlags, cpus: placement });
    notes.push(`${open.name} on ${target.name}: capacity taken from a ${Math.min(2000, durationMs)} ms closed-loop probe at c=32 (${of} was not in this run): ${Math.round(probe.throughput ?? 0)} req/s.`);
    return probe.throughput ?? 0;
  };

  if (mixRun) {
    const { mix } = mixRun;
    process.stderr.write(`your handler (${mixRun.handlerName}): profiling ${mix.kinds.length} request kind(s) …\n`);
    const profile = await profileHandler(mixRun.handler, mixRun.handlerUrl, mix, { budgetMs: quick ? 150 : 400 });
    if (profile.exited) notes.push(`The handler ended its process (status ${profile.exited.status}) while being profiled on "${profile.exited.kind}": kinds after it have no profile.`);
    const models = targets.filter((t) => t.kind === 'model').map((t) => t.name);
    process.stderr.write(`same request, same answer: ${models.length} model(s) …\n`);
    const consistency = models.length ? await checkConsistency(models, mixRun.handler, mix, mixRun.checks, { requests: quick ? 60 : 200 }) : null;
    if (consistency && !consistency.ok) notes.push(`Models did not all answer the same requests alike: see "Same request, same answer".`);
    results.mix = { file: path.relative(ROOT, mix.file) || mix.file, name: mix.name, handler: mixRun.handler === 'builtin' ? 'builtin' : path.relative(ROOT, mixRun.handler), kinds: mix.kinds.map((k) => ({ name: k.name, op: k.op, weight: k.weight })), profile, consistency };
  }

  // Interleaved rounds: round 1 of every cell, then round 2, … so a slow minute of a shared
  // machine lands on every server's samples, not on one server's.
  // The reference start-up cells, once per round with the cells they are the floor of (churn
  // under thread and process): on the server's CPUs, so they pay what its starts pay.
  // The machine's parallel ceiling, once per round right before its first shared-placement cell.
  const sharedAt = plan.findIndex((p) => p.workload.placement === 'shared');
  if (sharedAt >= 0) results.parallelCeiling = [];
  const refKinds = (['worker', 'fork'] as const).filter((k) => !mixRun && plan.some((p) => p.workload.loop === 'churn' && p.target.name === (k === 'worker' ? 'thread' : 'process')));
  if (refKinds.length) results.spawnRefs = [];
  // The floor under offload's unloaded p50: needs offload's and event-loop's c=1 echo cells.
  const hops = !mixRun && (['offload', 'event-loop'] as const).every((m) => plan.some((p) => p.target.name === m && p.workload.name === 'echo-64B' && p.connections === 1));
  if (hops) results.threadHops = [];
  for (let round = 1; round <= rounds; round++) for (const [i, p] of plan.entries()) {
    if (i === 0) {
      for (const kind of refKinds) {
        progress.show(`${rounds > 1 ? `round ${round}/${rounds} ` : ''}reference: bare ${kind === 'worker' ? 'new Worker()' : 'fork()'} ×20`);
        try {
          results.spawnRefs!.push(await spawnReference(kind, round, { n: quick ? 8 : 20, cpus: placement.server }));
        } catch (err) {
          notes.push(`Reference start-up cell (${kind}, round ${round}) failed: ${(err as Error).message.split('\n')[0]}`);
        }
        const floor = kind === 'worker' ? 'worker-floor' : 'fork-floor';
        progress.show(`${rounds > 1 ? `round ${round}/${rounds} ` : ''}floor: a plain ${kind === 'worker' ? 'thread' : 'child'} per connection ×20`);
        try {
          results.spawnRefs!.push(await connectionFloor(floor, round, { n: quick ? 8 : 20, serverCpus: placement.server, clientCpus: placement.client }));
        } catch (err) {
          notes.push(`Floor cell (${floor}, round ${round}) failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      if (hops) {
        progress.show(`${rounds > 1 ? `round ${round}/${rounds} ` : ''}floor: a bare thread hop and back`);
        try {
          results.threadHops!.push(...(await threadHop(round, { n: quick ? 1000 : 5000, cpus: placement.server })));
        } catch (err) {
          notes.push(`Thread-hop floor (round ${round}) failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    if (i === sharedAt) {
      progress.show(`${rounds > 1 ? `round ${round}/${rounds} ` : ''}the machine's parallel ceiling`);
      try {
        results.parallelCeiling!.push(await parallelCeiling(round, { ms: quick ? 200 : 400 }));
      } catch (err) {
        notes.push(`Parallel ceiling probe (round ${round}) failed: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    progress.show(`${rounds > 1 ? `round ${round}/${rounds} ` : ''}${p.target.name} ${p.workload.name} c=${p.connections}`);
    const spec: CellSpec = {
      target: p.target,
      workload: p.workload,
      connections: p.connections,
      warmupMs,
      durationMs,
      workN: calibration?.workN,
      clientThreads: a['client-threads'],
      serverFlags: p.target.kind === 'model' ? serverFlags : [],
      graceMs: quick ? 500 : undefined,
      // A 'shared' workload measures the server on every CPU: nothing pinned (recorded as cpus "none").
      cpus: p.workload.placement === 'shared' ? {} : placement,
    };
    const t0 = Date.now();
    if (p.workload.loop === 'open') {
      spec.ratePerSec = a.rate ?? Math.max(1, Math.round((await capacity(p.target, p.workload)) * p.workload.rateFraction));
    }
    const r = await runCell(spec);
    r.round = round;
    // What the server ran with, resolved now: a later default must not be read into this run.
    if (r.kind === 'model') r.params.serverOptions = commandOptions(r.server, r.params.serverCommand) ?? undefined;
    cells.push(r);
    progress.tick(Date.now() - t0);
    if (!r.ok && !progress.tty) process.stderr.write(`  ${r.id} failed: ${r.error?.slice(0, 300)}\n`);
  }
  progress.show('done');
  progress.end();

  if (a.micro && !a.target && !mixRun) {
    process.stderr.write('micro-benchmarks: codec, unloaded RTT per model, hand-offs …\n');
    const codec = await codecBench({ timeMs: quick ? 150 : 500 });
    const rtt = await rttBench(targets.filter((t) => t.kind !== 'external'), { timeMs: quick ? 200 : 1000 });
    const handoff = await handoffBench({ timeMs: quick ? 200 : 600 });
    results.micro = { codec, rtt, handoff };
  }

  const finished = new Date();
  results.run.finishedAt = finished.toISOString();
  results.run.wallMs = finished.getTime() - started.getTime();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  const summary = await writeReport(results, { outDir, resultsDir: a.out });
  process.stdout.write(`${summary}\n`);
  return 0;
}

if (import.meta.main) await runMain(main, 'bench/run.ts: the harness failed');
