import { describe, expect, it } from 'vitest';
import { DISPATCH, leastConnections, newCursor, roundRobin } from '../../src/models/dispatch.ts';

const kids = (...spec: [number, boolean?][]) => spec.map(([active, accepting = true], i) => ({ name: `c${i}`, active, accepting }));
const picks = (fn: typeof roundRobin, children: ReturnType<typeof kids>, n: number) => {
  const cursor = newCursor();
  return Array.from({ length: n }, () => fn(children, cursor)?.name ?? null);
};

describe('roundRobin', () => {
  it('rotates over accepting children regardless of load', () => {
    expect(picks(roundRobin, kids([5], [0], [9]), 6)).toEqual(['c0', 'c1', 'c2', 'c0', 'c1', 'c2']);
  });
  it('skips children that are not accepting', () => {
    expect(picks(roundRobin, kids([0], [0, false], [0]), 4)).toEqual(['c0', 'c2', 'c0', 'c2']);
  });
  it('returns null when nobody accepts, or there is nobody', () => {
    expect(picks(roundRobin, kids([0, false], [0, false]), 2)).toEqual([null, null]);
    expect(roundRobin([], newCursor())).toBeNull();
  });
  it('survives the list shrinking under the cursor', () => {
    const cursor = { next: 7 };
    expect(roundRobin(kids([0], [0]), cursor)?.name).toBe('c1');
  });
});

describe('leastConnections', () => {
  it('picks the child with the fewest active connections', () => {
    expect(leastConnections(kids([3], [1], [2]), newCursor())?.name).toBe('c1');
  });
  it('never picks a non-accepting child, even an idle one', () => {
    expect(leastConnections(kids([3], [0, false], [2]), newCursor())?.name).toBe('c2');
    expect(leastConnections(kids([0, false]), newCursor())).toBeNull();
  });
  it('rotates among ties, so sequential connections on an idle pool spread out', () => {
    expect(picks(leastConnections, kids([0], [0], [0]), 4)).toEqual(['c0', 'c1', 'c2', 'c0']);
  });
  it('fills the emptiest as load changes', () => {
    const children = kids([0], [0]);
    const cursor = newCursor();
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const c = leastConnections(children, cursor)!;
      c.active++;
      order.push(c.name);
    }
    expect(order).toEqual(['c0', 'c1', 'c0', 'c1']);
    children[0]!.active = 0;
    expect(leastConnections(children, cursor)?.name).toBe('c0');
  });
});

it('DISPATCH maps every --dispatch value', () => {
  expect(Object.keys(DISPATCH).sort()).toEqual(['least-connections', 'round-robin']);
});
