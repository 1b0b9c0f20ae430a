#!/usr/bin/env node
// `make bench-validate`: checks the instrument. The benchmark's load generator (bench/loadgen/,
// Node worker threads, HDR histograms) and an independent C client (echo-client.c) drive the
// same servers — the bare Node echo, event-loop and process-pool — at c = 1 and c = 32 with a
// 64-byte ECHO, a fresh server per run, in interleaved rounds and with the same CPU placement.
// If the harness reads more than 10% under the C client on throughput, or 25% off on p99, it is
// measuring itself rather than the server. Writes results/validate.md.
//
// Exit codes: 0 the report is written (a missed target is reported, not a failure; no C compiler
// is reported too); 1 the tool itself failed; 2 bad usage.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { killServersOnSignal } from '../../harness/server.ts';
import { coresBetween, procAvailable, sampleTree, type TreeSample } from '../../harness/proc-tree.ts';
import { parseOrUsage } from '../cli-args.ts';
import { git } from '../git.ts';
import { hideBin } from 'yargs/helpers';
import { MODEL_NAMES } from '../../src/models/registry.ts';
import { runCell } from '../cell.ts';
import { clientSpins, DEFAULT_CLIENT_THREADS, DEFAULT_PLACEMENT, describePlacement, parsePlacement, tasksetAvailable, type Placement } from '../placement.ts';
import { REFERENCE_TARGET, startTarget, type Target } from '../server-proc.ts';
import { findWorkload, withOverrides } from '../workloads.ts';
import { buildClient, findCompiler, runCClient } from './c-client.ts';
import { CLIENT_LABEL, CLIENTS, renderNoCompiler, renderReport, verdicts, type ClientName, type RunFigures, type Series, type ValidateRun } from './report.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKLOAD = 'echo-64B';
/** The bare Node client (node-client.mjs): the floor under any Node load generator. */
const NODE_CLIENT = [process.execPath, fileURLToPath(new URL('./node-client.mjs', import.meta.url))];

// The benchmark's own defaults (bench/placement.ts): this tool checks the figures `make bench`
// publishes, so it runs with the placement and load-thread count `make bench` uses (on the 2-core
// VM: server=1, client=0, one load thread — the closest to the C client of those tried).
export const DEFAULT_CPUS = describePlacement(DEFAULT_PLACEMENT);

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);


function target(name: string): Target {
  if (name === REFERENCE_TARGET.name) return REFERENCE_TARGET;
  if ((MODEL_NAMES as string[]).includes(name)) return { name, kind: 'model' };
  throw new Error(`--servers: unknown server "${name}"; choose from ${[REFERENCE_TARGET.name, ...MODEL_NAMES].join(', ')}`);
}

interface Plan {
  rounds: number;
  warmupMs: number;
  durationMs: number;
  placement: Placement;
  clientThreads: number;
  targets: Target[];
  connections: number[];
}

/** One harness run through runCell (fresh server, pinned like the C client). */
async function harnessRun(p: Plan, t: Target, c: number, round: number): Promise<RunFigures> {
  const cell = await runCell({
    target: t,
    workload: withOverrides(findWorkload(WORKLOAD), { connections: [c] }),
    connections: c,
    warmupMs: p.warmupMs,
    durationMs: p.durationMs,
    clientThreads: p.clientThreads,
    cpus: p.placement,
  });
  if (!cell.ok || !cell.latencyUs) throw new Error(cell.error ?? 'no figures');
  if (cell.firstError && !cell.throughput) throw new Error(cell.firstError);
  // latencyUs is coordinated-omission corrected; latencyRawUs is what the C client's plain
  // percentiles compare with (a load generator from before the correction has only latencyUs).
  const raw = cell.latencyRawUs ?? cell.latencyUs;
  const corrected = cell.latencyRawUs ? cell.latencyUs : null;
  return {
    round,
    throughput: cell.throughput ?? 0,
    p50Us: raw.p50,
    p90Us: raw.p90,
    p99Us: raw.p99,
    p999Us: raw.p999,
    maxUs: raw.max,
    p99CoUs: corrected?.p99 ?? null,
    errors: cell.errors?.total ?? 0,
    clientCores: cell.client?.cores ?? null,
    serverCores: cell.serverTree?.cores ?? null,
    activeConnections: cell.connections?.served ?? null,
    boundBy: cell.client?.boundBy ?? null,
  };
}

/**
 * One run of an independent client (the C client, or the bare Node client: `command` is how to
 * start it, with the same arguments and JSON line): a fresh server the same way runCell starts
 * it (same flags, same CPUs).
 */
