// A kept sensitivity run, judged by the rule bench-ci applies today. Runs made before the pooled
// rows (bench/ci/pooled.ts) kept each row's change, p, MDE and whether it was judged on its
// instance pairs; from those the pooled rows can be rebuilt and every verdict taken again at the
// Bonferroni level of the larger family, without measuring anything again. Approximate only in
// the rounding of the printed figures (change to 0.1%, p to 3 digits): a row's z comes from its
// printed p exactly, and its standard error from p and change. Pure.
import jstat from 'jstat';
import { poolRows, type PoolInput } from './pooled.ts';
import { HELD_METRICS, POOLED } from './run.ts';

const { jStat } = jstat;

/** One judged row of a bench-ci report, as the sensitivity proof keeps it. */
export interface SeenRow {
  /** "model metric", as in `flagged`. */
  row: string;
  /** Head ÷ base − 1 as the report prints it (fraction): + is more CPU per request, − fewer requests/s. */
  change: number;
  p: number;
  mde: number;
  verdict: string;
  /** Judged on its instance pairs, which disagreed (the report's "instances differ"; absent in the first runs that kept rows). */
  instancesDiffer?: boolean;
}

/** bench-ci's held defaults when those runs were made: 12 pairs, 3 instance pairs, minimum effect 5%, α 5%, 80% power. */
export const HELD_DEFAULTS = { pairs: 12, blocks: 3, minEffect: 0.05, alpha: 0.05, power: 0.8 } as const;

const metricOf = (row: string) => HELD_METRICS.find((m) => row.endsWith(` ${m.label}`));

/** What one printed row brings to a pool: m from its change, se from its t (p) or, where p says nothing, from its MDE. */
function inputOf(r: SeenRow, oldRows: number, d = HELD_DEFAULTS): PoolInput | null {
  const dof = r.instancesDiffer ? d.blocks - 1 : d.pairs - 1;
  const m = Math.log1p(r.change);
  if (r.p > 0 && r.p < 1 && m !== 0) return { m, se: Math.abs(m) / jStat.studentt.inv(1 - r.p / 2, dof), dof };
  if (!Number.isFinite(r.mde)) return null;
  // The row's MDE was (t₁₋α/2 + t_power) × se at the level of its own family (an upper bound where it was clamped at minEffect).
  const a = d.alpha / oldRows;
  return { m, se: Math.log1p(r.mde) / (jStat.studentt.inv(1 - a / 2, dof) + jStat.studentt.inv(d.power, dof)), dof };
}

/**
 * The run's rows as bench-ci judges them now: rows that already hold pooled rows are returned as
 * they are; older ones get the pooled rows rebuilt and every verdict taken at α ÷ (rows + pooled rows).
 */
export function rejudge(rows: readonly SeenRow[], d = HELD_DEFAULTS): SeenRow[] {
  if (rows.some((r) => r.row.startsWith(`${POOLED} `))) return [...rows];
  const metrics = HELD_METRICS.filter((m) => rows.some((r) => metricOf(r.row) === m));
  // The family bench-ci judged then: every model's every metric (failed rows kept no figures but counted).
  const models = new Set(rows.map((r) => r.row.slice(0, r.row.indexOf(' ')))).size;
  const oldFamily = models * HELD_METRICS.length;
  const family = oldFamily + HELD_METRICS.length;
  const level = d.alpha / family;
  const out: SeenRow[] = rows.map((r) => {
    const metric = metricOf(r.row);
    if (!metric) return { ...r };
    const worse = metric.direction === 'higher-is-better' ? -r.change : r.change;
    // Only the level moved: a verdict of the old rule stands unless it needed a p the larger family no longer allows.
    const verdict = (r.verdict === 'regressed' || r.verdict === 'improved') && !(r.p < level) ? 'too noisy to say' : r.verdict;
    return { ...r, verdict: verdict === 'regressed' && worse < d.minEffect ? 'too noisy to say' : verdict };
  });
  for (const metric of metrics) {
    const inputs = rows.filter((r) => metricOf(r.row) === metric).map((r) => inputOf(r, oldFamily, d)).filter((x): x is PoolInput => x !== null);
    if (inputs.length < 2) continue;
    const x = poolRows(inputs, { direction: metric.direction, minEffect: d.minEffect, alpha: d.alpha, rows: family, power: d.power });
    out.push({ row: `${POOLED} ${metric.label}`, change: x.change, p: x.p, mde: x.mde, verdict: x.verdict, instancesDiffer: false });
  }
  return out;
}

/** The rows a rejudged run flags. */
export const flaggedNow = (rows: readonly SeenRow[]) => rejudge(rows).filter((r) => r.verdict === 'regressed').map((r) => r.row);
