// "Hand-off costs": what each model pays to move connections and requests between threads and
// processes, as ratios within one run (so the machine's speed cancels): each against the cell it
// is built on — event-loop, the bare Node echo server, the bare Worker/fork start-up cells.
// Each ratio is taken per round (both sides from the same round) and shown as the median with
// the range over rounds. The goals are issue 15's. Pure: rows from RunResults.
import type { HopMode } from '../micro/hop.ts';
import type { SpawnKind } from '../micro/spawn.ts';
import type { CellResult, RunResults } from '../results.ts';
import { spread, type Spread } from './aggregate.ts';
import { ranged } from './format.ts';

type Metric = 'throughput' | 'cpu' | 'p50';

interface Side {
  server: string;
  workload: string;
  c: number;
  metric: Metric;
}

export interface HandoffGoal {
  /** What is compared, in words. */
  what: string;
  a: Side;
  /** The cell it is divided by, or a reference start-up kind. */
  b: Side | { spawn: SpawnKind };
  /** The goal: ratio ≤ max or ≥ min. */
  max?: number;
  min?: number;
  /** A goal of parallel speed-up: out of reach when the server was given fewer CPUs. */
  needsServerCpus?: number;
}

const cell = (server: string, workload: string, c: number, metric: Metric): Side => ({ server, workload, c, metric });
const REF = 'node-net-echo';
/** The speed-up goals' workload: work-1ms with the server on every CPU (bench/workloads.ts). */
const PAR = 'work-1ms-all-cpus';

export const HANDOFF_GOALS: HandoffGoal[] = [
  { what: 'offload: server CPU per request / event-loop’s, echo-64B c=32', a: cell('offload', 'echo-64B', 32, 'cpu'), b: cell('event-loop', 'echo-64B', 32, 'cpu'), max: 2 },
  { what: 'offload: unloaded p50 / event-loop’s, echo-64B c=1', a: cell('offload', 'echo-64B', 1, 'p50'), b: cell('event-loop', 'echo-64B', 1, 'p50'), max: 1.5 },
  { what: 'offload: requests/s / event-loop’s, work-1ms c=16, server on every CPU', a: cell('offload', PAR, 16, 'throughput'), b: cell('event-loop', PAR, 16, 'throughput'), min: 1.8, needsServerCpus: 2 },
  { what: 'thread: server CPU per connection (churn c=8) / a bare new Worker() to first message', a: cell('thread', 'churn', 8, 'cpu'), b: { spawn: 'worker' }, max: 1.5 },
  { what: 'process: server CPU per connection (churn c=8) / a bare fork() to first message', a: cell('process', 'churn', 8, 'cpu'), b: { spawn: 'fork' }, max: 1.5 },
  { what: 'event-loop: requests/s / the bare Node echo’s, echo-64B c=32', a: cell('event-loop', 'echo-64B', 32, 'throughput'), b: cell(REF, 'echo-64B', 32, 'throughput'), min: 0.95 },
  { what: 'event-loop: requests/s / the bare Node echo’s, echo-64B c=256', a: cell('event-loop', 'echo-64B', 256, 'throughput'), b: cell(REF, 'echo-64B', 256, 'throughput'), min: 0.95 },
  { what: 'event-loop: server CPU per request / the bare Node echo’s, echo-64B c=32', a: cell('event-loop', 'echo-64B', 32, 'cpu'), b: cell(REF, 'echo-64B', 32, 'cpu'), max: 1.1 },
  // The bare echo keeps its one CPU busy at c = 256; a pool beats it only with CPUs of its own
  // beyond that one (an echo client sharing them would need as much CPU as the server).
  { what: 'thread-pool: requests/s / the bare Node echo’s, echo-64B c=256', a: cell('thread-pool', 'echo-64B', 256, 'throughput'), b: cell(REF, 'echo-64B', 256, 'throughput'), min: 1.15, needsServerCpus: 2 },
  { what: 'process-pool: requests/s / the bare Node echo’s, echo-64B c=256', a: cell('process-pool', 'echo-64B', 256, 'throughput'), b: cell(REF, 'echo-64B', 256, 'throughput'), min: 1.15, needsServerCpus: 2 },
  { what: 'thread-pool: requests/s / event-loop’s, work-1ms c=16, server on every CPU', a: cell('thread-pool', PAR, 16, 'throughput'), b: cell('event-loop', PAR, 16, 'throughput'), min: 1.8, needsServerCpus: 2 },
  { what: 'process-pool: requests/s / event-loop’s, work-1ms c=16, server on every CPU', a: cell('process-pool', PAR, 16, 'throughput'), b: cell('event-loop', PAR, 16, 'throughput'), min: 1.8, needsServerCpus: 2 },
];

