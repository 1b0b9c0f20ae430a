// The one rule for telling models apart: a difference counts only when the ranges over rounds do
// not overlap (the better cell's worst round beats the other's best round). Medians alone would
// crown whichever model a noisy minute favoured; a margin such as "5%" is a guess at the noise,
// the range is the noise this run measured. Pure.
import { isClientBound, isStarved, type AggCell, type Spread } from './aggregate.ts';

/**
 * Does a clear b? Higher is better (throughput): a's lowest round above b's highest. Lower is
 * better (latency, CPU): a's highest round below b's lowest. With one round each the "range" is
 * one point and this is a plain comparison: see `untested`.
 */
export function clears(a: Spread, b: Spread, higher: boolean): boolean {
  return higher ? a.min > b.max : a.max < b.min;
}

/** Fewer than two rounds on either side: no range, so nothing was tested against noise. */
export const untestedPair = (a: Spread | null | undefined, b: Spread | null | undefined): boolean => (a?.n ?? 0) < 2 || (b?.n ?? 0) < 2;

/** a against b on one figure: a better, b better, or a tie within noise. */
export type Comparison = 'better' | 'worse' | 'tie';

export function compare(a: Spread, b: Spread, higher: boolean): Comparison {
  if (clears(a, b, higher)) return 'better';
  if (clears(b, a, higher)) return 'worse';
  return 'tie';
}

export interface Standing {
  /** Best median among the cells that may win; undefined when none may. */
  leader?: AggCell;
  /** The next best median among them. */
  next?: AggCell;
  /** Cells that may win whose range the leader's does not clear: empty means a clear win. */
  tiedWith: AggCell[];
  /** The leader against the next was judged on fewer than two rounds. */
  untested: boolean;
  /** Never win: some connection got no answer in some round (its figures are the others'). */
  starved: AggCell[];
  /** Left out on a tail figure: the load generator may have set it (client.boundBy). */
  clientBound: AggCell[];
}

/**
 * Ranks cells by a figure's median and says whether the leader's range clears every other's.
 * A starved cell never competes: its throughput was earned by the connections that were served
 * while the others waited. On a tail figure (`tail`: p99) a client-bound cell does not compete
 * either: its tail may be the client's own event-loop delay.
 */
export function standing(cells: readonly AggCell[], figure: (c: AggCell) => Spread | null, { higher = true, tail = false } = {}): Standing {
  const starved = cells.filter(isStarved);
  const clientBound = tail ? cells.filter((c) => !isStarved(c) && isClientBound(c)) : [];
  const pool = cells.filter((c) => !starved.includes(c) && !clientBound.includes(c) && figure(c));
  const ranked = [...pool].sort((a, b) => (higher ? figure(b)!.median - figure(a)!.median : figure(a)!.median - figure(b)!.median));
  const [leader, next] = ranked;
  if (!leader) return { tiedWith: [], untested: false, starved, clientBound };
  const lead = figure(leader)!;
  return {
    leader,
    next,
    tiedWith: ranked.slice(1).filter((c) => !clears(lead, figure(c)!, higher)),
    untested: next ? untestedPair(lead, figure(next)) : (lead.n ?? 0) < 2,
    starved,
    clientBound,
  };
}
