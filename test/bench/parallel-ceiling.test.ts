// The parallel-ceiling probe for real: worker threads running the WORK op's SHA-256 chain, one
// alone then all at once. Asserts what it reports, not how fast this machine is.
import { describe, expect, it } from 'vitest';
import { parallelCeiling } from '../../bench/micro/parallel-ceiling.ts';

describe('parallel ceiling probe', () => {
  it('reports both rates and their ratio, and leaves no thread behind', async () => {
    const before = process.getActiveResourcesInfo().filter((x) => x === 'MessagePort').length;
    const row = await parallelCeiling(3, { threads: 2, ms: 100 });
    expect(row).toMatchObject({ round: 3, threads: 2 });
    expect(row.aloneRate).toBeGreaterThan(0);
    expect(row.togetherRate).toBeGreaterThan(0);
    expect(row.ceiling).toBeCloseTo(row.togetherRate / row.aloneRate, 9);
    // Two threads on at most two CPUs: never more than about twice one thread's rate.
    expect(row.ceiling).toBeLessThan(2.5);
    expect(process.getActiveResourcesInfo().filter((x) => x === 'MessagePort').length).toBe(before);
  });
});
