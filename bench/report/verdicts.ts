// The rules that judge models: which one wins each workload and why, and whether each of the
// HOWTO's claims held in this run. Pure functions from a run's results to data (the cells that
// decided, the ratios, the outcome); verdict-text.ts turns that data into sentences. Every
// comparison is between cells of the same workload at the same concurrency level, on their
// rounds as one (aggregate.ts), and a difference counts only where the ranges over rounds clear
// (noise.ts): otherwise it is a tie within noise. A cell that starved a connection never wins.
import type { CellResult, RunResults } from '../results.ts';
import { WORKLOADS } from '../workloads.ts';
import { isStarved, type AggCell, type Spread } from './aggregate.ts';
import { cellOf, EXTERNAL, groupsOf, groups, modelCells, okCells, REFERENCE, type Group } from './cells.ts';
import { EVENT_LOOP, FORK_PER_CONNECTION, MULTIPLEXING, multiplexes, PROCESS_MODELS, THREAD_MODELS, THREAD_PER_CONNECTION } from './model-facts.ts';
import { clears, compare, standing, untestedPair, type Comparison, type Standing } from './noise.ts';

export const tp = (c: CellResult): number => c.throughput ?? 0;
export const cores = (c?: CellResult): number => c?.serverTree?.cores ?? NaN;
export const cpuReq = (c?: CellResult): number => c?.serverTree?.cpuUsPerRequest ?? NaN;
/** Throughput over rounds (a cell without one: zero, one point). */
export const tpRange = (c: AggCell): Spread => c.rounds.throughput ?? { median: 0, min: 0, max: 0, n: c.rounds.ok.length };
const errorsOf = (c: CellResult): number => (c.errors ? c.errors.total : 0);
const refusedOf = (c: CellResult): number => (c.idle?.refused ?? 0) + (c.idle?.failed ?? 0);
const among = (models: readonly string[], c: CellResult): boolean => models.includes(c.server);
/** Cells that may be compared at all: a starved cell's figures are its served connections'. */
const fair = (cells: AggCell[]): AggCell[] => cells.filter((c) => !isStarved(c));

/** The best candidate by a figure's median (highest unless told otherwise). */
export function best<T extends CellResult>(cands: T[], by: (c: T) => number, higher = true): T | undefined {
  return [...cands].sort((a, b) => (higher ? by(b) - by(a) : by(a) - by(b)))[0];
}

// ── which model wins where, and why ──────────────────────────────────────────────────────

/**
 * What every winner carries: whether the leader's range cleared the others' (tiedWith empty),
 * whether it could be tested at all (two rounds or more), and the cells left out (starved:
 * never win; client-bound: their tail is not judged).
 */
interface Judged {
  standing: Standing;
}

/** Open loop: lowest p99 among the models that kept up with the rate they were offered. */
export interface OpenLoopWinner extends Judged {
  kind: 'open';
  group: Group;
  /** What each model was offered: the fixed --rate, or a share of its own closed-loop capacity. */
  offered: { fixedRate: number } | { capacityShare: number };
  winner: AggCell;
  next?: AggCell;
  /** Fell behind their offered rate or lost requests in some round. */
  behind: AggCell[];
}

/** Idle: most idle connections held (worst round), then least memory per connection. */
export interface IdleWinner extends Judged {
  kind: 'idle';
  group: Group;
  winner: AggCell;
  /** The highest RSS per idle connection, when that is not the winner. */
  mostExpensive?: AggCell;
  /** Refused or failed some of the idle connections. */
  refusers: AggCell[];
}

/** No cell may win: every model starved a connection (or, on a tail figure, was client-bound). */
export interface NoWinner extends Judged {
  kind: 'none';
  group: Group;
  /** The figure that was to decide. */
  by: 'throughput' | 'p99' | 'idle';
}

/** What explains a throughput winner, by the kind of workload. */
export type WinReason =
  /** CPU-bound, and the winner kept more than one core busy. */
  | { kind: 'parallel'; eventLoop?: AggCell }
  /** CPU-bound, but nobody got much past one core (the load generator shares them). */
  | { kind: 'one-core'; machineCores: number }
  /** Churn: a connection's server CPU, and the models that paid more than twice as much. */
  | { kind: 'connect-cost'; slower: AggCell[] }
  /** Sleep: the share of the rate the connections allow, and the models held under half of it. */
  | { kind: 'sleep'; ideal: number; sleepMs: number; capped: AggCell[] }
  /** Echo: CPU per request; hand-off models well above the winner; more cores than the loop used. */
  | { kind: 'overhead'; eventLoop?: AggCell; hops: AggCell[]; moreCoresThanEventLoop: boolean };

