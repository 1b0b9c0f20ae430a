// Paired A/B statistics for the CI report: base and head measured in the same interleaved rounds
// on the same machine, so each round gives one ratio head ÷ base, and the machine's drift — which
// moves both alike within a round — cancels out of it. Pure; nothing here knows about servers.
//
// On the log ratios (symmetric: −10% and +11% are the same distance) a paired t-test; the level
// is Bonferroni-corrected over the rows of the report, so that a run of two dozen rows on an
// unchanged commit is flagged wrongly in about α of runs, not in α of rows. The minimum detectable
// effect is what this run's own spread could have seen: (t₁₋α/2 + t₁₋β) × sd/√n, 80% power.
//
// Instances (the held design's blocks): the pairs come from K pairs of server processes, started
// afresh, K blocks of pairs. A process can run persistently faster or slower than another of the
// same code (same-commit runs here: event-loop work-1ms −9.9%, +6.7%, +7.7%, +9.6% over 12 pairs
// each, p < 1e-3 every time), which no number of slices from one process averages out. So the log
// ratios are first tested for a block effect (one-way ANOVA, p < BLOCK_ALPHA): without one, every
// pair counts, as before; with one, the unit is the block (its mean log ratio), n = K: such a row
// can only be flagged if every instance pair agrees, and its MDE says how little it can see.
// Simulated (test/bench/ci-paired.test.ts), 24 rows of which 3 carry an instance
// effect of 5–10% per process: one instance pair per side flags ≈ 65% of unchanged runs; 3
// instance pairs of 4 slices with this test ≈ 7%, 6 of 2 ≈ 1–2%, and both still flag a 10% change
// on a row without one ≈ 95–97%. On this VM 6 cost too much (results/ci-sensitivity.md): bench-ci
// defaults to 3.
import jstat from 'jstat';
import { median, type Direction, type Verdict } from './stats.ts';

const { jStat } = jstat;

export interface PairedOptions {
  direction: Direction;
  /** Smallest change (relative) that may be called a regression or an improvement (default 0.05). */
  minEffect?: number;
  /** Family-wise significance level (default 0.05), split over `rows`. */
  alpha?: number;
  /** How many comparisons the report makes (Bonferroni). */
  rows?: number;
  /** Power for the minimum detectable effect (default 0.8). */
  power?: number;
  /** Per pair, the instance pair (block) it came from; absent or one block: no block test. */
  blocks?: readonly number[];
}

/** Level of the test for a block (instance) effect, per row. */
export const BLOCK_ALPHA = 0.05;

export interface PairedComparison {
  /** Rounds with both a base and a head figure. */
  n: number;
  baseMedian: number;
  headMedian: number;
  /** exp(mean log ratio) − 1: the typical change head vs base. */
  change: number;
  /** 95% interval of `change` (t, unadjusted). */
  interval: [number, number];
  /** Two-sided p of the paired t-test on log ratios (unadjusted; the verdict uses alpha/rows). */
  p: number;
  /** Standard deviation of the per-round log ratios (≈ relative noise of one pair). */
  noise: number;
  /** Smallest change this run could have flagged (relative, ≥ minEffect); Infinity with < 3 pairs. */
  mde: number;
  /** Standard error of the mean log ratio of the test's unit (pairs, or instance pairs), and its degrees of freedom: what poolRows needs. */
  se: number;
  dof: number;
  verdict: Verdict;
  /** With blocks: how many, the ANOVA p of a block effect, and whether the row was judged on block means. */
  instances?: { blocks: number; p: number; byBlock: boolean };
}

const mean = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
/** Sample standard deviation; Infinity with fewer than 2 values. */
const sdOf = (xs: readonly number[]) => {
  if (xs.length < 2) return Infinity;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
};

/** One-way ANOVA of `xs` grouped by `groups`: the group means and the p of a group effect; null if it cannot be tested. */
export function blockEffect(xs: readonly number[], groups: readonly number[]): { means: number[]; p: number } | null {
  const by = new Map<number, number[]>();
  xs.forEach((x, i) => {
    const g = groups[i]!;
    let list = by.get(g);
    if (!list) by.set(g, (list = []));
    list.push(x);
  });
  const gs = [...by.values()];
  const k = gs.length;
  const n = xs.length;
  if (k < 2 || n - k < 1) return null;
  const grand = mean(xs);
  const means = gs.map(mean);
  const ssb = gs.reduce((a, g, i) => a + g.length * (means[i]! - grand) ** 2, 0);
  const ssw = gs.reduce((a, g, i) => a + g.reduce((s, x) => s + (x - means[i]!) ** 2, 0), 0);
  const msb = ssb / (k - 1);
  const msw = ssw / (n - k);
  const f = msw > 0 ? msb / msw : msb > 0 ? Infinity : 0;
  return { means, p: Number.isFinite(f) ? 1 - jStat.centralF.cdf(f, k - 1, n - k) : 0 };
}

