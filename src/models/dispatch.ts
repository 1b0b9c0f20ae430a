// Which child gets the next connection (process-pool's --dispatch). Pure selection functions over
// a list of candidates, like Node cluster's RoundRobinHandle or undici's kGetDispatcher: no I/O,
// no knowledge of processes, unit-tested on plain objects. The only state is a cursor the caller
// keeps, so a policy never remembers a child that has gone.
import type { DispatchPolicy } from '../shared/config.ts';

export interface Candidate {
  /** Connections this candidate is serving now (including ones in transit to it). */
  readonly active: number;
  /** False while starting, retiring or gone: never picked. */
  readonly accepting: boolean;
}

/** Where the next search starts; advanced past each pick. Keep one per pool. */
export interface Cursor {
  next: number;
}

export const newCursor = (): Cursor => ({ next: 0 });

/** Strict rotation over the accepting candidates, whatever their load. */
export function roundRobin<C extends Candidate>(children: readonly C[], cursor: Cursor): C | null {
  const n = children.length;
  for (let k = 0; k < n; k++) {
    const i = (cursor.next + k) % n;
    const child = children[i]!;
    if (child.accepting) {
      cursor.next = (i + 1) % n;
      return child;
    }
  }
  return null;
}

/**
 * The accepting candidate with the fewest active connections. Ties rotate (nginx least_conn
 * does the same), so an idle pool spreads sequential connections instead of piling them all on
 * the first child.
 */
export function leastConnections<C extends Candidate>(children: readonly C[], cursor: Cursor): C | null {
  const n = children.length;
  let best: C | null = null;
  let bestIndex = -1;
  for (let k = 0; k < n; k++) {
    const i = (cursor.next + k) % n;
    const child = children[i]!;
    if (child.accepting && (best === null || child.active < best.active)) {
      best = child;
      bestIndex = i;
    }
  }
  if (best) cursor.next = (bestIndex + 1) % n;
  return best;
}

export const DISPATCH: { [P in DispatchPolicy]: <C extends Candidate>(children: readonly C[], cursor: Cursor) => C | null } = {
  'least-connections': leastConnections,
  'round-robin': roundRobin,
};