/** Closed loop and churn: highest throughput, a winner only where its range clears the next's. */
export interface ThroughputWinner extends Judged {
  kind: 'throughput';
  group: Group;
  /** The leader by median; a winner only when standing.tiedWith is empty. */
  winner: AggCell;
  next?: AggCell;
  /** Medians, winner ÷ next (NaN without a next with throughput). */
  margin: number;
  reason: WinReason;
}

export type Winner = OpenLoopWinner | IdleWinner | ThroughputWinner | NoWinner;

/** One winner per group of model cells, in the order of the run's groups. */
export function winners(r: RunResults): Winner[] {
  return groups(r).flatMap((g) => winnerOf(r, g) ?? []);
}

/** Every ok round kept up with its own offered rate and lost nothing. */
const keptUp = (c: AggCell): boolean => c.rounds.ok.every((x) => errorsOf(x) === 0 && tp(x) >= 0.98 * (x.params.ratePerSec ?? 0));

export function winnerOf(r: RunResults, g: Group): Winner | null {
  const w = r.workloads.find((x) => x.name === g.workload)!;
  const cands = modelCells(r, g);
  if (!cands.length) return null;
  const el = cands.find((c) => c.server === EVENT_LOOP);
  if (w.loop === 'open') {
    // Only models that kept up with their own offered rate compete on tail latency.
    const kept = cands.filter(keptUp);
    const s = standing(kept.length ? kept : cands, (c) => c.rounds.p99, { higher: false, tail: true });
    if (!s.leader) return { kind: 'none', group: g, by: 'p99', standing: s };
    const rate = r.run.flags.rate;
    return {
      kind: 'open',
      group: g,
      offered: typeof rate === 'number' ? { fixedRate: rate } : { capacityShare: w.rateFraction },
      winner: s.leader,
      next: s.next,
      behind: cands.filter((c) => !kept.includes(c)),
      standing: s,
    };
  }
  if (w.loop === 'idle') {
    const s = idleStanding(cands);
    if (!s.leader) return { kind: 'none', group: g, by: 'idle', standing: s };
    const winner = s.leader;
    const costly = best(cands.filter((c) => c.serverTree?.rssPerIdleConnBytes), (c) => c.serverTree!.rssPerIdleConnBytes!);
    return { kind: 'idle', group: g, winner, mostExpensive: costly !== winner ? costly : undefined, refusers: cands.filter((c) => refusedOf(c) > 0), standing: s };
  }
  const s = standing(cands, (c) => c.rounds.throughput);
  if (!s.leader) return { kind: 'none', group: g, by: 'throughput', standing: s };
  const winner = s.leader;
  const rest = cands.filter((c) => c !== winner);
  const next = s.next;
  const margin = next && tp(next) > 0 ? tp(winner) / tp(next) : NaN;
  let reason: WinReason;
  if (w.op === 'work') {
    reason = cores(winner) > 1.2 ? { kind: 'parallel', eventLoop: el } : { kind: 'one-core', machineCores: r.machine.cores };
  } else if (w.loop === 'churn') {
    reason = { kind: 'connect-cost', slower: rest.filter((c) => cpuReq(c) > 2 * cpuReq(winner)) };
  } else if (w.op === 'sleep') {
    // Each connection can complete one request per sleep at best.
    const ideal = (g.connections * 1000) / (w.sleepMs || 1);
    reason = { kind: 'sleep', ideal, sleepMs: w.sleepMs, capped: rest.filter((c) => tp(c) < 0.5 * ideal) };
  } else {
    const other = el && el !== winner ? el : undefined;
    reason = {
      kind: 'overhead',
      eventLoop: other,
      hops: rest.filter((c) => c.server !== EVENT_LOOP && cpuReq(c) > 1.5 * cpuReq(winner)),
      moreCoresThanEventLoop: other !== undefined && cores(winner) > cores(other) * 1.2,
    };
  }
  return { kind: 'throughput', group: g, winner, next, margin, reason, standing: s };
}

/**
 * Idle: the most idle connections held in the worst round, then the least RSS per connection.
 * Held is a count the server decided (a limit it reached); RSS per connection is measured, so a
 * next model holding as many is tied unless the RSS ranges clear.
 */
