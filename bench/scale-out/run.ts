// `make scale-out`: N switchboard instances on two simulated server hosts behind HAProxy (TCP mode,
// PROXY protocol v2, leastconn, an INFO health check), benched by the ordinary harness
// (`bench/run.ts --target … --agent …`) from a simulated client host. The hosts are the network
// namespaces scripts/scale-out/netns.sh makes (198.18.0.0/15, no route out); this file starts and
// stops everything inside them and writes results/scale-out.md + .json.
//
// Scenarios: 1, 2 and 4 instances (interleaved rounds inside each harness run); a run with 4
// where one instance is SIGKILLed mid-window; a run where one is set to `drain` in HAProxy's
// runtime API and then sent SIGTERM. HAProxy's own counters (bytes to each server) give the share
// each instance served; its runtime API gives when it marked the killed one DOWN.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CLI, spawnServer, type ServerProcess } from '../../harness/server.ts';
import { sleep } from '../../harness/time.ts';
import { sampleTree } from '../../harness/proc-tree.ts';
import { MODEL_NAMES } from '../../src/models/registry.ts';
import { parseOrUsage, runMain } from '../cli-args.ts';
import type { RunResults } from '../results.ts';
import { renderScaleOut, type ScaleOutReport, type EventRun, type CountRun } from './report.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN = path.join(ROOT, 'bench/run.ts');
const AGENT = path.join(ROOT, 'bench/agent.ts');
const NODE = process.execPath;
const NS = { cli: 'sbso-cli', lb: 'sbso-lb', srv: ['sbso-srv1', 'sbso-srv2'] } as const;
const FRONTEND = { host: '198.18.0.1', port: 7070 };
const SERVER_IP = ['198.18.1.2', '198.18.2.2'];
const AGENT_PORT = 9100;
const BASE_PORT = 7071;
/** HAProxy health check cadence: `inter` ms between checks, `fall` failures to mark DOWN. */
const CHECK = { interMs: 500, fall: 2, rise: 2 };

const inNs = (ns: string, cmd: readonly string[]) => ['ip', 'netns', 'exec', ns, ...cmd];

interface Instance {
  name: string; // HAProxy server name, s1…
  host: number; // 0 or 1
  port: number;
  server: ServerProcess;
}

// ── HAProxy ────────────────────────────────────────────────────────────────────────────────

function haproxyConfig(instances: { name: string; host: number; port: number }[], socket: string): string {
  // INFO is the health check: the frame 00000001 04, answered by op 0x04 and JSON starting {"model".
  const servers = instances
    .map((i) => `  server ${i.name} ${SERVER_IP[i.host]}:${i.port} send-proxy-v2 check inter ${CHECK.interMs}ms fall ${CHECK.fall} rise ${CHECK.rise}`)
    .join('\n');
  return `# Written by bench/scale-out/run.ts for one scenario; explained in docs/DEPLOY.md.
global
  # Two fds per proxied connection: within the 20,000 open files this VM allows a process.
  maxconn 8000
  stats socket ${socket} mode 600 level admin
  log stderr format short local0 notice

defaults
  mode tcp
  log global
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # A connection refused by a dead instance is retried on another one.
  retries 3
  option redispatch

frontend switchboard_in
  bind ${FRONTEND.host}:${FRONTEND.port}
  default_backend switchboard

backend switchboard
  balance leastconn
  option tcp-check
  tcp-check send-binary 0000000104
  tcp-check expect binary 047b226d6f64656c22
${servers}
`;
}

