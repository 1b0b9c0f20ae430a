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
  return latIn(latUnit(us))(us);
};

/** The unit a latency is printed in, chosen by its size. */
const latUnit = (us: number): 'µs' | 'ms' | 's' => (us >= 1e6 ? 's' : us >= 1000 ? 'ms' : 'µs');
/** A latency in a given unit, with the unit; `bare` leaves it off. */
const latIn =
  (unit: 'µs' | 'ms' | 's', bare = false) =>
  (us: number): string => {
    const v = unit === 's' ? sig(us / 1e6) : unit === 'ms' ? sig(us / 1000) : `${Math.round(us)}`;
    return bare ? v : `${v} ${unit}`;
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

/** A figure over rounds: the median, and the lowest and highest round (n: rounds that had it). */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/**
 * "41,882 (39,010–43,120)": the median, then the range over rounds. One round, or rounds whose
 * ends print the same, give the value alone: there is no range to show. `unit` is printed once,
 * after the median ("109 MiB (108–110)").
 */
export function ranged(s: Spread | null | undefined, fmt: (v: number) => string = (v) => num(v), unit = ''): string {
  if (!s) return '–';
  const u = unit ? ` ${unit}` : '';
  const lo = fmt(s.min);
  const hi = fmt(s.max);
  if (s.n < 2 || lo === hi) return `${fmt(s.median)}${u}`;
  return `${fmt(s.median)}${u} (${lo}–${hi})`;
}

/** A latency spread in the unit of its median: "1.23 ms (0.98–1.50)", "180 µs (170–195)". */
export function latRanged(s: Spread | null | undefined): string {
  if (!s || s.median === 0) return '–';
  const unit = latUnit(s.median);
  return ranged(s, latIn(unit, true), unit);
}

/** Bytes as MiB with a range: "109 MiB (108–110)". */
export const mibRanged = (s: Spread | null | undefined): string => ranged(s, (b) => sig(b / 1048576), 'MiB');
/** Bytes as KiB with a range. */
export const kibRanged = (s: Spread | null | undefined): string => ranged(s, (b) => sig(b / 1024), 'KiB');
