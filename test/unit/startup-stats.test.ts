import { describe, expect, it } from 'vitest';
import { StartupStats } from '../../src/models/startup-stats.ts';

describe('StartupStats', () => {
  it('is empty (n 0, null percentiles) until something is timed', () => {
    expect(new StartupStats(null).summary()).toEqual({ unit: null, n: 0, p50Ms: null, p99Ms: null });
  });
  it('nearest-rank p50/p99, rounded to 0.01 ms; NaN (never ready) is not a sample', () => {
    const s = new StartupStats('thread');
    for (let i = 1; i <= 100; i++) s.add(i + 0.123);
    s.add(NaN);
    expect(s.summary()).toEqual({ unit: 'thread', n: 100, p50Ms: 50.12, p99Ms: 99.12 });
  });
  it('keeps only the most recent samples for the percentiles, counts all', () => {
    const s = new StartupStats('process', 4);
    for (const ms of [1000, 1000, 1000, 1000, 1, 2, 3, 4]) s.add(ms);
    expect(s.summary()).toEqual({ unit: 'process', n: 8, p50Ms: 2, p99Ms: 4 });
  });
});
