// The regression verdicts on synthetic samples: quiet when nothing changed, loud when it did,
// and honest ("too noisy to say") when the data cannot tell.
import { describe, expect, it } from 'vitest';
import { compare, mannWhitneyU, median, mulberry32, changeInterval, medianInterval } from '../../bench/ci/stats.ts';

/** n samples around `center` with relative standard deviation `cv` (seeded normal). */
function samples(n: number, center: number, cv: number, seed: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    return center * (1 + cv * z);
  });
}

describe('mannWhitneyU', () => {
  it('exact p for completely separated samples of 5 vs 5 is 2/252', () => {
    expect(mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p).toBeCloseTo(2 / 252, 6);
  });
  it('identical distributions give a large p', () => {
    expect(mannWhitneyU([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]).p).toBeGreaterThan(0.5);
  });
  it('falls back to the normal approximation with ties', () => {
    const { p } = mannWhitneyU([1, 1, 2, 2, 3], [3, 4, 4, 5, 5]);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(0.05);
  });
});

describe('compare (5 rounds each, 3% noise unless stated)', () => {
  const base = samples(5, 1000, 0.03, 1);

  it('no change → unchanged, across many seeds (no false alarm)', () => {
    for (let seed = 2; seed < 42; seed++) {
      const r = compare(base, samples(5, 1000, 0.03, seed), { direction: 'higher-is-better' });
      expect(r.verdict, `seed ${seed}`).not.toBe('regressed');
      expect(r.verdict, `seed ${seed}`).not.toBe('improved');
    }
  });

  it('a 5% shift is below the 10% minimum effect → at most 1 of 20 draws flagged', () => {
    // With 5 rounds at 3% noise a median difference has σ ≈ 2.4%, so a true 5% shift is seen
    // as ≥ 10% in roughly 1–2% of draws: the rule is a threshold on what was measured.
    let flagged = 0;
    for (let seed = 2; seed < 22; seed++) {
      const r = compare(base, samples(5, 950, 0.03, seed), { direction: 'higher-is-better' });
      expect(r.verdict, `seed ${seed}`).not.toBe('improved');
      if (r.verdict === 'regressed') flagged++;
    }
    expect(flagged).toBeLessThanOrEqual(1);
  });

  it('a 25% throughput drop → regressed; a 25% rise → improved', () => {
    expect(compare(base, samples(5, 750, 0.03, 7), { direction: 'higher-is-better' }).verdict).toBe('regressed');
    expect(compare(base, samples(5, 1250, 0.03, 7), { direction: 'higher-is-better' }).verdict).toBe('improved');
  });

  it('direction matters: 25% more CPU per request is a regression', () => {
    const r = compare(base, samples(5, 1250, 0.03, 9), { direction: 'lower-is-better' });
    expect(r.verdict).toBe('regressed');
    expect(r.change).toBeGreaterThan(0.15);
  });

  it('high variance (40%) with no real change → too noisy to say, not regressed', () => {
    const noisyBase = samples(5, 1000, 0.4, 11);
    for (let seed = 12; seed < 32; seed++) {
      const r = compare(noisyBase, samples(5, 1000, 0.4, seed), { direction: 'higher-is-better' });
      expect(r.verdict, `seed ${seed}`).not.toBe('regressed');
      expect(r.verdict, `seed ${seed}`).not.toBe('improved');
    }
    const verdicts = Array.from({ length: 20 }, (_, i) => compare(noisyBase, samples(5, 1000, 0.4, 100 + i), { direction: 'higher-is-better' }).verdict);
    expect(verdicts.filter((v) => v === 'too noisy to say').length).toBeGreaterThanOrEqual(15);
  });

  it('a change far beyond the spread is judged even when the samples wander more than minEffect', () => {
    // 15 % noise: too much to judge a 10 % shift, not a 4.4× one (the slowed build's CPU per request).
    const wobbly = samples(5, 25, 0.15, 21);
    expect(compare(wobbly, samples(5, 27.5, 0.15, 22), { direction: 'lower-is-better' }).verdict).toBe('too noisy to say');
    expect(compare(wobbly, samples(5, 110, 0.03, 23), { direction: 'lower-is-better' }).verdict).toBe('regressed');
    expect(compare(wobbly, samples(5, 5, 0.03, 24), { direction: 'lower-is-better' }).verdict).toBe('improved');
  });

  it('minEffect is configurable per metric', () => {
    const cur = samples(5, 930, 0.01, 5);
    const tight = samples(5, 1000, 0.01, 6);
    expect(compare(tight, cur, { direction: 'higher-is-better', minEffect: 0.05 }).verdict).toBe('regressed');
    expect(compare(tight, cur, { direction: 'higher-is-better', minEffect: 0.1 }).verdict).toBe('unchanged');
  });

  it('the bootstrap interval brackets the observed change and is deterministic', () => {
    const cur = samples(5, 800, 0.03, 3);
    const [lo, hi] = changeInterval(base, cur);
    const change = median(cur) / median(base) - 1;
    expect(lo).toBeLessThanOrEqual(change);
    expect(hi).toBeGreaterThanOrEqual(change);
    expect(changeInterval(base, cur)).toEqual([lo, hi]);
  });
});

describe('medianInterval', () => {
  const ranks = (n: number) => Array.from({ length: n }, (_, i) => n - i); // unsorted on purpose
  it('gives the textbook order statistics for the median at 95%', () => {
    // n = 9: x(2)–x(8), 96.1%; n = 20: x(6)–x(15), 95.9% (binomial tables).
    expect(medianInterval(ranks(9))).toMatchObject({ lo: 2, hi: 8 });
    expect(medianInterval(ranks(9))!.coverage).toBeCloseTo(1 - 20 / 512, 10);
    expect(medianInterval(ranks(20))).toMatchObject({ lo: 6, hi: 15 });
  });
  it('below 6 values falls back to the range and says how much that covers', () => {
    expect(medianInterval(ranks(5))).toEqual({ lo: 1, hi: 5, coverage: 1 - 2 / 32 });
    expect(medianInterval([])).toBeNull();
  });
});
