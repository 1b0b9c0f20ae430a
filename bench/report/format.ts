// Number and unit formatting for the report: one place decides how a figure is printed, and a
// missing or non-finite figure is always '–'. Pure, no I/O.
import type { CellResult } from '../results.ts';

type Maybe = number | null | undefined;
const missing = (v: Maybe): v is null | undefined => v === null || v === undefined || !Number.isFinite(v);

/** Fixed decimals with thousands separators: 12,345. */
export const num = (v: Maybe, digits = 0): string => (missing(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

/** Three significant figures or so: 143, 14.3, 1.43. */
export const sig = (v: Maybe): string => {
  if (missing(v)) return '–';
  if (v >= 100) return num(v, 0);
  if (v >= 10) return num(v, 1);
  return num(v, 2);
};

/** µs → a readable latency (0 means "not measured" here: no request completed). */
export const lat = (us: Maybe): string => {
  if (missing(us) || us === 0) return '–';
  return us >= 1000 ? `${sig(us / 1000)} ms` : `${Math.round(us)} µs`;
};

export const mib = (b: Maybe): string => (b ? `${sig(b / 1048576)} MiB` : '–');
export const kib = (b: Maybe): string => (b ? `${sig(b / 1024)} KiB` : '–');
export const pct = (r: number): string => `${Math.round(r * 100)}%`;

/** What a cell's throughput counts: connections for churn, requests otherwise. */
export const rateUnit = (c: CellResult): string => (c.mode === 'churn' ? 'conn/s' : 'req/s');

/** A cell's errors in a few words ('0' when there were none). */
export function errBrief(c: CellResult): string {
  if (!c.errors || c.errors.total === 0) return '0';
  const e = c.errors;
  const parts = [...Object.entries(e.errorFrames).map(([k, v]) => `${v} ${k}`)];
  if (e.mismatch) parts.push(`${e.mismatch} mismatch`);
  if (e.closed) parts.push(`${e.closed} closed`);
  if (e.unanswered) parts.push(`${e.unanswered} unanswered`);
  return parts.join(', ');
}
