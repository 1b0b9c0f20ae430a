// bench-ci's held design (bench/ci/held.ts) against a real server: the held connections carry
// load only inside a slice, the CPU figure comes from the server's own tree, churn opens and
// closes a connection per request, and the sensitivity report counts flagged runs per level.
import { describe, expect, it } from 'vitest';
import { HeldSide, treeCpuNs } from '../../bench/ci/held.ts';
import { parseRows, renderReport, type SensitivityRun } from '../../bench/ci/sensitivity.ts';
import { procStats } from '../../harness/proc-tree.ts';

describe('held slices', () => {
  it('echo: answers only inside the slice, server CPU per request from the tree, nothing failed; churn: connections per second', { timeout: 30_000 }, async () => {
    const side = await HeldSide.start({ name: 'event-loop', kind: 'model' }, []);
    try {
      await side.prepare('echo', 8, 1, 200);
      const pid = side.server.pid!;
      const idle0 = treeCpuNs(pid);
      await new Promise((r) => setTimeout(r, 300));
      // Between slices nothing is sent: the server is (nearly) idle, far below a slice's CPU.
      const idleNs = treeCpuNs(pid) - idle0;
      const echo = await side.slice('echo', 300);
      expect(echo.failed).toBe(0);
      expect(echo.perSec).toBeGreaterThan(100);
      expect(echo.cpuUsPerOp).toBeGreaterThan(0);
      const sliceNs = echo.cpuUsPerOp! * 1000 * echo.perSec * 0.3; // the slice's whole CPU, ns
      expect(idleNs, 'CPU while no slice runs (300 ms) against a 300 ms slice').toBeLessThan(sliceNs / 2);
      await side.prepare('churn', 4, 1, 100);
      const before = procStats(pid).fds;
      const churn = await side.slice('churn', 300);
      expect(churn.failed).toBe(0);
      expect(churn.perSec).toBeGreaterThan(10);
      expect(churn.cpuUsPerOp, 'no CPU figure for churn (exited threads would take theirs along)').toBeNull();
      side.release('churn');
      // Churn's connections are closed by the end of the slice: no fd builds up in the server.
      await new Promise((r) => setTimeout(r, 200));
      expect(procStats(pid).fds).toBeLessThanOrEqual(before + 1);
    } finally {
      await side.stop();
    }
  });
});

