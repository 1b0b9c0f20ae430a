// `make profile`: where a model's server CPU goes under one benchmark workload. The server runs
// with V8's sampling profiler on every thread and in every child (NODE_OPTIONS=--cpu-prof: worker
// threads inherit it, forked children read it from their environment), the benchmark's own load
// generator drives it (bench/loadgen, warm-up then a measured window), and only the samples inside
// that window are counted. Prints, per role (main thread, worker threads, child processes), the
// busy time per request and the top frames by self time, by module, and this project's functions
// by inclusive time; the .cpuprofile files stay for Chrome DevTools or speedscope.
// docs/PERFORMANCE.md quotes its output.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { modelCommand, spawnServer } from '../../harness/server.ts';
import { sampleTree } from '../../harness/proc-tree.ts';
import { MODEL_NAMES } from '../../src/models/registry.ts';
import { calibrateWork } from '../calibrate.ts';
import { loadSpec } from '../cell.ts';
import { parseOrUsage, runMain } from '../cli-args.ts';
import { runLoad } from '../loadgen/load.ts';
import { pinProcess, DEFAULT_PLACEMENT } from '../placement.ts';
import { WORKLOADS, WORKLOAD_NAMES } from '../workloads.ts';
import { aggregate, emptyAggregate, readProfiles, roleOf, top, type Aggregate, type Role } from './cpuprofile.ts';

const monoUs = () => Number(process.hrtime.bigint() / 1000n);