function idleStanding(cands: AggCell[]): Standing {
  const starved = cands.filter(isStarved);
  const held = (c: AggCell) => c.idle?.held ?? 0;
  const rss = (c: AggCell) => c.rounds.rssPerIdleConnBytes;
  const ranked = fair(cands).sort((a, b) => held(b) - held(a) || (rss(a)?.median ?? Infinity) - (rss(b)?.median ?? Infinity));
  const [leader, next] = ranked;
  if (!leader) return { tiedWith: [], untested: false, starved, clientBound: [] };
  const tiedWith = ranked.slice(1).filter((c) => held(c) === held(leader) && (!rss(leader) || !rss(c) || !clears(rss(leader)!, rss(c)!, false)));
  const oneRound = (c: AggCell) => c.rounds.ok.length < 2;
  return { leader, next, tiedWith, untested: oneRound(leader) || (next !== undefined && oneRound(next)), starved, clientBound: [] };
}

// ── the HOWTO's claims ───────────────────────────────────────────────────────────────────

/**
 * 'tie within noise': the cells that decide were not told apart (their ranges overlap), so the
 * run says nothing either way about this case.
 */
export type Outcome = 'held' | 'not held' | 'depends' | 'tie within noise';

/** Several cells' outcomes as one: all alike → that, otherwise 'depends'; none → not tested. */
export function overall(outcomes: Outcome[]): Outcome | null {
  if (!outcomes.length) return null;
  return outcomes.every((o) => o === outcomes[0]) ? outcomes[0]! : 'depends';
}
/** better → held, worse → not held, overlapping ranges → a tie within noise. */
const byComparison = (c: Comparison): Outcome => (c === 'better' ? 'held' : c === 'worse' ? 'not held' : 'tie within noise');

interface ClaimBase {
  /** The HOWTO's sentence, quoted. */
  quote: string;
  /** null: not tested, the cells it needs are not in this run. */
  outcome: Outcome | null;
  /** Some deciding comparison had fewer than two rounds: no range, not tested against noise. */
  untested: boolean;
  /** Cells left out of "the best of" because they starved a connection. */
  starved: AggCell[];
}

interface ClaimRow {
  group: Group;
  outcome: Outcome;
  /** This row's comparison had fewer than two rounds on a side. */
  untested: boolean;
}

export interface MultiplexClaim extends ClaimBase {
  id: 'multiplex';
  /** The models that multiplex with default options (each cell is judged on its own options). */
  models: readonly string[];
  /** Per byte-shuffling group: the best multiplexing model against the best of the others. */
  rows: (ClaimRow & { mux: AggCell; other: AggCell; eventLoop?: AggCell })[];
}

export interface ThreadsClaim extends ClaimBase {
  id: 'threads-for-work';
  machineCores: number;
  /** Per CPU-bound group: the best thread model against the event loop and the overall best. */
  rows: (ClaimRow & {
    bestThread: AggCell;
    eventLoop: AggCell;
    top: AggCell;
    /** The best thread model against the event loop. */
    vsEventLoop: Comparison;
    /** Why it did not simply hold: no second core to win, or processes won just as well. */
    note: 'few-cores' | 'processes-too' | null;
  })[];
}

export interface ForkClaim extends ClaimBase {
  id: 'fork-overhead';
  model: string | undefined;
  /** Per churn group: the fork-per-connection model against the event loop (medians' ratios). */
  rows: (ClaimRow & { proc: AggCell; eventLoop: AggCell; thread?: AggCell; rateRatio: number; cpuRatio: number })[];
  /** Per idle group: the memory a child per connection costs. */
  idle: { group: Group; proc: AggCell; eventLoop: AggCell }[];
}

export interface BlockingClaim extends ClaimBase {
  id: 'blocking-ok';
  model: string | undefined;
  /** ratio: medians; the outcome asks the whole range to be at or above (held) or below (not held) 80%. */
  rows: (ClaimRow & { cell: AggCell; best: AggCell; ratio: number })[];
}

export type Claim = MultiplexClaim | ThreadsClaim | ForkClaim | BlockingClaim;

export function claims(r: RunResults): Claim[] {
  return [multiplexClaim(r), threadsClaim(r), forkClaim(r), blockingClaim(r)];
}

const starvedOf = (r: RunResults, groupsJudged: Group[]): AggCell[] => groupsJudged.flatMap((g) => modelCells(r, g).filter(isStarved));