function valueOf(c: CellResult, m: Metric): number | null {
  if (!c.ok) return null;
  if (m === 'throughput') return c.throughput;
  if (m === 'cpu') return c.serverTree?.cpuUsPerRequest ?? null;
  return c.latencyUs?.p50 ?? null;
}

/**
 * CPUs a side's server could use: the fewest over its cells (each records its placement; a cell
 * not pinned had the machine's), or the run's placement for a reference row.
 */
function serverCpusOf(r: RunResults, s: HandoffGoal['b']): number {
  const of = (cpus: unknown) => serverCpuCount(cpus) ?? r.machine.cores;
  if ('spawn' in s) return of(r.run.flags.cpus);
  const cpus = r.cells.filter((c) => c.server === s.server && c.workload === s.workload && c.params.connections === s.c).map((c) => of(c.params.cpus ?? r.run.flags.cpus));
  return cpus.length ? Math.min(...cpus) : of(r.run.flags.cpus);
}

/** Per round: side → value (the round's cell, or the round's reference start-up row). */
function perRound(r: RunResults, s: HandoffGoal['b']): Map<number, number> {
  const out = new Map<number, number>();
  if ('spawn' in s) {
    for (const row of r.spawnRefs ?? []) if (row.kind === s.spawn && row.cpuUsPerStart > 0) out.set(row.round, row.cpuUsPerStart);
    return out;
  }
  for (const c of r.cells) {
    if (c.server !== s.server || c.workload !== s.workload || c.params.connections !== s.c) continue;
    const v = valueOf(c, s.metric);
    if (v !== null && Number.isFinite(v) && v > 0) out.set(c.round ?? 1, v);
  }
  return out;
}

export type HandoffVerdict = 'met' | 'met by the median, not in every round' | 'not met' | 'not measured' | 'out of reach: the server ran on 1 CPU';

export interface HandoffRow {
  goal: HandoffGoal;
  /** Ratio a/b per round where both sides were measured. */
  ratio: Spread | null;
  verdict: HandoffVerdict;
}