async function main(): Promise<number> {
  const argv = await parseOrUsage(
    yargs(hideBin(process.argv))
      .usage('Usage: node bench/profile/run.ts --model M [--workload W] [options]   (or: make profile MODEL=M WORKLOAD=W)')
      .option('model', { type: 'string', choices: MODEL_NAMES, demandOption: true, describe: 'the model to profile' })
      .option('workload', { type: 'string', choices: WORKLOAD_NAMES, default: 'echo-64B', describe: 'a benchmark workload (bench/workloads.ts)' })
      .option('connections', { alias: 'c', type: 'number', describe: "concurrent connections (default: the workload's largest level up to 32)" })
      .option('warmup', { type: 'number', default: 1, describe: 'seconds of load before the profiled window' })
      .option('duration', { type: 'number', default: 3, describe: 'seconds profiled' })
      .option('interval', { type: 'number', default: 1000, describe: 'sampling interval, µs (V8 default; at 1000 the profiler costs the offload server ≈ 30% of its echo throughput here, finer costs more)' })
      .option('top', { type: 'number', default: 12, describe: 'rows per table' })
      .option('server-flags', { type: 'string', default: '', describe: 'extra `serve` flags, e.g. "--threads 4"' })
      .option('keep', { type: 'string', describe: 'directory to keep the .cpuprofile files in (default: a temporary one, removed)' })
      .option('out', { type: 'string', describe: 'also write the tables to this markdown file' })
      .check((a) => {
        if (!(a.duration > 0) || !(a.warmup >= 0)) throw new Error('--duration must be > 0 and --warmup ≥ 0');
        if (a.workload === 'idle-10k') throw new Error('idle-10k holds connections idle: profile echo-64B, work-1ms, sleep-10ms, churn or echo-64KiB');
        return true;
      })
      .example('make profile MODEL=offload WORKLOAD=echo-64B', 'offload under 32 closed-loop echo connections')
      .example('node bench/profile/run.ts --model thread --workload churn --keep /tmp/p', 'and keep the profiles'),
    'profile',
  );
  if (!argv) return 2;
  const w = WORKLOADS.find((x) => x.name === argv.workload)!;
  const connections = argv.connections ?? Math.max(...w.connections.filter((c) => c <= 32), Math.min(...w.connections));
  const dir = argv.keep ?? mkdtempSync(join(tmpdir(), 'switchboard-profile-'));
  const workN = w.op === 'work' ? calibrateWork().workN : undefined;
  const flags = [...w.serverFlags, ...argv.serverFlags.split(/\s+/).filter(Boolean)];
  // Threads and children from the .ts sources (src/models/entries.ts), so frames name our modules
  // (src/shared/connection.ts…), not one bundle; the code run is the same.
  const env = { SWITCHBOARD_ENTRIES: 'source', ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=${argv.interval}`.trim() };
  const srv = await spawnServer(modelCommand(argv.model, flags), { env, name: `serve --model ${argv.model}` });
  // Pinned as make bench pins the workload's cells (a 'shared' workload: not at all).
  if (w.placement !== 'shared') {
    pinProcess(srv.pid, DEFAULT_PLACEMENT.server);
    pinProcess(process.pid, DEFAULT_PLACEMENT.client);
  }
  let from = 0;
  let to = 0;
  let cpu0 = 0;
  let cpu1 = 0;
  let result;
  try {
    // The benchmark's own spec for this workload; one client thread, in this process, not busy-polling.
    const spec = loadSpec({ target: { name: argv.model, kind: 'model' }, workload: w, connections, warmupMs: argv.warmup * 1000, durationMs: argv.duration * 1000, workN, clientThreads: 1 }, srv);
    result = await runLoad(
      spec,
      {
        onMeasureStart: () => {
          from = monoUs();
          cpu0 = sampleTree(srv.pid).cpuUs;
        },
        onMeasureEnd: () => {
          to = monoUs();
          cpu1 = sampleTree(srv.pid).cpuUs;
        },
      },
    );
  } finally {
    // A graceful stop: every thread and child writes its profile as it exits.
    await srv.stop(15_000);
  }
  const files = readProfiles(dir);
  const roles = new Map<Role, Aggregate>();
  for (const f of files) {
    const role = roleOf(f, srv.pid);
    const a = roles.get(role) ?? emptyAggregate();
    aggregate(f.profile, a, from, to);
    roles.set(role, a);
  }
  const n = Math.max(1, result.requests);
  const unit = w.loop === 'churn' ? 'connection' : 'request';
  const perReq = (us: number) => fmt(us / n);
  const lines: string[] = [];
  lines.push(`## ${argv.model} — ${w.name}, c=${connections}${argv.serverFlags ? `, serve ${argv.serverFlags}` : ''}`);
  lines.push('');
  lines.push(
    `\`node bench/profile/run.ts --model ${argv.model} --workload ${w.name} -c ${connections} --duration ${argv.duration} --interval ${argv.interval}${argv.serverFlags ? ` --server-flags "${argv.serverFlags}"` : ''}\`: ` +
      `${fmt(result.throughput)} ${unit}s/s over ${fmt(result.windowMs / 1000, 1)} s; server tree CPU (/proc) ${perReq(cpu1 - cpu0)} µs per ${unit}; ` +
      `sampled every ${argv.interval} µs (the profiler's own cost is in these figures), ${files.length} profile files.`,
  );
  for (const [role, a] of [...roles].sort()) {
    if (a.profiles === 0) continue;
    lines.push('');
    lines.push(`### ${role} (${a.profiles} with samples in the window): busy ${perReq(a.busyUs)} µs per ${unit}, idle ${perReq(a.idleUs)} µs`);
    lines.push('');
    lines.push(`| self, top frames | µs/${unit} | share |`, '|---|--:|--:|');
    for (const [k, us] of top(a.self, argv.top)) lines.push(`| \`${k}\` | ${perReq(us)} | ${pct(us, a.busyUs)} |`);
    lines.push('');
    lines.push(`| self, by module | µs/${unit} | share |`, '|---|--:|--:|');
    for (const [k, us] of top(a.modules, argv.top)) lines.push(`| \`${k}\` | ${perReq(us)} | ${pct(us, a.busyUs)} |`);
    if (a.ownInclusive.size) {
      lines.push('');
      lines.push(`| this project's functions, inclusive | µs/${unit} | share |`, '|---|--:|--:|');
      for (const [k, us] of top(a.ownInclusive, argv.top)) lines.push(`| \`${k}\` | ${perReq(us)} | ${pct(us, a.busyUs)} |`);
    }
  }
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  if (argv.out) writeFileSync(argv.out, text);
  if (argv.keep) console.error(`profiles kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  return 0;
}

const fmt = (x: number, digits = x >= 100 ? 0 : 1) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '–');

await runMain(main, 'profile');