/** 1. Non-blocking multiplexing is the fastest way to shuffle bytes. */
export function multiplexClaim(r: RunResults): MultiplexClaim {
  const rows: MultiplexClaim['rows'] = [];
  const judged = groupsOf(r, ['echo-64B', 'echo-64KiB']);
  for (const g of judged) {
    const cands = fair(modelCells(r, g));
    // Each cell by the options it ran with: thread-pool multiplexes with --connections-per-thread > 1.
    const mux = best(cands.filter(multiplexes), tp);
    const other = best(cands.filter((c) => !multiplexes(c)), tp);
    if (!mux || !other) continue;
    const el = cands.find((c) => c.server === EVENT_LOOP);
    rows.push({ group: g, mux, other, eventLoop: el !== mux ? el : undefined, outcome: byComparison(compare(tpRange(mux), tpRange(other), true)), untested: untestedPair(mux.rounds.throughput, other.rounds.throughput) });
  }
  return {
    id: 'multiplex',
    quote: '“The fastest sockets code uses non-blocking sockets and select to multiplex them.”',
    models: MULTIPLEXING,
    outcome: overall(rows.map((x) => x.outcome)),
    untested: rows.some((x) => x.untested),
    starved: starvedOf(r, judged),
    rows,
  };
}

/** The fixed workloads of CPU work: work-1ms, and work-1ms-all-cpus, whose server has every CPU. */
const WORK_WORKLOADS = WORKLOADS.filter((w) => w.op === 'work').map((w) => w.name);

/**
 * 2. When the app does real work, threads win. work-1ms-all-cpus is where they can: its server
 * has every CPU, where work-1ms's has the run's placement (one CPU of two here).
 */
export function threadsClaim(r: RunResults): ThreadsClaim {
  const rows: ThreadsClaim['rows'] = [];
  const judged = groupsOf(r, WORK_WORKLOADS);
  for (const g of judged) {
    const cands = fair(modelCells(r, g));
    const bestThread = best(cands.filter((c) => among(THREAD_MODELS, c)), tp);
    const eventLoop = cands.find((c) => c.server === EVENT_LOOP);
    const top = best(cands, tp);
    if (!bestThread || !top || !eventLoop) continue;
    const vsEventLoop = compare(tpRange(bestThread), tpRange(eventLoop), true);
    // Optimal: no model's range clears the best thread model's.
    const outdone = top !== bestThread && compare(tpRange(top), tpRange(bestThread), true) === 'better';
    const outcome: Outcome = vsEventLoop === 'better' ? (outdone ? 'depends' : 'held') : byComparison(vsEventLoop);
    const note = vsEventLoop !== 'better' ? 'few-cores' : top !== bestThread && among(PROCESS_MODELS, top) ? 'processes-too' : null;
    const untested = untestedPair(bestThread.rounds.throughput, eventLoop.rounds.throughput) || (top !== bestThread && untestedPair(top.rounds.throughput, bestThread.rounds.throughput));
    rows.push({ group: g, bestThread, eventLoop, top, vsEventLoop, outcome, note, untested });
  }
  return {
    id: 'threads-for-work',
    quote: '“Assuming that your app is actually supposed to do something more than that, threading is the optimal solution.”',
    machineCores: r.machine.cores,
    outcome: overall(rows.map((x) => x.outcome)),
    untested: rows.some((x) => x.untested),
    starved: starvedOf(r, judged),
    rows,
  };
}

/** 3. A process per connection has significant overhead. */
export function forkClaim(r: RunResults): ForkClaim {
  // One model stands for "fork per connection" (the registry has one; the first, should there be more).
  const model = FORK_PER_CONNECTION[0];
  const threadModel = THREAD_PER_CONNECTION[0];
  const rows: ForkClaim['rows'] = [];
  const idle: ForkClaim['idle'] = [];
  if (model && EVENT_LOOP) {
    for (const g of groupsOf(r, ['churn'])) {
      const proc = cellOf(r, model, g.workload, g.connections);
      const eventLoop = cellOf(r, EVENT_LOOP, g.workload, g.connections);
      if (!proc || !eventLoop) continue;
      const rateRatio = tp(proc) / Math.max(1, tp(eventLoop));
      const cpuRatio = cpuReq(proc) / cpuReq(eventLoop);
      const rate = compare(tpRange(eventLoop), tpRange(proc), true);
      const pc = proc.rounds.cpuUsPerRequest;
      const ec = eventLoop.rounds.cpuUsPerRequest;
      // A process model that completed no connection at all in the window has no CPU/req: its
      // rate alone decides.
      const cpu: Comparison = tp(proc) === 0 ? 'better' : pc && ec ? compare(pc, ec, true) : 'tie';
      const outcome: Outcome =
        rate === 'better' && rateRatio < 0.5 && cpu === 'better' && (tp(proc) === 0 || cpuRatio > 2)
          ? 'held'
          : rate === 'tie' && cpu === 'tie'
            ? 'tie within noise'
            : rate !== 'better' && cpu !== 'better'
              ? 'not held'
              : 'depends';
      const untested = untestedPair(proc.rounds.throughput, eventLoop.rounds.throughput);
      rows.push({ group: g, proc, eventLoop, thread: threadModel ? cellOf(r, threadModel, g.workload, g.connections) : undefined, rateRatio, cpuRatio, outcome, untested });
    }
    for (const g of groupsOf(r, ['idle-10k'])) {
      const proc = cellOf(r, model, g.workload, g.connections);
      const eventLoop = cellOf(r, EVENT_LOOP, g.workload, g.connections);
      if (proc && eventLoop) idle.push({ group: g, proc, eventLoop });
    }
  }
  return {
    id: 'fork-overhead',
    quote: '“The normal Unix solution is to fork a subprocess to deal with each connection. The overhead for this is significant.”',
    model,
    outcome: overall(rows.map((x) => x.outcome)),
    untested: rows.some((x) => x.untested),
    starved: [],
    rows,
    idle,
  };
}

