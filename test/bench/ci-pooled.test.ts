// The pooled rows (one metric over every model) on seeded synthetic rounds, and the sensitivity
// proof's re-judging of runs kept from before them.
import { describe, expect, it } from 'vitest';
import { comparePaired } from '../../bench/ci/paired.ts';
import { poolRows, type PoolInput } from '../../bench/ci/pooled.ts';
import { rejudge } from '../../bench/ci/rejudge.ts';
import { HELD_METRICS, judge, POOLED, report, type CiRun } from '../../bench/ci/run.ts';
import { parseRows, type SeenRow } from '../../bench/ci/sensitivity.ts';
import { mulberry32 } from '../../bench/ci/stats.ts';

/**
 * One model's row as the held design measures it: 3 instance pairs of 4 slice pairs, the machine
 * drifting ±30% (shared by both sides of a pair), each slice its own noise, each process its own speed.
 */
function row(effect: number, sliceNoise: number, instanceSd: number, seed: number) {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const pairs: [number, number][] = [];
  const blocks: number[] = [];
  for (let b = 0; b < 3; b++) {
    const baseSpeed = 1 + instanceSd * gauss();
    const headSpeed = 1 + instanceSd * gauss();
    for (let i = 0; i < 4; i++) {
      const machine = 1 + 0.3 * (rand() * 2 - 1);
      pairs.push([100 * machine * baseSpeed * (1 + sliceNoise * gauss()), 100 * machine * headSpeed * (1 + effect) * (1 + sliceNoise * gauss())]);
      blocks.push(b);
    }
  }
  return comparePaired(pairs, { direction: 'lower-is-better', rows: 28, blocks });
}

const input = (x: ReturnType<typeof row>): PoolInput => ({ m: Math.log1p(x.change), se: x.se, dof: x.dof });
const opts = { direction: 'lower-is-better' as const, rows: 28 };

describe('pooled rows', () => {
  // What the slowed handler did to the six echo CPU rows here at +10% (results/ci-sensitivity.md, "What the gate saw").
  const seen = [0.08, 0.0, 0.095, 0.045, 0.095, 0.09];

  it("a change every model shares, which the models' own rows see in about half the runs, is flagged by the pooled row in nearly all", () => {
    let single = 0;
    let pooled = 0;
    for (let run = 0; run < 100; run++) {
      const xs = seen.map((e, i) => row(e, 0.08, 0, run * 10 + i + 1));
      if (xs.some((x) => x.verdict === 'regressed')) single++;
      const p = poolRows(xs.map(input), opts);
      expect(p.k).toBe(6);
      if (p.verdict === 'regressed') pooled++;
    }
    expect(single).toBeLessThan(60); // 46 of 100 with this seed set
    expect(pooled).toBeGreaterThanOrEqual(90); // 94
    expect(pooled).toBeGreaterThan(single + 30);
  });

  it('no change: the pooled row is almost never flagged, even where processes differ a little, and usually says unchanged', () => {
    let flagged = 0;
    let unchanged = 0;
    for (let run = 0; run < 300; run++) {
      const p = poolRows(seen.map((_, i) => input(row(0, 0.05, i < 2 ? 0.02 : 0, run * 10 + i + 1))), opts);
      if (p.verdict === 'regressed') flagged++;
      if (p.verdict === 'unchanged') unchanged++;
    }
    expect(flagged).toBeLessThanOrEqual(3);
    expect(unchanged).toBeGreaterThan(200);
  });

  it('its change, interval and MDE are those of the common shift, and more rows see less', () => {
    const xs = seen.map((_, i) => row(0.1, 0.05, 0, 500 + i));
    const p = poolRows(xs.map(input), opts);
    expect(p.change).toBeGreaterThan(0.07);
    expect(p.change).toBeLessThan(0.13);
    expect(p.interval[0]).toBeLessThan(p.change);
    expect(p.interval[1]).toBeGreaterThan(p.change);
    const two = poolRows(xs.slice(0, 2).map(input), { ...opts, minEffect: 0.001 });
    const six = poolRows(xs.map(input), { ...opts, minEffect: 0.001 });
    expect(six.mde).toBeLessThan(two.mde);
    expect(Math.max(...xs.map((x) => x.mde))).toBeGreaterThan(six.mde);
    expect(poolRows([], opts)).toMatchObject({ k: 0, mde: Infinity, verdict: 'too noisy to say' });
  });

  it("one model's change alone is diluted: its own row is the one to see it", () => {
    const xs = [row(0.3, 0.02, 0, 900), ...[1, 2, 3, 4, 5].map((i) => row(0, 0.02, 0, 900 + i))];
    expect(xs[0]!.verdict).toBe('regressed');
    const p = poolRows(xs.map(input), opts);
    expect(p.change).toBeLessThan(0.15);
  });

  it('throughput: a drop is the bad direction', () => {
    const xs = seen.map((e, i) => row(-0.1, 0.03, 0, 300 + i));
    expect(poolRows(xs.map(input), { ...opts, direction: 'higher-is-better' }).verdict).toBe('regressed');
    expect(poolRows(xs.map(input), opts).verdict).toBe('improved');
  });
});

