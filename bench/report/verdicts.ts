// The rules that judge models: which one wins each workload and why, and whether each of the
// HOWTO's claims held in this run. Pure functions from a run's results to data (the cells that
// decided, the ratios, the outcome); verdict-text.ts turns that data into sentences. Every
// comparison is between cells of the same workload at the same concurrency level.
import type { CellResult, RunResults } from '../results.ts';
import { cellOf, EXTERNAL, groupsOf, groups, modelCells, okCells, REFERENCE, type Group } from './cells.ts';
import { EVENT_LOOP, FORK_PER_CONNECTION, MULTIPLEXING, PROCESS_MODELS, THREAD_MODELS, THREAD_PER_CONNECTION } from './model-facts.ts';

export const tp = (c: CellResult): number => c.throughput ?? 0;
export const cores = (c?: CellResult): number => c?.serverTree?.cores ?? NaN;
export const cpuReq = (c?: CellResult): number => c?.serverTree?.cpuUsPerRequest ?? NaN;
const errorsOf = (c: CellResult): number => (c.errors ? c.errors.total : 0);
const refusedOf = (c: CellResult): number => (c.idle?.refused ?? 0) + (c.idle?.failed ?? 0);
const among = (models: readonly string[], c: CellResult): boolean => models.includes(c.server);

/** The best candidate by a figure (highest unless told otherwise). */
export function best(cands: CellResult[], by: (c: CellResult) => number, higher = true): CellResult | undefined {
  return [...cands].sort((a, b) => (higher ? by(b) - by(a) : by(a) - by(b)))[0];
}

// ── which model wins where, and why ──────────────────────────────────────────────────────

/** Open loop: lowest p99 among the models that kept up with the rate they were offered. */
export interface OpenLoopWinner {
  kind: 'open';
  group: Group;
  /** What each model was offered: the fixed --rate, or a share of its own closed-loop capacity. */
  offered: { fixedRate: number } | { capacityShare: number };
  winner: CellResult;
  next?: CellResult;
  /** Fell behind their offered rate or lost requests. */
  behind: CellResult[];
}

/** Idle: most idle connections held, then least memory per connection. */
export interface IdleWinner {
  kind: 'idle';
  group: Group;
  winner: CellResult;
  /** The highest RSS per idle connection, when that is not the winner. */
  mostExpensive?: CellResult;
  /** Refused or failed some of the idle connections. */
  refusers: CellResult[];
}

/** What explains a throughput winner, by the kind of workload. */
export type WinReason =
  /** CPU-bound, and the winner kept more than one core busy. */
  | { kind: 'parallel'; eventLoop?: CellResult }
  /** CPU-bound, but nobody got much past one core (the load generator shares them). */
  | { kind: 'one-core'; machineCores: number }
  /** Churn: a connection's server CPU, and the models that paid more than twice as much. */
  | { kind: 'connect-cost'; slower: CellResult[] }
  /** Sleep: the share of the rate the connections allow, and the models held under half of it. */
  | { kind: 'sleep'; ideal: number; sleepMs: number; capped: CellResult[] }
  /** Echo: CPU per request; hand-off models well above the winner; more cores than the loop used. */
  | { kind: 'overhead'; eventLoop?: CellResult; hops: CellResult[]; moreCoresThanEventLoop: boolean };

/** Closed loop and churn: highest throughput. */
export interface ThroughputWinner {
  kind: 'throughput';
  group: Group;
  winner: CellResult;
  next?: CellResult;
  /** winner ÷ next (NaN without a next with throughput). */
  margin: number;
  /** Within 5% of the next: not a win worth a ratio. */
  tie: boolean;
  reason: WinReason;
}

export type Winner = OpenLoopWinner | IdleWinner | ThroughputWinner;

/** One winner per group of model cells, in the order of the run's groups. */
export function winners(r: RunResults): Winner[] {
  return groups(r).flatMap((g) => winnerOf(r, g) ?? []);
}