/** One command on HAProxy's runtime API (a unix socket: reachable from any network namespace). */
function runtimeApi(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let out = '';
    const timer = setTimeout(() => c.destroy(new Error(`runtime API: no answer to "${command}" in 3 s`)), 3000);
    c.on('connect', () => c.end(`${command}\n`));
    c.on('data', (d) => (out += d));
    c.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    c.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

interface ServerStat {
  status: string;
  bytesIn: number; // client → server bytes HAProxy forwarded to it
  sessions: number; // connections opened to it so far (stot)
  current: number; // connections open to it now (scur)
}

/** `show stat` → backend servers by name. */
async function serverStats(socket: string): Promise<Map<string, ServerStat>> {
  const csv = await runtimeApi(socket, 'show stat');
  const lines = csv.split('\n').filter((l) => l.trim());
  const header = lines[0]!.replace(/^# /, '').split(',');
  const col = (name: string) => header.indexOf(name);
  const out = new Map<string, ServerStat>();
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[col('pxname')] !== 'switchboard' || ['BACKEND', 'FRONTEND'].includes(f[col('svname')]!)) continue;
    out.set(f[col('svname')]!, { status: f[col('status')]!, bytesIn: Number(f[col('bin')]), sessions: Number(f[col('stot')]), current: Number(f[col('scur')]) });
  }
  return out;
}

// ── one topology: N instances, their agents, HAProxy ─────────────────────────────────────────

class Deployment {
  readonly instances: Instance[] = [];
  readonly #agents: ServerProcess[] = [];
  #haproxy: ReturnType<typeof spawn> | null = null;
  #haproxyLog = '';
  readonly socket: string;
  readonly n: number;
  readonly model: string;
  readonly serverFlags: string[];
  readonly work: string;

  constructor(n: number, model: string, serverFlags: string[], work: string) {
    this.n = n;
    this.model = model;
    this.serverFlags = serverFlags;
    this.work = work;
    this.socket = path.join(work, `haproxy-${n}.sock`);
  }

  /** Instance i lives on host i % 2: 1 → server1; 2 → one per host; 4 → two per host. */
  async start(): Promise<void> {
    for (let i = 0; i < this.n; i++) {
      const host = i % 2;
      const port = BASE_PORT + Math.floor(i / 2);
      const cmd = [NODE, CLI, 'serve', '--model', this.model, '--host', SERVER_IP[host]!, '--port', String(port), '--proxy-protocol', '--idle-timeout', '0', '--max-connections', '10100', '--log-level', 'warn', ...this.serverFlags];
      const server = await spawnServer(inNs(NS.srv[host]!, cmd), { name: `instance s${i + 1}`, startTimeoutMs: 30_000 });
      this.instances.push({ name: `s${i + 1}`, host, port, server });
    }
    for (let host = 0; host < Math.min(2, this.n); host++) {
      const pids = this.instances.filter((x) => x.host === host).flatMap((x) => ['--pid', String(x.server.pid)]);
      const cmd = [NODE, AGENT, ...pids, '--host', SERVER_IP[host]!, '--port', String(AGENT_PORT)];
      this.#agents.push(await spawnServer(inNs(NS.srv[host]!, cmd), { name: `agent on server${host + 1}`, startTimeoutMs: 15_000 }));
    }
    const cfg = path.join(this.work, `haproxy-${this.n}.cfg`);
    writeFileSync(cfg, haproxyConfig(this.instances, this.socket));
    const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy -c rejected ${cfg}: ${check.stderr || check.stdout}`);
    this.#haproxy = spawn('ip', inNs(NS.lb, ['haproxy', '-db', '-f', cfg]).slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#haproxy.stderr!.on('data', (d) => {
      if (this.#haproxyLog.length < 200_000) this.#haproxyLog += d;
    });
    // Ready when HAProxy's checks (PROXY v2 LOCAL header + INFO) have marked every instance UP.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const stats = await serverStats(this.socket).catch(() => null);
      if (stats && this.instances.every((i) => stats.get(i.name)?.status === 'UP')) return;
      if (Date.now() > deadline) throw new Error(`HAProxy did not mark every instance UP within 20 s: ${JSON.stringify(stats && [...stats])}\n${this.#haproxyLog.slice(-2000)}`);
      await sleep(100);
    }
  }

  get agents(): string[] {
    return this.#agents.map((_, host) => `${SERVER_IP[host]}:${AGENT_PORT}`);
  }