async function cRun(command: string[], p: Plan, t: Target, c: number, round: number): Promise<RunFigures> {
  const w = findWorkload(WORKLOAD);
  const flags = [...(t.kind === 'model' ? ['--drain-timeout', '1'] : []), ...w.serverFlags];
  const srv = await startTarget(t, flags, { cpus: p.placement.server });
  try {
    // The server tree's CPU over the C client's window, read from /proc as runCell reads it: 100 ms
    // inside each edge (the client's connect and warm-up start with the spawn; its window follows).
    const tree = srv.pid !== null && procAvailable ? srv.pid : null;
    const at = (ms: number) => new Promise<TreeSample | null>((resolve) => setTimeout(() => resolve(tree === null ? null : sampleTree(tree)), ms));
    const s0 = at(p.warmupMs + 100);
    const s1 = at(p.warmupMs + p.durationMs - 100);
    const r = await runCClient(command, { host: srv.host, port: srv.port, connections: c, payloadBytes: w.payloadBytes, warmupMs: p.warmupMs, durationMs: p.durationMs, cpus: p.placement.client, busyPoll: clientSpins(p.placement, p.clientThreads) });
    if (srv.exitStatus() !== null) throw new Error(`the server exited during the run (status ${srv.exitStatus()}): ${srv.stderr().slice(-500)}`);
    return {
      round,
      throughput: r.throughput,
      p50Us: r.p50Us,
      p90Us: r.p90Us,
      p99Us: r.p99Us,
      p999Us: r.p999Us,
      maxUs: r.maxUs,
      p99CoUs: r.p99CoUs,
      errors: r.errors + r.mismatches,
      clientCores: (r.cpuUserS + r.cpuSysS) / r.windowS,
      serverCores: coresBetween(await s0, await s1),
      activeConnections: r.activeConnections,
      boundBy: null,
    };
  } finally {
    await srv.stop(3000).catch(() => null);
  }
}

async function measure(bin: string, p: Plan, log: (s: string) => void): Promise<{ series: Series[]; failures: string[] }> {
  const series: Series[] = p.targets.flatMap((t) => p.connections.map((c) => ({ server: t.name, connections: c, runs: { harness: [], c: [], node: [] } })));
  const steps = p.targets.flatMap((t) => p.connections.flatMap((c) => (CLIENTS as readonly ClientName[]).map((client) => ({ t, c, client }))));
  const failures: string[] = [];
  const started = Date.now();
  const total = p.rounds * steps.length;
  for (let round = 1; round <= p.rounds; round++) {
    // Interleaved: every server × client once per round, the start rotated each round by one more
    // than the clients per series (so which client of a series goes first rotates too), so drift
    // touches every client alike.
    const offset = ((round - 1) * (CLIENTS.length + 1)) % steps.length;
    const order = [...steps.slice(offset), ...steps.slice(0, offset)];
    for (const [i, st] of order.entries()) {
      const done = (round - 1) * steps.length + i;
      const eta = done ? `${Math.round(((Date.now() - started) / done) * (total - done) / 1000)} s` : '?';
      const label = `round ${round}/${p.rounds} [${done + 1}/${total}] ${st.t.name} c=${st.c} ${CLIENT_LABEL[st.client]}`;
      try {
        const f = st.client === 'harness' ? await harnessRun(p, st.t, st.c, round) : await cRun(st.client === 'c' ? [bin] : NODE_CLIENT, p, st.t, st.c, round);
        series.find((s) => s.server === st.t.name && s.connections === st.c)!.runs[st.client].push(f);
        const cores = (f.clientCores === null ? '' : `, client ${f.clientCores.toFixed(2)} cores`) + (f.serverCores === null ? '' : `, server ${f.serverCores.toFixed(2)} cores`);
        const co = f.p99CoUs === null ? '' : ` (CO-corrected ${Math.round(f.p99CoUs)})`;
        log(`${label}: ${Math.round(f.throughput).toLocaleString('en-US')} req/s, p99 ${Math.round(f.p99Us)} µs${co}${cores}${f.errors ? `, ${f.errors} errors` : ''}${f.boundBy ? `; client-bound: ${f.boundBy}` : ''} (ETA ${eta})`);
      } catch (err) {
        const msg = `${label}: ${(err as Error).message.split('\n')[0]}`;
        failures.push(msg);
        log(`${msg} — FAILED, continuing`);
      }
    }
  }
  return { series, failures };
}

