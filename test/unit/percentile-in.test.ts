// harness/sessions.ts percentileIn: a percentile of the latencies inside a time window.
import { describe, expect, it } from 'vitest';
import { percentileIn } from '../../harness/sessions.ts';

describe('percentileIn', () => {
  // Sampled at t = 0..999 ms: latency (i + 1) × 10 µs, so the window picks which latencies count.
  const samples: [number, number][] = Array.from({ length: 1000 }, (_, i) => [i, (i + 1) * 10]);

  const near = (v: number | null, want: number) => expect(Math.abs(v! - want) / want, `${v} vs ${want}`).toBeLessThanOrEqual(0.001);

  it('the percentile of the window only, within the histogram precision (0.1%)', () => {
    near(percentileIn(samples, 50), 5000);
    near(percentileIn(samples, 99), 9900);
    near(percentileIn(samples, 100), 10_000);
    // 500 ≤ t < 600: latencies 5010..6000 µs
    near(percentileIn(samples, 50, 500, 600), 5500);
    near(percentileIn(samples, 0, 500, 600), 5010);
  });
  it('null when no sample falls inside the window', () => {
    expect(percentileIn(samples, 99, 2000, 3000)).toBeNull();
    expect(percentileIn([], 50)).toBeNull();
  });
});
