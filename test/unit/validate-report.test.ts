// bench/validate/report.ts: the verdicts compare clients round by round, so a machine that changes
// speed between rounds cannot make one client look faster than the other.
import { describe, expect, it } from 'vitest';
import { compare, type RunFigures, type Series } from '../../bench/validate/report.ts';

const fig = (round: number, throughput: number, p99Us = 100): RunFigures => ({
  round, throughput, p50Us: 30, p90Us: 40, p99Us, p999Us: 200, maxUs: 1000, p99CoUs: p99Us * 2, errors: 0,
  clientCores: 1, serverCores: 0.9, activeConnections: 1, boundBy: null,
});

describe('validate report: harness ÷ C', () => {
  it('is the median of per-round ratios, not a ratio of medians over different machine phases', () => {
    // Rounds 1–2 fast, round 3 slow; the harness runs 2% behind the C client in every round. A
    // ratio of medians would compare the C client's slow-round median (22k) with the harness's fast one.
    const s: Series = {
      server: 'node-net-echo',
      connections: 1,
      runs: {
        harness: [fig(1, 35_000 * 0.98), fig(2, 22_000 * 0.98), fig(3, 34_000 * 0.98)],
        c: [fig(1, 35_000), fig(2, 22_000), fig(3, 21_000)],
        node: [],
      },
    };
    // c round 3 was slow while the harness's round 3 was fast: that round's ratio is an outlier.
    const t = compare(s, 'harness', 'c').find((v) => v.metric === 'throughput')!;
    expect(t.ratio).toBeCloseTo(0.98, 5);
    expect(t.roundRange![0]).toBeCloseTo(0.98, 5);
    expect(t.roundRange![1]).toBeCloseTo((34_000 * 0.98) / 21_000, 5);
    expect(t.within).toBe(true);
    expect(t.applies).toBe(true);
  });

  it('misses the target when every round is outside it', () => {
    const s: Series = {
      server: 'node-net-echo',
      connections: 32,
      runs: { harness: [fig(1, 1000, 140), fig(2, 1000, 150)], c: [fig(1, 1000, 100), fig(2, 1000, 100)], node: [] },
    };
    const p = compare(s, 'harness', 'c').find((v) => v.metric === 'p99')!;
    expect(p.ratio).toBeCloseTo(1.45, 5);
    expect(p.within).toBe(false);
  });

  it('without matching rounds falls back to the ratio of medians', () => {
    const s: Series = { server: 'event-loop', connections: 1, runs: { harness: [fig(1, 900)], c: [fig(2, 1000)], node: [] } };
    const t = compare(s, 'harness', 'c').find((v) => v.metric === 'throughput')!;
    expect(t.ratio).toBeCloseTo(0.9, 5);
    expect(t.roundRange).toBeNull();
    expect(t.applies).toBe(false);
  });
});

describe('validate report: how sure a verdict is', () => {
  const series = (ratios: number[]): Series => ({
    server: 'node-net-echo',
    connections: 1,
    runs: { harness: ratios.map((r, i) => fig(i + 1, 1000 * r)), c: ratios.map((_, i) => fig(i + 1, 1000)), node: [] },
  });
  const throughput = (s: Series) => compare(s, 'harness', 'c').find((v) => v.metric === 'throughput')!;

  it('nine rounds all near 0.97: met, the 95% interval inside the band', () => {
    const t = throughput(series([0.95, 0.96, 0.97, 0.98, 0.97, 0.99, 0.96, 0.97, 0.98]));
    expect(t.within).toBe(true);
    expect(t.interval!.coverage).toBeGreaterThanOrEqual(0.95);
    expect(t.certainty).toBe('inside');
  });

  it('rounds straddling the band edge: the median decides, the interval says it is within noise', () => {
    // Median 0.88 (missed), but rounds reach 1.0: the interval crosses 0.9.
    const t = throughput(series([0.6, 0.7, 0.8, 0.86, 0.88, 0.92, 0.95, 1.0, 1.01]));
    expect(t.within).toBe(false);
    expect(t.interval).toMatchObject({ lo: 0.7, hi: 1.0 });
    expect(t.certainty).toBe('undecided');
  });

  it('every round far off: missed, the interval outside the band', () => {
    const t = throughput(series([0.5, 0.55, 0.6, 0.58, 0.52, 0.61, 0.57, 0.59, 0.54]));
    expect(t.within).toBe(false);
    expect(t.certainty).toBe('outside');
  });

  it('an interval spanning the whole band (too low and too high at its ends) is not "outside"', () => {
    const t = throughput(series([0.5, 0.6, 0.7, 1.0, 1.0, 1.0, 1.3, 1.4, 1.5]));
    expect(t.certainty).toBe('undecided');
  });
});