export async function main(argv = hideBin(process.argv)): Promise<number> {
  const args = await parseOrUsage(
    yargs(argv)
      .scriptName('bench-validate')
      .usage(
        '$0 [options]\n\nRuns the load generator and an independent C client (bench/validate/echo-client.c) against the same\nservers in interleaved rounds and writes results/validate.md: medians, ratios harness ÷ C, verdicts\n(targets: throughput within 10%, p99 within 25%, for the bare Node echo). make bench-validate.',
      )
      .option('rounds', { type: 'number', describe: 'interleaved rounds (default 9: the fewest whose 95% interval of the median leaves out the most extreme round on each side; --quick 1)' })
      .option('duration', { type: 'number', describe: 'measured seconds per run (default 2: short runs keep the clients of one round close in time on a host whose speed changes within seconds; --quick 1)' })
      .option('warmup', { type: 'number', describe: 'warm-up seconds per run, not counted (default 1; --quick 0.5)' })
      .option('cpus', { type: 'string', default: DEFAULT_CPUS, describe: `CPU placement for server and both clients (taskset${tasksetAvailable ? '' : ', not found here: ignored'}): server=LIST,client=LIST, or none` })
      .option('client-threads', { type: 'number', default: DEFAULT_CLIENT_THREADS, describe: 'load-generator worker threads (the C client always has one)' })
      .option('servers', { type: 'string', default: `${REFERENCE_TARGET.name},event-loop,process-pool`, describe: `comma-separated: ${REFERENCE_TARGET.name} and/or model names` })
      .option('connections', { type: 'string', default: '1,32', describe: 'comma-separated concurrency levels' })
      .option('quick', { type: 'boolean', default: false, describe: 'one short round: a smoke test, not a verdict' })
      .option('out', { type: 'string', default: path.join(ROOT, 'results/validate.md'), describe: 'report file' })
      .check((a) => {
        for (const k of ['rounds', 'duration', 'warmup', 'client-threads'] as const) {
          const v = a[k];
          if (v !== undefined && !(Number.isFinite(v) && v >= (k === 'warmup' ? 0 : k === 'duration' ? 0.1 : 1))) throw new Error(`--${k}: got ${v}`);
        }
        parsePlacement(a.cpus);
        list(a.servers).forEach(target);
        if (!list(a.connections).every((c) => Number.isInteger(Number(c)) && Number(c) >= 1)) throw new Error(`--connections: expected positive integers, got "${a.connections}"`);
        return true;
      }),
    'bench-validate',
  );
  if (!args) return 2;
  const startedAt = new Date().toISOString();
  const load0 = os.loadavg()[0]!;
  const started = Date.now();
  const command = ['node bench/validate/run.ts', ...argv].join(' ');
  const out = path.resolve(args.out);
  mkdirSync(path.dirname(out), { recursive: true });
  const log = (s: string) => console.log(`bench-validate: ${s}`);

  const compiler = findCompiler();
  if (!compiler) {
    writeFileSync(out, renderNoCompiler(startedAt, command));
    log(`no C compiler (cc, gcc, clang) found: nothing measured; wrote ${path.relative(ROOT, out)} saying so.`);
    return 0;
  }
  const bin = buildClient(compiler.cc);
  log(`built ${path.relative(ROOT, bin)} with ${compiler.cc} (${compiler.version})`);

  const placement = parsePlacement(args.cpus);
  const plan: Plan = {
    rounds: args.rounds ?? (args.quick ? 1 : 9),
    warmupMs: Math.round((args.warmup ?? (args.quick ? 0.5 : 1)) * 1000),
    durationMs: Math.round((args.duration ?? (args.quick ? 1 : 2)) * 1000),
    placement,
    clientThreads: args['client-threads'],
    targets: list(args.servers).map(target),
    connections: list(args.connections).map(Number),
  };
  if (Object.keys(placement).length && !tasksetAvailable) log('taskset not found: --cpus is recorded but not applied');
  const { series, failures } = await measure(bin, plan, log);

  const cpus = os.cpus();
  const run: ValidateRun = {
    startedAt,
    wallMs: Date.now() - started,
    commit: { short: git(['rev-parse', '--short', 'HEAD']), dirty: git(['status', '--porcelain']) !== '' },
    machine: `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, kernel ${os.release()}`,
    loadAvg: [load0, os.loadavg()[0]!],
    node: process.version,
    cc: compiler.version,
    command,
    settings: { rounds: plan.rounds, warmupMs: plan.warmupMs, durationMs: plan.durationMs, payloadBytes: findWorkload(WORKLOAD).payloadBytes, placement: describePlacement(placement), taskset: tasksetAvailable, clientThreads: plan.clientThreads, busyPoll: clientSpins(placement, plan.clientThreads) },
    series,
    failures,
  };
  writeFileSync(out, renderReport(run));
  for (const s of series) {
    const vs = verdicts(s);
    const [t, p, pc] = vs;
    const f = (v: typeof t) => (v!.ratio === null ? '   —' : v!.ratio.toFixed(2));
    log(`${s.server.padEnd(14)} c=${String(s.connections).padEnd(3)} harness÷C throughput ${f(t)}  p99 ${f(p)}  p99 CO-corrected ${f(pc)}${t!.applies ? `  ${vs.every((v) => v.within) ? 'targets met' : 'TARGET MISSED'}` : ''}`);
  }
  log(`${Math.round(run.wallMs / 1000)} s; ${failures.length} failed run(s); report in ${path.relative(ROOT, out)}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  killServersOnSignal();
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`bench-validate: failed: ${(err as Error).stack ?? err}`);
      process.exit(1);
    },
  );
}
