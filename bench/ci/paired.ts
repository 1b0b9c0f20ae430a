// Paired A/B statistics for the CI report: base and head measured in the same interleaved rounds
// on the same machine, so each round gives one ratio head ÷ base, and the machine's drift — which
// moves both alike within a round — cancels out of it. Pure; nothing here knows about servers.
//
// On the log ratios (symmetric: −10% and +11% are the same distance) a paired t-test; the level
// is Bonferroni-corrected over the rows of the report, so that a run of two dozen rows on an
// unchanged commit is flagged wrongly in about α of runs, not in α of rows. The minimum detectable
// effect is what this run's own spread could have seen: (t₁₋α/2 + t₁₋β) × sd/√n, 80% power.
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
}

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
  verdict: Verdict;
}

/** `pairs`: one [base, head] per round (rounds where either is missing left out by the caller). */
export function comparePaired(pairs: readonly (readonly [number, number])[], options: PairedOptions): PairedComparison {
  const minEffect = options.minEffect ?? 0.05;
  const alpha = (options.alpha ?? 0.05) / Math.max(1, options.rows ?? 1);
  const power = options.power ?? 0.8;
  const usable = pairs.filter(([b, h]) => b > 0 && h > 0 && Number.isFinite(b) && Number.isFinite(h));
  const n = usable.length;
  const logs = usable.map(([b, h]) => Math.log(h / b));
  const baseMedian = median(usable.map(([b]) => b));
  const headMedian = median(usable.map(([, h]) => h));
  const mean = n ? logs.reduce((a, x) => a + x, 0) / n : 0;
  const sd = n > 1 ? Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : Infinity;
  const change = Math.exp(mean) - 1;
  if (n < 3 || !Number.isFinite(sd)) {
    return { n, baseMedian, headMedian, change, interval: [-Infinity, Infinity], p: 1, noise: sd, mde: Infinity, verdict: 'too noisy to say' };
  }
  const se = sd / Math.sqrt(n);
  const dof = n - 1;
  // sd = 0 (identical ratios every round): any non-zero mean is certain, a zero one is no change.
  const t = se > 0 ? mean / se : mean === 0 ? 0 : Math.sign(mean) * Infinity;
  const p = Number.isFinite(t) ? Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), dof)) : 0;
  const half = jStat.studentt.inv(0.975, dof) * se;
  const interval: [number, number] = [Math.exp(mean - half) - 1, Math.exp(mean + half) - 1];
  const detect = (jStat.studentt.inv(1 - alpha / 2, dof) + jStat.studentt.inv(power, dof)) * se;
  const mde = Math.max(minEffect, Math.exp(detect) - 1);
  const worse = options.direction === 'higher-is-better' ? -change : change;
  let verdict: Verdict;
  if (p < alpha && worse >= minEffect) verdict = 'regressed';
  else if (p < alpha && -worse >= minEffect) verdict = 'improved';
  else if (interval[0] > -minEffect && interval[1] < minEffect) verdict = 'unchanged';
  else verdict = 'too noisy to say';
  return { n, baseMedian, headMedian, change, interval, p, noise: sd, mde, verdict };
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