/** CPUs the server was pinned to (`server=1,client=0` → 1), or null when not pinned. */
export function serverCpuCount(cpus: unknown): number | null {
  const list = typeof cpus === 'string' ? /server=(.*?)(?:,client=|$)/.exec(cpus)?.[1] : undefined;
  if (!list) return null;
  let n = 0;
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

export function handoffRows(r: RunResults): HandoffRow[] {
  return HANDOFF_GOALS.map((goal) => {
    const serverCpus = serverCpusOf(r, goal.a);
    const a = perRound(r, goal.a);
    const b = perRound(r, goal.b);
    const ratios = [...a].filter(([round]) => b.has(round)).map(([round, v]) => v / b.get(round)!);
    const ratio = spread(ratios);
    const meets = (x: number) => (goal.max !== undefined ? x <= goal.max : x >= goal.min!);
    let verdict: HandoffVerdict = 'not measured';
    if (ratio) {
      // The range's worse end: the largest ratio for a ceiling, the smallest for a floor.
      const worst = goal.max !== undefined ? ratio.max : ratio.min;
      verdict = meets(worst) ? 'met' : meets(ratio.median) ? 'met by the median, not in every round' : 'not met';
      if (verdict !== 'met' && goal.needsServerCpus && serverCpus < goal.needsServerCpus) verdict = 'out of reach: the server ran on 1 CPU';
    }
    return { goal, ratio, verdict };
  });
}

function ratioText(s: Spread | null): string {
  if (!s) return '–';
  const [m, lo, hi] = [s.median, s.min, s.max].map((v) => v.toFixed(2));
  return s.n < 2 || lo === hi ? `${m}×` : `${m}× (${lo}–${hi})`;
}

export function handoffSection(r: RunResults): string[] {
  const rows = handoffRows(r);
  if (rows.every((x) => x.verdict === 'not measured')) return [];
  const L: string[] = [];
  L.push('## Hand-off costs');
  L.push('');
  L.push(
    "_What each model pays to move connections and requests between threads and processes, as ratios within this run: each round's cell divided by the same round's cell it builds on (event-loop, the bare Node `net` echo, or a reference start-up cell), the median with the range over rounds. A goal is met when the whole range meets it. CPU is the server process tree's, from /proc. A speed-up needs CPUs for the server: with the load generator on a CPU of its own (the default placement), a 2-core machine leaves the server one, so the work-1ms speed-up goals are measured on `work-1ms-all-cpus` (the server on every CPU, the load generator sharing them; its CPU is in that table's client cores column), and a goal whose server had one CPU is marked out of reach, not failed._",
  );
  L.push('');
  L.push('| hand-off | ratio | goal | verdict |', '|---|--:|--:|---|');
  for (const x of rows) {
    const goal = x.goal.max !== undefined ? `≤ ${x.goal.max}×` : `≥ ${x.goal.min}×`;
    L.push(`| ${x.goal.what} | ${ratioText(x.ratio)} | ${goal} | ${x.verdict === 'met' ? '**met**' : x.verdict} |`);
  }
  const refs = r.spawnRefs ?? [];
  if (refs.length) {
    L.push('');
    const line = (kind: 'worker' | 'fork', name: string) => {
      const rows = refs.filter((x) => x.kind === kind);
      if (!rows.length) return null;
      const cpu = spread(rows.map((x) => x.cpuUsPerStart / 1000));
      const wall = spread(rows.map((x) => x.wallMsP50));
      return `${name}: ${ranged(cpu, (v) => v.toFixed(1), 'ms')} of CPU per start, ${ranged(wall, (v) => v.toFixed(1), 'ms')} to its first message (${rows[0]!.n} in a row per round)`;
    };
    const lines = [line('worker', 'a bare `new Worker()`'), line('fork', 'a bare `fork()`')].filter(Boolean);
    L.push(`Reference start-up cells, on the server's CPUs, plain JavaScript (bench/micro/spawn-ref.mjs): ${lines.join('; ')}.`);
    const floor = floorText(r);
    if (floor) L.push('', floor);
  }
  const hop = hopText(r);
  if (hop) L.push('', hop);
  const ceiling = ceilingText(r);
  if (ceiling) L.push('', ceiling);
  L.push('');
  return L;
}

/** Median (range) of a/b over the rounds where both were measured. */
function roundRatio(r: RunResults, a: HandoffGoal['b'], b: HandoffGoal['b']): Spread | null {
  const x = perRound(r, a);
  const y = perRound(r, b);
  return spread([...x].filter(([round]) => y.has(round)).map(([round, v]) => v / y.get(round)!));
}

/**
 * The floor under a connection of its own, per model: the plain thread- or child-per-connection
 * server's CPU per connection (bench/micro/connection-floor.mjs), that ÷ the bare start of the
 * same round (how much of the start-up goal's 1.5× Node itself takes), and the model's churn
 * CPU per connection ÷ that floor (what is ours). Null when no floor was measured.
 */
export function floorText(r: RunResults): string | null {
  const parts: string[] = [];
  for (const [floor, bare, model, noun, bareName] of [
    ['worker-floor', 'worker', 'thread', 'thread', '`new Worker()`'],
    ['fork-floor', 'fork', 'process', 'child', '`fork()`'],
  ] as const) {
    const rows = (r.spawnRefs ?? []).filter((x) => x.kind === floor && x.cpuUsPerStart > 0);
    if (!rows.length) continue;
    const cpu = spread(rows.map((x) => x.cpuUsPerStart / 1000));
    const overBare = roundRatio(r, { spawn: floor }, { spawn: bare });
    const ours = roundRatio(r, cell(model, 'churn', 8, 'cpu'), { spawn: floor });
    parts.push(
      `a ${noun} per connection ${ranged(cpu, (v) => v.toFixed(1), 'ms')} of CPU per connection` +
        (overBare ? `, ${ratioText(overBare)} the bare ${bareName} of its round` : '') +
        (ours ? `; the ${model} model's churn c=8 ${ratioText(ours)} that floor` : ''),
    );
  }
  if (!parts.length) return null;
  return `Floor under a connection of its own (bench/micro/connection-floor.mjs, plain JavaScript: a server that starts a bare thread or child per accepted connection, moves the socket to it, and there imports the built-in handler and answers with it until the peer closes; ${(r.spawnRefs ?? []).find((x) => x.kind.endsWith('-floor'))!.n} connections one after another, server on the server's CPUs): ${parts.join('; ')}. The part of a start-up ratio above the floor's is what the model adds; the floor's own is Node's (its \`net\` and stream set-up in the new thread or process, the handler's module load, the hand-off, the teardown).`;
}

/**
 * The machine's parallel ceiling per round, with each speed-up goal's ratio in the same round.
 * Context, not a bound: the host changes within seconds (2026-12-04, one round: ceiling 1.70×
 * measured just before, process-pool 1.91× event-loop's in the cells after it).
 */
export function ceilingText(r: RunResults): string | null {
  const rows = r.parallelCeiling ?? [];
  if (!rows.length) return null;
  const goals = HANDOFF_GOALS.filter((g) => !('spawn' in g.b) && g.a.workload === PAR);
  const ratios = goals.map((g) => {
    const a = perRound(r, g.a);
    const b = perRound(r, g.b);
    return { server: g.a.server, min: g.min ?? 0, at: (round: number) => (a.has(round) && b.has(round) ? a.get(round)! / b.get(round)! : null) };
  });
  const rounds = rows.map((x) => {
    const ups = ratios.map((g) => ({ server: g.server, v: g.at(x.round) })).filter((g) => g.v !== null);
    return `round ${x.round}: **${x.ceiling.toFixed(2)}×**${ups.length ? ` (${ups.map((g) => `${g.server} ${g.v!.toFixed(2)}×`).join(', ')})` : ''}`;
  });
  const need = Math.max(0, ...ratios.map((g) => g.min));
  const below = rows.filter((x) => x.ceiling < need).length;
  return (
    `The machine's parallel ceiling next to \`${PAR}\` (bench/micro/parallel-ceiling.ts: ${rows[0]!.threads} threads of the same SHA-256 work at once ÷ one thread alone, just before the round's first such cell) and each speed-up over event-loop in the same round: ${rounds.join(' · ')}.` +
    (below ? ` In ${below} of ${rows.length} round(s) the machine itself measured below ${need}×.` : '') +
    ' The probe takes 0.8 s before the cells and the host can change within seconds, so it is context for a round, not a bound on it.'
  );
}

const HOP_WAY: Record<HopMode, string> = {
  port: 'answer on a MessagePort, piscina’s way',
  waitasync: 'offload’s way, its rings: answer through shared memory, Atomics.waitAsync on the main loop',
  piscina: 'a bare piscina pool’s task (its machinery on top of the port way)',
};

/**
 * The floor under offload's unloaded p50, per way back: the bare thread hop's p50 (µs, per round),
 * and (event-loop's c=1 p50 + that) ÷ event-loop's c=1 p50 of the same round: the lowest the
 * offload p50 goal's ratio can be that way, next to offload's own. Null when no hop was measured.
 */
export function hopText(r: RunResults): string | null {
  const rows = r.threadHops ?? [];
  if (!rows.length) return null;
  const el = perRound(r, cell('event-loop', 'echo-64B', 1, 'p50'));
  const off = roundRatio(r, cell('offload', 'echo-64B', 1, 'p50'), cell('event-loop', 'echo-64B', 1, 'p50'));
  const parts: string[] = [];
  for (const mode of ['port', 'waitasync', 'piscina'] as const) {
    const mine = rows.filter((x) => x.mode === mode);
    if (!mine.length) continue;
    const p50 = spread(mine.map((x) => x.p50Us));
    const cpu = spread(mine.map((x) => x.cpuUsPerTrip));
    const floor = spread(mine.filter((x) => el.has(x.round)).map((x) => (el.get(x.round)! + x.p50Us) / el.get(x.round)!));
    parts.push(`${HOP_WAY[mode]}: ${ranged(p50, (v) => v.toFixed(1), 'µs')} p50 per round trip, ${ranged(cpu, (v) => v.toFixed(1), 'µs')} of CPU${floor ? `, so offload's p50 ≥ ${ratioText(floor)} event-loop's` : ''}`);
  }
  if (!parts.length) return null;
  return (
    `Floor under offload's unloaded p50 (bench/micro/thread-hop.mjs, plain JavaScript on the server's CPUs: a main thread that is an event loop hands a request to a thread parked in \`Atomics.wait\` and gets the answer back, nothing else on either side, ${rows[0]!.n} round trips per round; the floor ratio is event-loop's c=1 p50 plus the hop's p50, over event-loop's p50, per round): ${parts.join('; ')}.` +
    (off ? ` offload measured ${ratioText(off)}: it hands requests over through shared-memory rings (src/shared/ring.ts), so above the shared-memory way's floor is ours (the proxy handler's promise, the copies into and out of the rings, the answer's path through the connection); the other two ways are the message transport it no longer uses, for comparison.` : '')
  );
}
