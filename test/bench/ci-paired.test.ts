// The paired A/B statistics on seeded synthetic rounds: a machine whose speed drifts round to
// round by far more than the effect, with base and head measured in the same round.
import { describe, expect, it } from 'vitest';
import { comparePaired, unpairedMde } from '../../bench/ci/paired.ts';
import { mulberry32 } from '../../bench/ci/stats.ts';

/** n rounds: machine speed drifts ±30% per round (shared by both), each cell adds its own noise. */
function rounds(n: number, effect: number, cellNoise: number, seed: number): [number, number][] {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return Array.from({ length: n }, () => {
    const machine = 1 + 0.3 * (rand() * 2 - 1);
    const base = 100 * machine * (1 + cellNoise * gauss());
    const head = 100 * machine * (1 + effect) * (1 + cellNoise * gauss());
    return [base, head];
  });
}

describe('paired A/B comparison', () => {
  const opts = { direction: 'lower-is-better' as const, rows: 24 };

  it('the drift both sides share cancels: a 10% CPU increase under ±30% drift and 3% cell noise is flagged', () => {
    let flagged = 0;
    for (let seed = 1; seed <= 50; seed++) if (comparePaired(rounds(10, 0.1, 0.03, seed), opts).verdict === 'regressed') flagged++;
    expect(flagged).toBeGreaterThanOrEqual(45);
  });

  it('no change: at most a few of 200 runs flagged with 24 rows each (Bonferroni)', () => {
    let runsFlagged = 0;
    for (let run = 0; run < 200; run++) {
      let any = false;
      for (let row = 0; row < 24; row++) if (comparePaired(rounds(10, 0, 0.03, run * 100 + row + 7), opts).verdict === 'regressed') any = true;
      if (any) runsFlagged++;
    }
    expect(runsFlagged).toBeLessThanOrEqual(8); // α = 5% per run, in expectation 5 of 200 at most (one-sided half of that)
  });

  it('the minimum detectable effect follows the spread and the rounds, and never undercuts minEffect', () => {
    const quiet = comparePaired(rounds(10, 0, 0.01, 3), opts);
    const noisy = comparePaired(rounds(10, 0, 0.1, 3), opts);
    expect(quiet.mde).toBeCloseTo(0.05, 5); // clamped at minEffect
    expect(noisy.mde).toBeGreaterThan(0.1);
    expect(comparePaired(rounds(40, 0, 0.1, 3), opts).mde).toBeLessThan(noisy.mde);
    expect(comparePaired(rounds(2, 0, 0.01, 3), opts).mde).toBe(Infinity);
  });

  it('direction and the minimum effect: a significant but tiny change is not a regression; a drop in throughput is', () => {
    const tiny = comparePaired(rounds(20, 0.02, 0.002, 5), opts);
    expect(tiny.p).toBeLessThan(0.001);
    expect(tiny.verdict).not.toBe('regressed');
    const drop = comparePaired(rounds(10, -0.2, 0.02, 6), { ...opts, direction: 'higher-is-better' });
    expect(drop.verdict).toBe('regressed');
    expect(drop.change).toBeCloseTo(-0.2, 1);
    expect(comparePaired(rounds(10, -0.2, 0.02, 6), opts).verdict).toBe('improved');
  });

  it('unpaired: the same spread without pairing sees much less (the drift stays in)', () => {
    const r = rounds(10, 0, 0.03, 9);
    const paired = comparePaired(r, opts).mde;
    const unpaired = unpairedMde(r.map(([b]) => b), r.map(([, h]) => h), { rows: 24, minEffect: 0.05 });
    expect(unpaired).toBeGreaterThan(2 * paired);
  });
});
