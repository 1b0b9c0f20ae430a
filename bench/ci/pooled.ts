// One metric across every model, as one more row of the CI report. A change to shared code (the
// protocol codec, the connection loop, the handler) costs every model the same µs per request; each
// model's own row sees it only against its own noise, and on this VM most rows cannot see 10%
// alone (results/ci-sensitivity.md: a +10% run missed with all six echo CPU rows +4…+11% at
// p = 0.003…0.39, none under the Bonferroni level). Pooled, six independent tests of one shift
// see what none of them sees alone.
//
// The test is Stouffer's: each model's paired t-test becomes a signed z (the normal quantile of
// its t's one-sided probability), Z = Σz/√k. Inverted for the shift δ common to all models (each
// row's t taken at (mᵢ − δ)/seᵢ), the same statistic gives the pooled change (Z = 0), its 95%
// interval (|Z| = 1.96) and the minimum detectable effect (Z at δ reaches z₁₋α/2 + z_power), so the
// row reads like any other. Models are measured one after another (held.ts), so their tests are
// independent; a row judged on its instance pairs brings its own few degrees of freedom and so
// weighs little. A change in one model alone is diluted here and stays the job of that model's row.
// Pure; nothing here knows about servers.
import jstat from 'jstat';
import { verdictOf } from './paired.ts';
import type { Direction, Verdict } from './stats.ts';

const { jStat } = jstat;

/** What one model's row brings: its mean log ratio, the standard error and dof of its test. */
export interface PoolInput {
  /** log(head ÷ base), the row's mean log ratio. */
  m: number;
  se: number;
  dof: number;
}

export interface PooledComparison {
  /** Rows pooled. */
  k: number;
  /** The common change that fits the rows best (Stouffer Z = 0). */
  change: number;
  interval: [number, number];
  /** Two-sided p of Stouffer's Z at no change. */
  p: number;
  z: number;
  /** Smallest common change this run could have flagged (relative, ≥ minEffect); Infinity with no rows. */
  mde: number;
  verdict: Verdict;
}

export interface PoolOptions {
  direction: Direction;
  minEffect?: number;
  alpha?: number;
  /** How many comparisons the report makes, this row among them (Bonferroni). */
  rows?: number;
  power?: number;
}

const Z_CAP = 37; // |z| beyond which doubles carry no tail probability

/** The signed z of a t statistic with `dof` degrees of freedom (computed from the near tail, so large t stay exact). */
function zOfT(t: number, dof: number): number {
  if (t === 0) return 0;
  if (!Number.isFinite(t)) return Math.sign(t) * Z_CAP;
  const tail = jStat.studentt.cdf(-Math.abs(t), dof);
  const z = tail > 0 ? -jStat.normal.inv(tail, 0, 1) : Z_CAP;
  return Math.sign(t) * Math.min(Z_CAP, z);
}

/** Stouffer's Z for a common log shift `delta`. Decreasing in delta. */
function stouffer(rows: readonly PoolInput[], delta: number): number {
  return rows.reduce((a, r) => a + zOfT(r.se > 0 ? (r.m - delta) / r.se : Math.sign(r.m - delta) * Infinity, r.dof), 0) / Math.sqrt(rows.length);
}

/** The delta in [lo, hi] where f (decreasing) crosses `target`: bisection. */
function solve(f: (d: number) => number, target: number, lo = -5, hi = 5): number {
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export function poolRows(inputs: readonly PoolInput[], options: PoolOptions): PooledComparison {
  const minEffect = options.minEffect ?? 0.05;
  const alpha = (options.alpha ?? 0.05) / Math.max(1, options.rows ?? 1);
  const power = options.power ?? 0.8;
  const rows = inputs.filter((r) => Number.isFinite(r.m) && Number.isFinite(r.se) && r.se >= 0 && r.dof >= 1);
  const k = rows.length;
  if (!k) return { k, change: 0, interval: [-Infinity, Infinity], p: 1, z: 0, mde: Infinity, verdict: 'too noisy to say' };
  const z = stouffer(rows, 0);
  const p = Math.min(1, 2 * jStat.normal.cdf(-Math.abs(z), 0, 1));
  const f = (d: number) => stouffer(rows, d);
  const change = Math.exp(solve(f, 0)) - 1;
  const zc = jStat.normal.inv(0.975, 0, 1);
  const interval: [number, number] = [Math.exp(solve(f, zc)) - 1, Math.exp(solve(f, -zc)) - 1];
  // The common shift at which the rows' z, each at its expected t = δ/se, add up to detection.
  const need = jStat.normal.inv(1 - alpha / 2, 0, 1) + jStat.normal.inv(power, 0, 1);
  const detect = solve((d) => -rows.reduce((a, r) => a + zOfT(r.se > 0 ? d / r.se : Infinity, r.dof), 0) / Math.sqrt(k), -need, 0, 5);
  const mde = Math.max(minEffect, Math.exp(detect) - 1);
  return { k, change, interval, p, z, mde, verdict: verdictOf({ change, interval, p }, { direction: options.direction, alpha, minEffect }) };
}