export function winnerOf(r: RunResults, g: Group): Winner | null {
  const w = r.workloads.find((x) => x.name === g.workload)!;
  const cands = modelCells(r, g);
  if (!cands.length) return null;
  const el = cands.find((c) => c.server === EVENT_LOOP);
  if (w.loop === 'open') {
    // Only models that kept up with their own offered rate compete on tail latency.
    const keptUp = cands.filter((c) => errorsOf(c) === 0 && tp(c) >= 0.98 * (c.params.ratePerSec ?? 0));
    const pool = keptUp.length ? keptUp : cands;
    const p99 = (c: CellResult) => c.latencyUs?.p99 ?? Infinity;
    const winner = best(pool, p99, false)!;
    const rate = r.run.flags.rate;
    return {
      kind: 'open',
      group: g,
      offered: typeof rate === 'number' ? { fixedRate: rate } : { capacityShare: w.rateFraction },
      winner,
      next: best(pool.filter((c) => c !== winner), p99, false),
      behind: cands.filter((c) => !keptUp.includes(c)),
    };
  }
  if (w.loop === 'idle') {
    const rssPerConn = (c: CellResult) => c.serverTree?.rssPerIdleConnBytes;
    const held = [...cands].sort((a, b) => (b.idle?.held ?? 0) - (a.idle?.held ?? 0) || (rssPerConn(a) ?? Infinity) - (rssPerConn(b) ?? Infinity));
    const winner = held[0]!;
    const costly = best(cands.filter((c) => rssPerConn(c)), (c) => rssPerConn(c)!);
    return { kind: 'idle', group: g, winner, mostExpensive: costly !== winner ? costly : undefined, refusers: cands.filter((c) => refusedOf(c) > 0) };
  }
  const winner = best(cands, tp)!;
  const rest = cands.filter((c) => c !== winner);
  const next = best(rest, tp);
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
  return { kind: 'throughput', group: g, winner, next, margin, tie: margin < 1.05, reason };
}

// ── the HOWTO's claims ───────────────────────────────────────────────────────────────────

export type Outcome = 'held' | 'not held' | 'depends';

/** Several cells' outcomes as one: all alike → that, otherwise 'depends'; none → not tested. */
export function overall(outcomes: Outcome[]): Outcome | null {
  if (!outcomes.length) return null;
  return outcomes.every((o) => o === outcomes[0]) ? outcomes[0]! : 'depends';
}
const heldIf = (b: boolean): Outcome => (b ? 'held' : 'not held');

interface ClaimBase {
  /** The HOWTO's sentence, quoted. */
  quote: string;
  /** null: not tested, the cells it needs are not in this run. */
  outcome: Outcome | null;
}

export interface MultiplexClaim extends ClaimBase {
  id: 'multiplex';
  models: readonly string[];
  /** Per byte-shuffling group: the best multiplexing model against the best of the others. */
  rows: { group: Group; mux: CellResult; other: CellResult; eventLoop?: CellResult; held: boolean }[];
}

export interface ThreadsClaim extends ClaimBase {
  id: 'threads-for-work';
  machineCores: number;
  /** Per CPU-bound group: the best thread model against the event loop and the overall best. */
  rows: {
    group: Group;
    bestThread: CellResult;
    eventLoop: CellResult;
    top: CellResult;
    beatsEventLoop: boolean;
    outcome: Outcome;
    /** Why it did not simply hold: no second core to win, or processes won just as well. */
    note: 'few-cores' | 'processes-too' | null;
  }[];
}

export interface ForkClaim extends ClaimBase {
  id: 'fork-overhead';
  model: string | undefined;
  /** Per churn group: the fork-per-connection model against the event loop. */
  rows: { group: Group; proc: CellResult; eventLoop: CellResult; thread?: CellResult; rateRatio: number; cpuRatio: number; outcome: Outcome }[];
  /** Per idle group: the memory a child per connection costs. */
  idle: { group: Group; proc: CellResult; eventLoop: CellResult }[];
}

export interface BlockingClaim extends ClaimBase {
  id: 'blocking-ok';
  model: string | undefined;
  rows: { group: Group; cell: CellResult; best: CellResult; ratio: number; good: boolean }[];
}

export type Claim = MultiplexClaim | ThreadsClaim | ForkClaim | BlockingClaim;

export function claims(r: RunResults): Claim[] {
  return [multiplexClaim(r), threadsClaim(r), forkClaim(r), blockingClaim(r)];
}

