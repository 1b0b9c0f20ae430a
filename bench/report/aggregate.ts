// A cell's rounds as one: every cell id (server/workload/cN) ran `--rounds` times, interleaved,
// and the report judges the median with the range (lowest–highest round) next to it, so that a
// difference smaller than the rounds' own spread is never read as a win. Pure; results from
// before rounds existed (schema 1: no `round`, no connection accounting) are one round with the
// new figures unknown (null), never zero.
import type { CellResult, RunResults } from '../results.ts';
import type { Spread } from './format.ts';

export type { Spread } from './format.ts';

/** What the rounds of one cell id came to, next to the median figures on the cell itself. */
export interface RoundsOf {
  /** Rounds of this cell that ran, ok or not. */
  ran: number;
  /** The rounds that completed, in round order. */
  ok: CellResult[];
  /** The rounds that failed (each with its own error). */
  failed: CellResult[];
  throughput: Spread | null;
  p50: Spread | null;
  p99: Spread | null;
  cpuUsPerRequest: Spread | null;
  cores: Spread | null;
  peakRssBytes: Spread | null;
  rssPerIdleConnBytes: Spread | null;
  /** Open loop: the rate offered (each round's own capacity share may differ). */
  ratePerSec: Spread | null;
  /**
   * The round that served fewest connections (round: which), and how many rounds starved some
   * connection; null when not recorded (schema 1).
   */
  connections: { offered: number; served: number; starved: number; round: number; starvedRounds: number } | null;
  /** Jain's index over connections; the median is what tables show. */
  fairness: Spread | null;
  /** Every round whose load generator may have set the figures, with its reason (client.boundBy). */
  clientBound: { round: number; reason: string }[];
}

/**
 * A cell id over its rounds: a CellResult whose figures are the rounds' medians (so every rule
 * that reads a cell reads the median), worst-round counts (errors, idle connections held,
 * connections served), and the spreads in `rounds`.
 */
export type AggCell = CellResult & { rounds: RoundsOf };

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The spread of the finite values (null, undefined and NaN are rounds without the figure). */
export function spread(values: readonly (number | null | undefined)[]): Spread | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** The round a cell was (schema 1 has none: every cell ran once). */
export const roundOf = (c: CellResult): number => c.round ?? 1;

const med = (cells: CellResult[], f: (c: CellResult) => number | null | undefined): number | null => spread(cells.map(f))?.median ?? null;
/** The round with the lowest figure (ties: the earliest). */
const lowest = (cells: CellResult[], f: (c: CellResult) => number): CellResult => cells.reduce((a, b) => (f(b) < f(a) ? b : a));

