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
