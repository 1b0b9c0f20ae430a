// Statistics for the CI regression report: pure functions over small samples (one value per
// interleaved round). Nothing here knows about servers or models.

export type Direction = 'higher-is-better' | 'lower-is-better';
export type Verdict = 'improved' | 'unchanged' | 'regressed' | 'too noisy to say';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * A distribution-free interval for the median: order statistics x(k) and x(n+1−k), with the largest
 * k whose coverage 1 − 2·P(Binomial(n, ½) < k) is still at least `level`. Needs no assumption on
 * the noise (this VM's is bimodal). Below 6 values no k reaches 95%: the interval is then the
 * range, and `coverage` says how much that is (5 values: 93.75%).
 */
export function medianInterval(xs: readonly number[], level = 0.95): { lo: number; hi: number; coverage: number } | null {
  const n = xs.length;
  if (n === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  // P(Binomial(n, ½) < k) for k = 1, 2, …: the chance that fewer than k values fall below the median.
  const below = (k: number) => {
    let p = 0;
    let c = 1; // C(n, 0)
    for (let i = 0; i < k; i++) {
      p += c;
      c = (c * (n - i)) / (i + 1);
    }
    return p / 2 ** n;
  };
  let k = 1;
  while (k + 1 <= (n + 1) / 2 && 1 - 2 * below(k + 1) >= level) k++;
  return { lo: s[k - 1]!, hi: s[n - k]!, coverage: 1 - 2 * below(k) };
}

/** Robust coefficient of variation: 1.4826 × MAD / median (≈ σ/μ for normal data, immune to one outlier). */
export function robustCv(xs: readonly number[]): number {
  const m = median(xs);
  if (!Number.isFinite(m) || m === 0) return Infinity;
  return (1.4826 * median(xs.map((x) => Math.abs(x - m)))) / Math.abs(m);
}

/** Standard deviation ÷ mean (sample SD): unlike robustCv, pulled up by a single outlier. */
export function plainCv(xs: readonly number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (!Number.isFinite(m) || m === 0 || xs.length < 2) return Infinity;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)) / Math.abs(m);
}

/** Ranks with ties given their average rank (1-based). */
function midranks(values: readonly number[]): { ranks: number[]; tieTerm: number } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  let tieTerm = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = rank;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  return { ranks, tieTerm };
}

// Exact null distribution of U for small samples without ties: counts[u] = number of
// arrangements giving U = u, by the recurrence f(m, n, u) = f(m−1, n, u−n) + f(m, n−1, u).
const exactCache = new Map<string, number[]>();
function exactCounts(m: number, n: number): number[] {
  const key = `${m},${n}`;
  const hit = exactCache.get(key);
  if (hit) return hit;
  let result: number[];
  if (m === 0 || n === 0) result = [1];
  else {
    const a = exactCounts(m - 1, n);
    const b = exactCounts(m, n - 1);
    result = new Array(m * n + 1).fill(0);
    a.forEach((c, u) => (result[u + n] += c));
    b.forEach((c, u) => (result[u] += c));
  }
  exactCache.set(key, result);
  return result;
}