describe('re-judging a kept run', () => {
  const cpu = HELD_METRICS.find((m) => m.key === 'echo.cpu')!.label;
  const tput = HELD_METRICS.find((m) => m.key === 'echo.tput')!.label;
  // A +10% run that bench-ci missed (2026-12-04 04:03, kept rows): every echo row moved the slowed way, none past α/24.
  const missed: SeenRow[] = [
    ['event-loop', 0.079, 0.02, 0.147], ['process', 0.044, 0.393, 0.269], ['process-pool', 0.088, 0.175, 1.565, true], ['thread', 0.092, 0.036, 0.197], ['thread-pool', 0.112, 0.003, 0.147], ['offload', 0.063, 0.01, 0.101],
  ].map(([model, change, p, mde, differ]) => ({ row: `${model} ${cpu}`, change: change as number, p: p as number, mde: mde as number, verdict: 'too noisy to say', instancesDiffer: !!differ }));

  it('rebuilds the pooled row from the printed change and p of each model, and flags what the pooled row sees', () => {
    const now = rejudge(missed);
    expect(now).toHaveLength(7);
    const pooled = now.at(-1)!;
    expect(pooled.row).toBe(`all models ${cpu}`);
    expect(pooled.verdict).toBe('regressed');
    expect(pooled.p).toBeLessThan(1e-5);
    expect(pooled.change).toBeGreaterThan(0.06);
    expect(pooled.mde).toBeLessThan(0.1);
  });

  it('takes every verdict again at the larger family: a row flagged at α/24 but not α/28 is no longer flagged', () => {
    // Six models' four rows: 24 judged then (α/24), 28 now (α/28).
    const quiet = ['event-loop', 'process', 'process-pool', 'thread', 'thread-pool', 'offload'].flatMap((m) => HELD_METRICS.map((x): SeenRow => ({ row: `${m} ${x.label}`, change: 0.01, p: 0.5, mde: 0.1, verdict: 'too noisy to say', instancesDiffer: false })));
    const edge: SeenRow = { row: `thread ${tput}`, change: -0.12, p: 0.002, mde: 0.11, verdict: 'regressed', instancesDiffer: false }; // 0.05/28 < 0.002 < 0.05/24
    const strong: SeenRow = { ...edge, row: `event-loop ${tput}`, p: 1e-4 };
    const now = rejudge([...quiet.filter((r) => r.row !== edge.row && r.row !== strong.row), edge, strong]);
    expect(now).toHaveLength(24 + 4);
    expect(now.find((r) => r.row === edge.row)!.verdict).toBe('too noisy to say');
    expect(now.find((r) => r.row === strong.row)!.verdict).toBe('regressed');
  });

  it('returns a run that already has pooled rows as it is, and parseRows reads those rows from a report', () => {
    const report = [
      '| model | metric | base | this | change | 95% interval | p | noise | MDE | verdict |',
      `| event-loop | ${cpu} | 10.50 | 11.60 | +7.9% | +1.0% … +14.1% | 0.020 | 5.0% | 14.7% | too noisy to say (cannot see 10%) |`,
      `| all models | ${cpu} | — | — | +8.0% | +5.1% … +10.9% | 6.6e-7 | — | 5.9% | **regressed** (pooled: 6 models) |`,
    ].join('\n');
    const rows = parseRows(report);
    expect(rows[1]).toMatchObject({ row: `all models ${cpu}`, change: 0.08, p: 6.6e-7, verdict: 'regressed', instancesDiffer: false });
    expect(rows[1]!.mde).toBeCloseTo(0.059, 6);
    expect(rejudge(rows)).toEqual(rows);
  });
});