/**
 * 4. Blocking-style per-connection code is often the right, simpler solution. "In many cases":
 * echo-64B at modest concurrency (up to 32 connections; hundreds of connections of pure overhead
 * are the multiplexing claim's ground), CPU work and I/O waits at every level the run has.
 */
const BLOCKING_CASES: { workload: string; maxConnections: number }[] = [
  { workload: 'echo-64B', maxConnections: 32 },
  { workload: 'work-1ms', maxConnections: Infinity },
  { workload: 'sleep-10ms', maxConnections: Infinity },
];
/** "Somewhat slower": within this share of the best model. */
const BLOCKING_SHARE = 0.8;

export function blockingClaim(r: RunResults): BlockingClaim {
  const model = THREAD_PER_CONNECTION[0];
  const rows: BlockingClaim['rows'] = [];
  const cases = groupsOf(r, BLOCKING_CASES.map((x) => x.workload)).filter((g) => g.connections <= BLOCKING_CASES.find((x) => x.workload === g.workload)!.maxConnections);
  for (const g of cases) {
    const cell = model ? cellOf(r, model, g.workload, g.connections) : undefined;
    const top = best(fair(modelCells(r, g)), tp);
    if (!cell || !top) continue;
    const ratio = tp(cell) / Math.max(1e-9, tp(top));
    const c = tpRange(cell);
    const t = tpRange(top);
    // Held: even its worst round reaches 80% of the best's best round; not held: even its best
    // round is below 80% of the best's worst. A model that starved a connection is not "the
    // right solution", whatever its figures.
    const outcome: Outcome = isStarved(cell) ? 'not held' : cell === top || c.min >= BLOCKING_SHARE * t.max ? 'held' : c.max < BLOCKING_SHARE * t.min ? 'not held' : 'tie within noise';
    rows.push({ group: g, cell, best: top, ratio, outcome, untested: cell !== top && untestedPair(cell.rounds.throughput, top.rounds.throughput) });
  }
  return {
    id: 'blocking-ok',
    quote: '“Even though blocking sockets are somewhat slower than non-blocking, in many cases they are the right solution.”',
    model,
    outcome: overall(rows.map((x) => x.outcome)),
    untested: rows.some((x) => x.untested),
    starved: starvedOf(r, cases),
    rows,
  };
}

// ── validation: can the figures be trusted ───────────────────────────────────────────────

export interface Validation {
  /** The bare Node echo's best echo-64B cell: the load generator's ceiling on this machine. */
  ceiling?: AggCell;
  /** The event loop next to bare Node at every echo-64B level both ran. */
  vsReference: { cell: AggCell; ref: AggCell }[];
  /** Cells of the server this project did not write. */
  external: AggCell[];
}

export function validation(r: RunResults): Validation {
  const ok = okCells(r);
  const vsReference: Validation['vsReference'] = [];
  for (const cell of ok.filter((x) => x.server === EVENT_LOOP && x.workload === 'echo-64B')) {
    const ref = cellOf(r, REFERENCE, 'echo-64B', cell.params.connections);
    if (ref) vsReference.push({ cell, ref });
  }
  return {
    ceiling: best(ok.filter((c) => c.server === REFERENCE && c.workload === 'echo-64B'), tp),
    vsReference,
    external: ok.filter((x) => x.server === EXTERNAL),
  };
}
