// The load generator's histogram merge: what each client thread records, encoded and merged in
// the parent, must equal one histogram that saw every value.
import { describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { mergeHistograms, summarize, split } from '../../bench/loadgen/load.ts';

const build = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

describe('histogram merging across client threads', () => {
  it('merged percentiles equal those of one histogram that recorded everything', () => {
    const all = build();
    const parts = [build(), build(), build()];
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 30_000; i++) {
      // thread 0 fast, thread 1 medium, thread 2 has the tail
      const t = i % 3;
      const v = Math.round(t === 0 ? 50 + rand() * 50 : t === 1 ? 200 + rand() * 800 : rand() < 0.01 ? 200_000 + rand() * 100_000 : 100 + rand() * 100);
      parts[t]!.recordValue(v);
      all.recordValue(v);
    }
    const merged = mergeHistograms(parts.map((p) => hdr.encodeIntoCompressedBase64(p)));
    expect(merged.totalCount).toBe(30_000);
    // Encoding keeps counts per bucket (3 significant digits): the max comes back as its bucket's
    // highest equivalent value, everything else exactly.
    const { max: mMax, ...m } = summarize(merged);
    const { max: aMax, ...a } = summarize(all);
    expect(m).toEqual(a);
    expect(Math.abs(mMax - aMax) / aMax).toBeLessThan(0.001);
    // The tail lives in one thread only, and survives the merge.
    expect(summarize(merged).p999).toBeGreaterThanOrEqual(200_000);
  });

  it('an empty thread adds nothing and an empty merge summarizes to zeros', () => {
    const a = build();
    a.recordValue(123);
    const merged = mergeHistograms([hdr.encodeIntoCompressedBase64(a), hdr.encodeIntoCompressedBase64(build())]);
    expect(merged.totalCount).toBe(1);
    expect(summarize(mergeHistograms([])).count).toBe(0);
  });

  it('splits connections across threads without losing any', () => {
    expect(split(10, 3)).toEqual([4, 3, 3]);
    expect(split(1, 2)).toEqual([1, 0]);
    expect(split(10_000, 2).reduce((a, b) => a + b)).toBe(10_000);
  });
});