describe('sensitivity report', () => {
  const run = (level: number, exitCode: number, flagged: string[] = [], pinned = true, blocks = 6): SensitivityRun => ({
    at: '2026-12-02T03:00:00.000Z', commit: 'abcdef0123', level, echoCpuUs: 14, slowdownUs: (14 * level) / 100, exitCode, flagged, seeing10: 20, judged: 24, medianMde: 0.07, wallS: 540, pinned, blocks,
  });
  const design = { pinned: true, blocks: 6, rotated: false };
  it('counts flagged runs per level, names false alarms and misses, leaves harness failures out of the flagged count', () => {
    const md = renderReport([run(0, 0), run(0, 1, ['event-loop echo.cpu']), run(10, 1), run(10, 0), run(10, 3), run(25, 1)], [0, 10, 25, 50], design);
    expect(md).toContain('| 0 (same commit) | 2 | **1 of 2** |');
    expect(md).toContain('| +10% | 3 | **1 of 3** |');
    expect(md).toContain('| +25% | 1 | **1 of 1** |');
    expect(md).toContain('| +50% | 0 | — |');
    expect(md).toMatch(/False alarms.*event-loop echo\.cpu/);
    expect(md).toMatch(/Missed.*\+10%/);
    expect(md).not.toContain('cannot explain');
    const stray = renderReport([run(10, 1, ['thread work-1ms c=16 requests/s', 'event-loop echo-64B c=32 requests/s']), run(0, 0)], [0, 10], design);
    expect(stray).toMatch(/cannot explain.*: \+10% at 2026-12-02T03:00: thread work-1ms c=16 requests\/s$/m);
    expect(stray).not.toMatch(/cannot explain.*event-loop echo/);
    // A thread or process start per churn connection: no level moves it; a pool's churn it can.
    const churn = renderReport([run(10, 1, ['process churn c=8 connections/s (connect, 1 ECHO, close)', 'process-pool churn c=8 connections/s (connect, 1 ECHO, close)'])], [10], design);
    expect(churn).toMatch(/cannot explain.*: \+10% at 2026-12-02T03:00: process churn c=8 connections\/s \(connect, 1 ECHO, close\)$/m);
    expect(churn).not.toMatch(/cannot explain.*process-pool churn/);
    expect(md).toContain('harness failed');
  });
  it('keeps the rows of levels run before when a run asks for fewer, in level order', () => {
    const md = renderReport([run(50, 1), run(0, 0), run(5, 0)], [0], design);
    const rows = md.split('\n').filter((l) => /^\| (0 \(same|\+)/.test(l)).map((l) => l.split('|')[1]!.trim());
    expect(rows).toEqual(['0 (same commit)', '+5%', '+50%']);
  });
  it('shows the target and the measured slowdown, and says how many runs measured it', () => {
    const aimed = (us: number): SensitivityRun => ({ ...run(10, 1), slowdownUs: 1.3, targetUs: 1.4, measuredUs: us });
    const md = renderReport([aimed(1.4), aimed(1.42), run(10, 1)], [10], design);
    // targets 1.4, 1.4 and (an older run: target = what it asked) 1.4; measured in two runs, median 1.41
    expect(md).toContain('| +10% | 3 | **3 of 3** | 14.0 | 1.40 | 1.41 (2 of 3 runs) | 10.1% (2 of 3 runs) |');
    expect(renderReport([run(25, 1)], [25], design)).toContain('| 3.50 | not measured | — |');
    expect(renderReport([aimed(1.4)], [10], design)).toContain('| 1.40 | 1.40 | 10.0% |');
  });
  it("keeps every judged row of a run's report, and shows per level the change each model's echo CPU row saw", () => {
    const cpu = 'echo-64B c=32 server CPU per request (held connections)';
    const report = [
      '| model | metric | base | this | change | 95% interval | p | noise | MDE | verdict |',
      '|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
      `| event-loop | ${cpu} | 10.50 | 11.60 | +10.5% | +8.0% … +12.1% | 2.0e-4 | 2.0% | 3.1% | **regressed** (instances differ, ANOVA p=1.0e-3: judged on 3 instance pairs) |`,
      '| event-loop | echo-64B c=32 requests/s | 50,000 | 47,000 | -6.0% | -9.0% … -3.0% | 0.020 | 4.0% | 12.0% | too noisy to say (cannot see 10%) |',
      `| thread | ${cpu} | | | | | | | | failed in every round |`,
    ].join('\n');
    const rows = parseRows(report);
    expect(rows).toEqual([
      { row: `event-loop ${cpu}`, change: 0.105, p: 2e-4, mde: 0.031, verdict: 'regressed', instancesDiffer: true },
      { row: 'event-loop echo-64B c=32 requests/s', change: -0.06, p: 0.02, mde: 0.12, verdict: 'too noisy to say', instancesDiffer: false },
    ]);
    const seen = (change: number): SensitivityRun => ({ ...run(10, 1), rows: [{ ...rows[0]!, change }] });
    const md = renderReport([seen(0.1), seen(0.12), seen(0.08), run(10, 0), { ...run(0, 0), rows: [{ ...rows[0]!, change: -0.01 }] }], [0, 10], design);
    expect(md).toContain('| level | runs | event-loop |');
    expect(md).toContain('| 0 (same commit) | 1 | -1.0% |');
    expect(md).toContain('| +10% | 3 | +10.0% |'); // the run without rows is not among them
  });
  it('counts only the runs of the design measured now (placement and instance pairs), and says which others it left out', () => {
    const unpinned = { ...run(0, 1, ['thread work.tput'], false), pinned: undefined, blocks: undefined }; // the first runs had neither field
    const oneInstance = { ...run(0, 1, ['event-loop work.tput']), blocks: undefined }; // pinned, before --blocks
    const md = renderReport([unpinned, oneInstance, run(0, 0), run(25, 1)], [0, 25], design);
    expect(md).toContain('| 0 (same commit) | 1 | **0 of 1** |');
    expect(md).not.toContain('False alarms');
    expect(md).toContain('2 earlier run(s) of other designs are kept in the json and not counted here: 1 of unpinned, 1 instance pair per model; 1 of pinned, 1 instance pair per model.');
    expect(renderReport([unpinned, oneInstance, run(0, 0)], [0], { pinned: true, blocks: 1, rotated: false })).toContain('| 0 (same commit) | 1 | **1 of 1** |');
  });
  it('keeps rotated instance pairs apart from sequential ones', () => {
    const rotated = { ...run(0, 1, ['offload echo.cpu']), rotated: true };
    const md = renderReport([rotated, run(0, 0)], [0], design);
    expect(md).toContain('| 0 (same commit) | 1 | **0 of 1** |');
    expect(md).toContain('1 of pinned, 6 instance pairs per model in rotation');
    expect(renderReport([rotated, run(0, 0)], [0], { ...design, rotated: true })).toContain('| 0 (same commit) | 1 | **1 of 1** |');
  });
});
