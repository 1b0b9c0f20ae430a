// bench/micro/handoff.ts runs for real (a worker thread, a pool thread on rings, a forked child, a piscina pool, TCP on
// 127.0.0.1) and leaves nothing behind: every row measured, no child process or thread left.
import { describe, expect, it } from 'vitest';
import { handoffBench } from '../../bench/micro/handoff.ts';
import { childrenOf, threadNames } from '../../harness/proc-tree.ts';

describe('hand-off micro-benchmarks', () => {
  it('measures every hand-off and cleans up its worker, child and pool', async () => {
    const threadsBefore = Object.values(threadNames(process.pid)).reduce((a, b) => a + b, 0);
    const rows = await handoffBench({ timeMs: 60 });
    expect(rows.map((r) => r.name.split(' ')[0])).toEqual(['TCP', 'socket', 'socket', '64', '64', '64', '64', '64']);
    for (const r of rows) {
      expect(r.samples, r.name).toBeGreaterThan(0);
      expect(r.p50, r.name).toBeGreaterThan(0);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(childrenOf(process.pid)).toEqual([]);
    expect(Object.values(threadNames(process.pid)).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(threadsBefore);
  });
});