describe("bench-ci's report", () => {
  /** A held paired run of `models`: 12 pairs in 3 instance pairs per series, echo CPU up by `effect`, the rest unchanged. */
  function heldRun(models: string[], effect: number, seed: number): CiRun {
    const rand = mulberry32(seed);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const pairs: Record<string, [number, number][]> = {};
    const blocks: Record<string, number[]> = {};
    const samples: Record<string, number[]> = {};
    for (const m of models) {
      for (const metric of HELD_METRICS) {
        const series = `${m} ${metric.key}`;
        const e = metric.key === 'echo.cpu' ? effect : 0;
        pairs[series] = Array.from({ length: 12 }, () => [100 * (1 + 0.08 * gauss()), 100 * (1 + e) * (1 + 0.08 * gauss())] as [number, number]);
        blocks[series] = pairs[series].map((_, i) => i % 3);
        samples[series] = pairs[series].map(([, h]) => h);
      }
    }
    return {
      schema: 2, createdAt: '2026-12-04T05:00:00.000Z', commit: { sha: 'a'.repeat(40), short: 'aaaaaaa', dirty: false }, machine: { cpuModel: 'test', cores: 2, kernel: 'k' }, node: 'v26',
      settings: { design: 'held', pinned: true, blocks: 3, rotated: true, rounds: 12, warmupMs: 500, durationMs: 1000, workN: 1, models, slowdownUs: 0 },
      samples, failures: [], base: { sha: 'b'.repeat(40), short: 'bbbbbbb', samples: {}, pairs, blocks },
    };
  }
  const models = ['event-loop', 'process', 'process-pool', 'thread', 'thread-pool', 'offload'];

  it('holds one pooled row per metric, counted in the Bonferroni family, that sensitivity reads back', () => {
    const current = heldRun(models, 0.08, 7);
    const rows = judge(null, current, 0.05, {});
    expect(rows).toHaveLength(6 * 4 + 4);
    const pooled = rows.filter((r) => r.model === POOLED);
    expect(pooled.map((r) => r.metric.key)).toEqual(HELD_METRICS.map((m) => m.key));
    expect(pooled.every((r) => r.result?.pooled === 6)).toBe(true);
    const md = report({ kind: 'paired', base: { sha: 'b'.repeat(40), short: 'bbbbbbb' } }, null, current, rows, 0.05, {});
    expect(md).toContain('p < 0.05 ÷ 28 rows');
    expect(md).toContain('Rows of model "all models" pool one metric over every model');
    const seen = parseRows(md);
    expect(seen).toHaveLength(28);
    const cpuRow = seen.find((r) => r.row === `${POOLED} ${HELD_METRICS[0]!.label}`)!;
    expect(cpuRow.verdict).toBe('regressed');
    expect(cpuRow.change).toBeGreaterThan(0.04);
    expect(md).toMatch(/\| all models \| echo-64B c=32 server CPU per request \(held connections\) \| — \| — \| \+[\d.]+% \| .* \| — \| [\d.]+% \| \*\*regressed\*\* \(pooled: 6 models\) \|/);
  });

  it('one model: no pooled row', () => {
    const rows = judge(null, heldRun(['event-loop'], 0, 3), 0.05, {});
    expect(rows).toHaveLength(4);
    expect(rows.some((r) => r.model === POOLED)).toBe(false);
  });
});
