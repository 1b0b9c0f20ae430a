// The paired A/B statistics on seeded synthetic rounds: a machine whose speed drifts round to
// round by far more than the effect, with base and head measured in the same round.
import { describe, expect, it } from 'vitest';
import { blockEffect, comparePaired, unpairedMde } from '../../bench/ci/paired.ts';
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

/**
 * The held design's instance pairs: `blocks` pairs of server processes, `per` pairs of slices each.
 * Each process has its own persistent speed (instanceSd, drawn once per process), on top of the
 * slice noise; the effect is the head's.
 */
function instances(blocks: number, per: number, effect: number, sliceNoise: number, instanceSd: number, seed: number): { pairs: [number, number][]; groups: number[] } {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const pairs: [number, number][] = [];
  const groups: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const baseSpeed = 1 + instanceSd * gauss();
    const headSpeed = 1 + instanceSd * gauss();
    for (let i = 0; i < per; i++) {
      const machine = 1 + 0.3 * (rand() * 2 - 1);
      pairs.push([100 * machine * baseSpeed * (1 + sliceNoise * gauss()), 100 * machine * headSpeed * (1 + effect) * (1 + sliceNoise * gauss())]);
      groups.push(b);
    }
  }
  return { pairs, groups };
}

describe('instance pairs (blocks)', () => {
  const opts = { direction: 'lower-is-better' as const, rows: 24 };

  it('one-way ANOVA: without a block effect p < 0.05 in about 5% of draws; a large one gives a tiny p', () => {
    let low = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const flat = instances(6, 2, 0, 0.03, 0, seed);
      if (blockEffect(flat.pairs.map(([b, h]) => Math.log(h / b)), flat.groups)!.p < 0.05) low++;
    }
    expect(low).toBeGreaterThan(5);
    expect(low).toBeLessThan(40);
    const apart = instances(6, 2, 0, 0.01, 0.1, 12);
    const test = blockEffect(apart.pairs.map(([b, h]) => Math.log(h / b)), apart.groups)!;
    expect(test.means).toHaveLength(6);
    expect(test.p).toBeLessThan(0.001);
    expect(blockEffect([1, 2, 3], [0, 0, 0])).toBeNull(); // one block: nothing to test
  });

  it('rows whose processes differ by 5–10% (as work-1ms here): few unchanged runs of 24 rows flagged with 6 instance pairs; with one, most', () => {
    let blocked = 0;
    let single = 0;
    for (let run = 0; run < 200; run++) {
      let anyBlocked = false;
      let anySingle = false;
      for (let row = 0; row < 24; row++) {
        // Three rows of each run carry an instance effect; the rest do not.
        const sd = row < 2 ? 0.05 : row < 3 ? 0.1 : 0;
        const six = instances(6, 2, 0, 0.03, sd, run * 100 + row + 1);
        if (comparePaired(six.pairs, { ...opts, blocks: six.groups }).verdict === 'regressed') anyBlocked = true;
        const one = instances(1, 12, 0, 0.03, sd, run * 100 + row + 1);
        if (comparePaired(one.pairs, opts).verdict === 'regressed') anySingle = true;
      }
      if (anyBlocked) blocked++;
      if (anySingle) single++;
    }
    expect(blocked).toBeLessThanOrEqual(10); // ≤ 5% of runs
    expect(single).toBeGreaterThan(80); // one process per side: its own speed passes for an effect
  });

  it('without an instance effect the blocks cost little: a 10% CPU increase is still flagged nearly always', () => {
    let flagged = 0;
    let byBlock = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const r = instances(6, 2, 0.1, 0.03, 0, seed);
      const x = comparePaired(r.pairs, { ...opts, blocks: r.groups });
      if (x.verdict === 'regressed') flagged++;
      if (x.instances?.byBlock) byBlock++;
    }
    expect(flagged).toBeGreaterThanOrEqual(45);
    expect(byBlock).toBeLessThanOrEqual(8); // the block test's own α (5%)
  });

  it('a row whose instances disagree is judged on them, says so, and keeps the pair noise as its noise', () => {
    const r = instances(6, 2, 0, 0.01, 0.1, 12);
    const x = comparePaired(r.pairs, { ...opts, blocks: r.groups });
    expect(x.instances).toMatchObject({ blocks: 6, byBlock: true });
    expect(x.n).toBe(6);
    expect(x.verdict).not.toBe('regressed');
    expect(x.noise).toBeCloseTo(comparePaired(r.pairs, opts).noise, 10);
    expect(x.mde).toBeGreaterThan(comparePaired(r.pairs, opts).mde); // it says how much less it can see
  });
});