/** 1. Non-blocking multiplexing is the fastest way to shuffle bytes. */
export function multiplexClaim(r: RunResults): MultiplexClaim {
  const rows: MultiplexClaim['rows'] = [];
  for (const g of groupsOf(r, ['echo-64B', 'echo-64KiB'])) {
    const cands = modelCells(r, g);
    const mux = best(cands.filter((c) => among(MULTIPLEXING, c)), tp);
    const other = best(cands.filter((c) => !among(MULTIPLEXING, c)), tp);
    if (!mux || !other) continue;
    const el = cands.find((c) => c.server === EVENT_LOOP);
    rows.push({ group: g, mux, other, eventLoop: el !== mux ? el : undefined, held: tp(mux) >= 0.95 * tp(other) });
  }
  return {
    id: 'multiplex',
    quote: '“The fastest sockets code uses non-blocking sockets and select to multiplex them.”',
    models: MULTIPLEXING,
    outcome: overall(rows.map((x) => heldIf(x.held))),
    rows,
  };
}

/** 2. When the app does real work, threads win. */
export function threadsClaim(r: RunResults): ThreadsClaim {
  const rows: ThreadsClaim['rows'] = [];
  for (const g of groupsOf(r, ['work-1ms'])) {
    const cands = modelCells(r, g);
    const bestThread = best(cands.filter((c) => among(THREAD_MODELS, c)), tp);
    const eventLoop = cands.find((c) => c.server === EVENT_LOOP);
    const top = best(cands, tp);
    if (!bestThread || !top || !eventLoop) continue;
    const beatsEventLoop = tp(bestThread) > 1.1 * tp(eventLoop);
    const isTop = tp(bestThread) >= 0.95 * tp(top);
    const note = !beatsEventLoop ? 'few-cores' : top !== bestThread && among(PROCESS_MODELS, top) ? 'processes-too' : null;
    rows.push({ group: g, bestThread, eventLoop, top, beatsEventLoop, outcome: beatsEventLoop && isTop ? 'held' : beatsEventLoop ? 'depends' : 'not held', note });
  }
  return {
    id: 'threads-for-work',
    quote: '“Assuming that your app is actually supposed to do something more than that, threading is the optimal solution.”',
    machineCores: r.machine.cores,
    outcome: overall(rows.map((x) => x.outcome)),
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
      // A process model that completed no connection at all in the window has no CPU/req: its
      // rate alone decides.
      const costly = cpuRatio > 2 || tp(proc) === 0;
      const outcome = rateRatio < 0.5 && costly ? 'held' : rateRatio < 0.9 || cpuRatio > 1.5 ? 'depends' : 'not held';
      rows.push({ group: g, proc, eventLoop, thread: threadModel ? cellOf(r, threadModel, g.workload, g.connections) : undefined, rateRatio, cpuRatio, outcome });
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

export function blockingClaim(r: RunResults): BlockingClaim {
  const model = THREAD_PER_CONNECTION[0];
  const rows: BlockingClaim['rows'] = [];
  const cases = groupsOf(r, BLOCKING_CASES.map((x) => x.workload)).filter((g) => g.connections <= BLOCKING_CASES.find((x) => x.workload === g.workload)!.maxConnections);
  for (const g of cases) {
    const cell = model ? cellOf(r, model, g.workload, g.connections) : undefined;
    const top = best(modelCells(r, g), tp);
    if (!cell || !top) continue;
    const ratio = tp(cell) / Math.max(1e-9, tp(top));
    rows.push({ group: g, cell, best: top, ratio, good: ratio >= 0.8 });
  }
  return {
    id: 'blocking-ok',
    quote: '“Even though blocking sockets are somewhat slower than non-blocking, in many cases they are the right solution.”',
    model,
    outcome: overall(rows.map((x) => heldIf(x.good))),
    rows,
  };
}

// ── validation: can the figures be trusted ───────────────────────────────────────────────

export interface Validation {
  /** The bare Node echo's best echo-64B cell: the load generator's ceiling on this machine. */
  ceiling?: CellResult;
  /** The event loop next to bare Node at every echo-64B level both ran. */
  vsReference: { cell: CellResult; ref: CellResult }[];
  /** Cells of the server this project did not write. */
  external: CellResult[];
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