/** `pairs`: one [base, head] per round (rounds where either is missing left out by the caller). */
export function comparePaired(pairs: readonly (readonly [number, number])[], options: PairedOptions): PairedComparison {
  const minEffect = options.minEffect ?? 0.05;
  const alpha = (options.alpha ?? 0.05) / Math.max(1, options.rows ?? 1);
  const power = options.power ?? 0.8;
  const ok = ([b, h]: readonly [number, number]) => b > 0 && h > 0 && Number.isFinite(b) && Number.isFinite(h);
  const usable = pairs.filter(ok);
  const pairLogs = usable.map(([b, h]) => Math.log(h / b));
  const baseMedian = median(usable.map(([b]) => b));
  const headMedian = median(usable.map(([, h]) => h));
  let logs = pairLogs;
  let instances: PairedComparison['instances'];
  if (options.blocks && options.blocks.length === pairs.length) {
    const groups = options.blocks.filter((_, i) => ok(pairs[i]!));
    const test = blockEffect(pairLogs, groups);
    if (test) {
      const byBlock = test.p < BLOCK_ALPHA;
      instances = { blocks: test.means.length, p: test.p, byBlock };
      if (byBlock) logs = test.means;
    }
  }
  const n = logs.length;
  const m = n ? mean(logs) : 0;
  // noise stays the spread of one pair, whatever the unit of the test.
  const noise = sdOf(pairLogs);
  const sd = sdOf(logs);
  const change = Math.exp(m) - 1;
  if (n < 3 || !Number.isFinite(sd)) {
    return { n, baseMedian, headMedian, change, interval: [-Infinity, Infinity], p: 1, noise, mde: Infinity, se: Infinity, dof: Math.max(0, n - 1), verdict: 'too noisy to say', instances };
  }
  const se = sd / Math.sqrt(n);
  const dof = n - 1;
  // sd = 0 (identical ratios every round): any non-zero mean is certain, a zero one is no change.
  const t = se > 0 ? m / se : m === 0 ? 0 : Math.sign(m) * Infinity;
  const p = Number.isFinite(t) ? Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), dof)) : 0;
  const half = jStat.studentt.inv(0.975, dof) * se;
  const interval: [number, number] = [Math.exp(m - half) - 1, Math.exp(m + half) - 1];
  const detect = (jStat.studentt.inv(1 - alpha / 2, dof) + jStat.studentt.inv(power, dof)) * se;
  const mde = Math.max(minEffect, Math.exp(detect) - 1);
  const verdict = verdictOf({ change, interval, p }, { direction: options.direction, alpha, minEffect });
  return { n, baseMedian, headMedian, change, interval, p, noise, mde, se, dof, verdict, instances };
}

/**
 * The rule, for any test of a change: significant at `alpha` (already split over the rows) and
 * at least `minEffect` in the bad direction is a regression; an interval inside ±minEffect is
 * "unchanged"; anything else cannot be told from noise.
 */
export function verdictOf(x: { change: number; interval: [number, number]; p: number }, o: { direction: Direction; alpha: number; minEffect: number }): Verdict {
  const worse = o.direction === 'higher-is-better' ? -x.change : x.change;
  if (x.p < o.alpha && worse >= o.minEffect) return 'regressed';
  if (x.p < o.alpha && -worse >= o.minEffect) return 'improved';
  if (x.interval[0] > -o.minEffect && x.interval[1] < o.minEffect) return 'unchanged';
  return 'too noisy to say';
}

/**
 * Two independent samples (the committed-baseline mode): the smallest relative change a
 * comparison of medians this spread could have told from noise, by the same formula on log values.
 */
export function unpairedMde(baseline: readonly number[], current: readonly number[], { alpha = 0.05, rows = 1, power = 0.8, minEffect = 0.1 } = {}): number {
  const v = (xs: readonly number[]) => {
    const l = xs.filter((x) => x > 0).map(Math.log);
    const m = l.reduce((a, x) => a + x, 0) / l.length;
    return l.length > 1 ? l.reduce((a, x) => a + (x - m) ** 2, 0) / (l.length - 1) : Infinity;
  };
  if (baseline.length < 2 || current.length < 2) return Infinity;
  const se = Math.sqrt(v(baseline) / baseline.length + v(current) / current.length);
  const dof = Math.max(1, baseline.length + current.length - 2);
  const a = alpha / Math.max(1, rows);
  return Math.max(minEffect, Math.exp((jStat.studentt.inv(1 - a / 2, dof) + jStat.studentt.inv(power, dof)) * se) - 1);
}