function normalCdf(z: number): number {
  // Abramowitz–Stegun 7.1.26 via erf; |error| < 1.5e-7, plenty for a p-value.
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/**
 * Two-sided Mann–Whitney U test. Exact for small samples without ties (≤ 12 each), otherwise the
 * normal approximation with tie and continuity corrections.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): { u: number; p: number } {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) return { u: NaN, p: 1 };
  const { ranks, tieTerm } = midranks([...a, ...b]);
  const rankSumA = ranks.slice(0, m).reduce((s, r) => s + r, 0);
  const uA = rankSumA - (m * (m + 1)) / 2;
  const u = Math.min(uA, m * n - uA);
  if (tieTerm === 0 && m <= 12 && n <= 12) {
    const counts = exactCounts(m, n);
    const total = counts.reduce((s, c) => s + c, 0);
    let tail = 0;
    for (let k = 0; k <= Math.floor(u); k++) tail += counts[k]!;
    return { u, p: Math.min(1, (2 * tail) / total) };
  }
  const N = m + n;
  const mean = (m * n) / 2;
  const variance = ((m * n) / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  if (variance <= 0) return { u, p: 1 };
  const z = (Math.abs(uA - mean) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, 2 * (1 - normalCdf(Math.max(0, z)))) };
}

/** Small deterministic PRNG so the bootstrap (and the report) is reproducible. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bootstrap 95% interval of median(current)/median(baseline) − 1. */
export function changeInterval(baseline: readonly number[], current: readonly number[], resamples = 2000, seed = 1): [number, number] {
  const rand = mulberry32(seed);
  const pick = (xs: readonly number[]) => Array.from(xs, () => xs[Math.floor(rand() * xs.length)]!);
  const changes: number[] = [];
  for (let i = 0; i < resamples; i++) {
    const b = median(pick(baseline));
    if (b !== 0) changes.push(median(pick(current)) / b - 1);
  }
  changes.sort((x, y) => x - y);
  const at = (q: number) => changes[Math.min(changes.length - 1, Math.max(0, Math.round(q * (changes.length - 1))))]!;
  return [at(0.025), at(0.975)];
}

export interface Comparison {
  baselineMedian: number;
  currentMedian: number;
  /** median(current)/median(baseline) − 1 */
  change: number;
  interval: [number, number];
  p: number;
  /** The larger robust CV of the two samples. */
  noise: number;
  verdict: Verdict;
}

export interface CompareOptions {
  direction: Direction;
  /** Smallest relative change worth a verdict other than "unchanged" (default 0.10). */
  minEffect?: number;
  /** Significance level for the Mann–Whitney test (default 0.05). */
  alpha?: number;
}

/**
 * A verdict for one metric. "regressed"/"improved" need a significant rank test, a median
 * change of at least minEffect in that direction, and a bootstrap interval whose charitable end
 * is still at least minEffect/2 that way; and neither sample may be noisier (robust CV) than
 * minEffect — unless the change is at least 4× their spread. "unchanged" needs the change's
 * bootstrap interval to sit inside ±minEffect (or a significant but small change); anything else
 * is "too noisy to say" — which never fails CI.
 */
export function compare(baseline: readonly number[], current: readonly number[], options: CompareOptions): Comparison {
  const minEffect = options.minEffect ?? 0.1;
  const alpha = options.alpha ?? 0.05;
  const baselineMedian = median(baseline);
  const currentMedian = median(current);
  const change = baselineMedian === 0 ? 0 : currentMedian / baselineMedian - 1;
  const interval = changeInterval(baseline, current);
  const { p } = mannWhitneyU(baseline, current);
  const higher = options.direction === 'higher-is-better';
  const worse = higher ? -change : change;
  // The interval's ends, expressed as "how much worse": leastWorse is the most charitable reading.
  const leastWorse = higher ? -interval[1] : interval[0];
  const mostWorse = higher ? -interval[0] : interval[1];
  // With five rounds a median can wander by the minimum effect on its own; asking the
  // charitable end of the interval to clear half of it as well keeps same-commit runs quiet.
  // Samples noisier than the effect we judge cannot support a verdict at that effect size; a
  // change four times their spread can (the slowed build's 4–10× CPU per request is plain even in
  // samples that wander by 20 %). The spread for that takes the plain CV too, which one outlier
  // pulls up: five samples can look tight to the MAD by chance. On synthetic 5-vs-5 normal samples
  // with no real change this gives a wrong regressed/improved verdict in 0.05–0.5 % of comparisons
  // for noise of 5–40 % (0.03–0.25 % with the minEffect gate alone, ±0.1 % sampling error), and
  // finds a 4× drop at 20 % noise in 50 % of draws instead of 28 % (simulated 2026-11-30, 4,000
  // draws per noise level).
  const noise = Math.max(robustCv(baseline), robustCv(current));
  const spread = Math.max(noise, plainCv(baseline), plainCv(current));
  let verdict: Verdict;
  if (noise > minEffect && Math.abs(change) < 4 * spread) verdict = 'too noisy to say';
  else if (p < alpha && worse >= minEffect && leastWorse >= minEffect / 2) verdict = 'regressed';
  else if (p < alpha && -worse >= minEffect && -mostWorse >= minEffect / 2) verdict = 'improved';
  else if ((interval[0] > -minEffect && interval[1] < minEffect) || (p < alpha && Math.abs(change) < minEffect)) verdict = 'unchanged';
  else verdict = 'too noisy to say';
  return { baselineMedian, currentMedian, change, interval, p, noise, verdict };
}