  /** HAProxy's CPU µs so far (it runs on this machine: its /proc is readable from any namespace). */
  haproxyCpuUs(): number {
    const pid = this.#haproxy?.pid;
    return pid ? sampleTree(pid).cpuUs : NaN;
  }

  get haproxyLog(): string {
    return this.#haproxyLog;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.instances.map((i) => i.server.stop(10_000)), ...this.#agents.map((a) => a.stop(3000))]);
    if (this.#haproxy && this.#haproxy.exitCode === null) {
      const gone = new Promise((r) => this.#haproxy!.once('exit', r));
      this.#haproxy.kill('SIGTERM');
      await Promise.race([gone, sleep(3000)]);
      this.#haproxy.kill('SIGKILL');
    }
    rmSync(this.socket, { force: true });
  }
}

// ── the harness, from the client host ─────────────────────────────────────────────────────────

interface HarnessRun {
  results: RunResults;
  stderr: string;
}

function startHarness(label: string, agents: string[], args: string[], outDir: string): { done: Promise<HarnessRun>; stop(): void } {
  const cmd = [NODE, RUN, '--target', `${FRONTEND.host}:${FRONTEND.port}`, '--label', label, ...agents.flatMap((a) => ['--agent', a]), '--no-micro', '--cpus', 'none', '--out', outDir, ...args];
  const child = spawn('ip', inNs(NS.cli, cmd).slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', () => {});
  const done = new Promise<HarnessRun>((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench/run.ts exited ${code}: ${stderr.slice(-2000)}`));
      const file = findResults(outDir);
      resolve({ results: JSON.parse(readFileSync(file, 'utf8')) as RunResults, stderr });
    });
  });
  // A scenario that fails before awaiting `done` stops the run it started (and owns its rejection).
  return { done, stop: () => void (child.exitCode === null && child.kill('SIGTERM')) };
}

function findResults(dir: string): string {
  const out = spawnSync('find', [dir, '-name', 'results.json'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  if (!out.length) throw new Error(`no results.json under ${dir}`);
  return out.sort().at(-1)!;
}

function shares(before: Map<string, ServerStat>, after: Map<string, ServerStat>): Record<string, number> {
  const delta = [...after].map(([name, s]) => [name, s.bytesIn - (before.get(name)?.bytesIn ?? 0)] as const);
  const total = delta.reduce((a, [, d]) => a + d, 0) || 1;
  return Object.fromEntries(delta.map(([name, d]) => [name, d / total]));
}

// ── scenarios ────────────────────────────────────────────────────────────────────────────────

/** An echo-64B request on the wire: u32 length, op, 64 bytes. */
const REQUEST_BYTES = 4 + 1 + 64;

async function countRun(d: Deployment, o: Options): Promise<CountRun> {
  const before = await serverStats(d.socket);
  const cpu0 = d.haproxyCpuUs();
  const out = mkdtempSync(path.join(o.work, `n${d.n}-`));
  const args = ['--workloads', 'echo-64B', '-c', String(o.connections), '--rounds', String(o.rounds), '--duration', String(o.duration)];
  const { results } = await startHarness(`haproxy→${d.n}×${d.model}`, d.agents, args, out).done;
  const after = await serverStats(d.socket);
  const cpu1 = d.haproxyCpuUs();
  // Over the whole harness run (warm-up included), per request HAProxy forwarded (bytes ÷ request size).
  const forwarded = [...after].reduce((a, [k, v]) => a + v.bytesIn - (before.get(k)?.bytesIn ?? 0), 0) / REQUEST_BYTES;
  return {
    instances: d.n,
    cells: results.cells,
    shares: shares(before, after),
    sessions: Object.fromEntries([...after].map(([k, v]) => [k, v.sessions - (before.get(k)?.sessions ?? 0)])),
    haproxyCpuUsPerRequest: [forwarded > 0 ? (cpu1 - cpu0) / forwarded : NaN],
  };
}

async function eventRun(d: Deployment, o: Options, kind: 'kill' | 'drain'): Promise<EventRun> {
  const victim = d.instances[0]!;
  const out = mkdtempSync(path.join(o.work, `${kind}-`));
  const windowS = 8;
  const args = ['--workloads', 'echo-64B', '-c', String(o.connections), '--rounds', '1', '--duration', String(windowS), '--warmup', '1'];
  const before = await serverStats(d.socket);
  const harness = startHarness(`haproxy→${d.n}×${d.model} (${kind} s1)`, d.agents, args, out);
  try {
    return await eventDuring(d, kind, victim, harness, before);
  } catch (err) {
    harness.stop();
    await harness.done.catch(() => {});
    throw err;
  }
}

async function eventDuring(d: Deployment, kind: 'kill' | 'drain', victim: Instance, harness: ReturnType<typeof startHarness>, before: Map<string, ServerStat>): Promise<EventRun> {
  // Node start-up and connecting take about a second, then the 1 s warm-up: 4 s in is ≈ 2 s into the window.
  await sleep(4000);
  const victimConnections = (await serverStats(d.socket)).get(victim.name)?.current ?? 0;
  const at = performance.now();
  const event: EventRun = { kind, instances: d.n, victim: victim.name, victimConnections, cell: null, markedDownMs: null, victimExit: null, victimExitMs: null, shares: {} };
  const exited = victim.server.exited.then((status) => {
    event.victimExit = status;
    event.victimExitMs = performance.now() - at;
  });
  if (kind === 'kill') {
    victim.server.proc.kill('SIGKILL');
    // How long HAProxy's checks take to call it DOWN (polled every 25 ms).
    for (const deadline = at + 15_000; performance.now() < deadline; await sleep(25)) {
      const s = (await serverStats(d.socket)).get(victim.name);
      if (s && s.status.startsWith('DOWN')) {
        event.markedDownMs = performance.now() - at;
        break;
      }
    }
  } else {
    const reply = await runtimeApi(d.socket, `set server switchboard/${victim.name} state drain`);
    if (reply.trim()) throw new Error(`runtime API refused the drain: ${reply.trim()}`);
    await sleep(200); // HAProxy sends it no new connection from here; SIGTERM drains the ones it has
    victim.server.proc.kill('SIGTERM');
  }
  await exited;
  const { results } = await harness.done;
  const after = await serverStats(d.socket);
  event.cell = results.cells[0] ?? null;
  event.shares = shares(before, after);
  return event;
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────

interface Options {
  model: string;
  counts: number[];
  connections: number;
  rounds: number;
  duration: number;
  serverFlags: string[];
  work: string;
  out: string;
}

async function main(): Promise<number> {
  const a = await parseOrUsage(
    yargs(hideBin(process.argv))
      .scriptName('make scale-out')
      .usage(
        'make scale-out [SCALE_OUT_ARGS="…"]   (as root: it creates network namespaces)\n\n' +
          'N switchboard instances on two simulated server hosts behind HAProxy (TCP, PROXY v2, leastconn, INFO health check), ' +
          'benched with bench/run.ts --target from a simulated client host, with 1, 2 and 4 instances; then one instance SIGKILLed ' +
          'mid-run, and one drained through HAProxy\'s runtime API then sent SIGTERM. Writes results/scale-out.md and .json.',
      )
      .option('model', { type: 'string', choices: MODEL_NAMES, default: 'event-loop', describe: 'the model every instance runs' })
      .option('instances', { type: 'string', default: '1,2,4', describe: 'instance counts to bench' })
      .option('connections', { alias: 'c', type: 'number', default: 64, describe: 'closed-loop connections through HAProxy' })
      .option('rounds', { type: 'number', default: 3, describe: 'rounds per instance count (interleaved across counts)' })
      .option('duration', { type: 'number', default: 2.5, describe: 'measured seconds per round' })
      .option('server-flags', { type: 'string', default: '', describe: 'extra `serve` flags for every instance' })
      .option('out', { type: 'string', default: path.join(ROOT, 'results'), describe: 'where scale-out.md and scale-out.json go' }),
    'make scale-out',
  );
  if (!a) return 2;
  if (process.getuid?.() !== 0) {
    console.error('make scale-out: needs root (ip netns, veth pairs); run it as root or with sudo');
    return 2;
  }
  const counts = String(a.instances).split(',').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) {
    console.error(`make scale-out: --instances must be integers 1..8, got ${a.instances}`);
    return 2;
  }
  const o: Options = {
    model: a.model as string,
    counts,
    connections: a.connections as number,
    rounds: a.rounds as number,
    duration: a.duration as number,
    serverFlags: String(a['server-flags']).split(/\s+/).filter(Boolean),
    work: mkdtempSync(path.join(os.tmpdir(), 'scale-out-')),
    out: a.out as string,
  };
  const started = new Date();
  const report: ScaleOutReport = {
    startedAt: started.toISOString(),
    commit: spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim(),
    machine: { cpus: os.availableParallelism(), node: process.version, haproxy: spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0]!, kernel: os.release() },
    model: o.model,
    connections: o.connections,
    rounds: o.rounds,
    durationS: o.duration,
    check: CHECK,
    command: `make scale-out${process.argv.length > 2 ? ` SCALE_OUT_ARGS="${process.argv.slice(2).join(' ')}"` : ''}`,
    counts: [],
    events: [],
  };
  const log = (s: string) => process.stderr.write(`scale-out: ${s}\n`);
  try {
    // Rounds interleave across the counts (1, 2, 4, 1, 2, 4, …) so a slow minute of this shared
    // machine lands on every count; each round is its own harness run with --rounds 1.
    const perCount = new Map<number, CountRun>();
    for (let round = 1; round <= o.rounds; round++) {
      for (const n of counts) {
        log(`round ${round}/${o.rounds}: ${n} instance(s) of ${o.model}`);
        const d = new Deployment(n, o.model, o.serverFlags, o.work);
        try {
          await d.start();
          const run = await countRun(d, { ...o, rounds: 1 });
          const prev = perCount.get(n);
          if (!prev) perCount.set(n, run);
          else {
            prev.cells.push(...run.cells.map((c) => ({ ...c, round })));
            for (const [k, v] of Object.entries(run.shares)) prev.shares[k] = ((prev.shares[k] ?? 0) * (round - 1) + v) / round;
            for (const [k, v] of Object.entries(run.sessions)) prev.sessions[k] = (prev.sessions[k] ?? 0) + v;
            prev.haproxyCpuUsPerRequest.push(...run.haproxyCpuUsPerRequest);
          }
        } finally {
          await d.stop();
        }
      }
    }
    report.counts = counts.map((n) => perCount.get(n)!);
    const eventN = Math.max(...counts);
    for (const kind of ['kill', 'drain'] as const) {
      log(`${kind}: ${eventN} instances, s1 ${kind === 'kill' ? 'SIGKILLed' : 'drained in HAProxy, then SIGTERM'} about 2 s into an 8 s window`);
      const d = new Deployment(eventN, o.model, o.serverFlags, o.work);
      try {
        await d.start();
        report.events.push(await eventRun(d, o, kind));
      } finally {
        await d.stop();
      }
    }
  } finally {
    rmSync(o.work, { recursive: true, force: true });
  }
  report.finishedAt = new Date().toISOString();
  mkdirSync(o.out, { recursive: true });
  writeFileSync(path.join(o.out, 'scale-out.json'), `${JSON.stringify(report, null, 1)}\n`);
  const md = renderScaleOut(report);
  writeFileSync(path.join(o.out, 'scale-out.md'), md);
  process.stdout.write(md);
  return 0;
}

if (import.meta.main) await runMain(main, 'make scale-out');
