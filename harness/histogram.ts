// Latency histograms: HDR histograms (hdr-histogram-js) in microseconds, one configuration for
// the load generator, `make reliability` and the tests, so a p99 means the same everywhere.
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs to 120 s at 3 significant digits (0.1% value precision). */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/** µs, like the histogram. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  count: number;
}

export function summarize(h: Histogram): Percentiles {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 };
  return {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: Math.round(h.mean * 10) / 10,
    count: h.totalCount,
  };
}

/** Records a duration given in milliseconds (clamped into the histogram's range). */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.min(120_000_000, Math.max(1, Math.round(ms * 1000))));
}

export const encodeHistogram = (h: Histogram): string => hdr.encodeIntoCompressedBase64(h);

/** Decodes each encoded histogram and adds it into one (the merge across client threads). */
export function mergeHistograms(encoded: string[]): Histogram {
  const merged = newHistogram();
  for (const e of encoded) {
    const h = hdr.decodeFromCompressedBase64(e);
    merged.add(h);
    h.destroy();
  }
  return merged;
}

/**
 * Closed-loop coordinated-omission correction (HdrHistogram's copyCorrectedForCoordinatedOmission):
 * a closed-loop connection sends nothing while it waits, so one answer that took v µs stands for
 * the v / interval requests it would have sent meanwhile; each is added as a sample of the wait
 * it would have seen (v − interval, v − 2·interval, … down to the interval). The expected interval
 * is the median latency of the raw samples: the pace a connection keeps when nothing stalls.
 * A starved connection's one aged request then weighs as much as the requests it never got to
 * send, so starving shows in p50/p99, not only in max. Returns a new histogram.
 */
export function correctClosedLoop(raw: Histogram): { corrected: Histogram; intervalUs: number } {
  const intervalUs = Math.max(1, raw.totalCount ? raw.getValueAtPercentile(50) : 1);
  return { corrected: raw.copyCorrectedForCoordinatedOmission(intervalUs), intervalUs };
}