/** One cell id's rounds (all with that id) as one AggCell. */
export function aggregateRounds(rounds: readonly CellResult[]): AggCell {
  const all = [...rounds].sort((a, b) => roundOf(a) - roundOf(b));
  const ok = all.filter((c) => c.ok);
  const failed = all.filter((c) => !c.ok);
  const tp = spread(ok.map((c) => c.throughput));
  const stats: RoundsOf = {
    ran: all.length,
    ok,
    failed,
    throughput: tp,
    p50: spread(ok.map((c) => c.latencyUs?.p50 || null)),
    p99: spread(ok.map((c) => c.latencyUs?.p99 || null)),
    cpuUsPerRequest: spread(ok.map((c) => c.serverTree?.cpuUsPerRequest)),
    cores: spread(ok.map((c) => c.serverTree?.cores)),
    peakRssBytes: spread(ok.map((c) => c.serverTree?.peakRssBytes)),
    rssPerIdleConnBytes: spread(ok.map((c) => c.serverTree?.rssPerIdleConnBytes)),
    ratePerSec: spread(ok.map((c) => c.params.ratePerSec)),
    connections: worstServed(ok),
    fairness: spread(ok.map((c) => c.fairness)),
    clientBound: ok.flatMap((c) => (c.client?.boundBy ? [{ round: roundOf(c), reason: c.client.boundBy }] : [])),
  };
  if (!ok.length) return { ...all[0]!, rounds: stats };
  // The round nearest the median throughput lends what has no median (histogram, timings, ids).
  const rep = lowest(ok, (c) => Math.abs((c.throughput ?? 0) - (tp?.median ?? 0)));
  const latency = (key: 'latencyUs' | 'latencyRawUs') => {
    const have = ok.filter((c) => c[key]);
    if (!have.length) return rep[key] ?? null;
    const p = (k: keyof NonNullable<CellResult['latencyUs']>) => med(have, (c) => c[key]![k]) ?? 0;
    return { p50: p('p50'), p90: p('p90'), p99: p('p99'), p999: p('p999'), max: p('max'), mean: p('mean'), count: p('count') };
  };
  const tree = rep.serverTree && {
    ...rep.serverTree,
    cpuUs: med(ok, (c) => c.serverTree?.cpuUs) ?? rep.serverTree.cpuUs,
    cpuUsPerRequest: stats.cpuUsPerRequest?.median ?? null,
    cores: stats.cores?.median ?? rep.serverTree.cores,
    peakRssBytes: stats.peakRssBytes?.median ?? rep.serverTree.peakRssBytes,
    rssPerIdleConnBytes: stats.rssPerIdleConnBytes?.median ?? null,
  };
  const worstErrors = ok.reduce((a, b) => ((b.errors?.total ?? 0) > (a.errors?.total ?? 0) ? b : a));
  const worstIdle = lowest(ok, (c) => c.idle?.held ?? Infinity);
  const worstConn = stats.connections ? ok.find((c) => roundOf(c) === stats.connections!.round) : undefined;
  const ratePerSec = stats.ratePerSec ? Math.round(stats.ratePerSec.median) : rep.params.ratePerSec;
  return {
    ...rep,
    params: { ...rep.params, ratePerSec },
    throughput: tp?.median ?? null,
    mbPerSec: med(ok, (c) => c.mbPerSec),
    latencyUs: latency('latencyUs'),
    latencyRawUs: latency('latencyRawUs') ?? undefined,
    errors: worstErrors.errors,
    firstError: ok.find((c) => c.firstError)?.firstError ?? null,
    client: rep.client && { ...rep.client, cores: med(ok, (c) => c.client?.cores) ?? rep.client.cores, boundBy: stats.clientBound[0]?.reason ?? null },
    connections: worstConn?.connections ?? rep.connections ?? null,
    fairness: stats.fairness?.median ?? null,
    serverTree: tree,
    idle: worstIdle.idle,
    rounds: stats,
  };
}

/** The round with the fewest connections served (the most starved), or null when none recorded them. */
function worstServed(ok: CellResult[]): RoundsOf['connections'] {
  const have = ok.filter((c) => c.connections && typeof c.connections.served === 'number');
  if (!have.length) return null;
  const worst = have.reduce((a, b) => (b.connections!.starved > a.connections!.starved ? b : a));
  const { offered, served, starved } = worst.connections!;
  return { offered, served, starved, round: roundOf(worst), starvedRounds: have.filter((c) => c.connections!.starved > 0).length };
}

/** Every cell id of a run as one AggCell, in the order the ids first ran. */
export function aggregateCells(cells: readonly CellResult[]): AggCell[] {
  const byId = new Map<string, CellResult[]>();
  for (const c of cells) byId.set(c.id, [...(byId.get(c.id) ?? []), c]);
  return [...byId.values()].map(aggregateRounds);
}

// Every query of a run asks for its aggregated cells; the same array gives the same objects, so
// rules can compare cells by identity. Keyed on the cells array: a run whose cells are replaced
// (r.cells = …) is aggregated afresh.
const memo = new WeakMap<readonly CellResult[], AggCell[]>();

export function aggregated(r: RunResults): AggCell[] {
  let a = memo.get(r.cells);
  if (!a) memo.set(r.cells, (a = aggregateCells(r.cells)));
  return a;
}

/** Rounds the run asked for (run.flags.rounds), else the most any cell ran (schema 1: 1). */
export function roundsOfRun(r: RunResults): number {
  const flag = r.run.flags.rounds;
  if (typeof flag === 'number') return flag;
  return Math.max(1, ...aggregated(r).map((c) => c.rounds.ran));
}

/** A cell some connection of which got no answer in some round (unknown for schema 1: false). */
export const isStarved = (c: AggCell): boolean => (c.rounds.connections?.starved ?? 0) > 0;
/** A cell whose load generator may have set the figures in some round. */
export const isClientBound = (c: AggCell): boolean => c.rounds.clientBound.length > 0;
