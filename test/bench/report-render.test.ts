// The rendered report and its charts over rounds: the Markdown's served / fairness columns and
// marks, the one-round note, an old schema-1 run still rendering, and charts that show the
// range and cannot rank a starving model first.
//
// fixtures/bench-results-starved.json is a real run, `bench/run.ts --models event-loop,thread-pool
// --workloads echo-64B --connections 8 --rounds 2 --duration 1 --warmup 0.3 --no-micro
// --no-external --server-flags="--threads 1 --connections-per-thread 1"` (paths made relative):
// thread-pool with one thread serving one connection starves the other 7 in both rounds.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResults } from '../../bench/results.ts';
import { chartSpecs, latencyChart, perConnectionChart, perConnectionGroup, throughputChart, writeCharts } from '../../bench/report/charts.ts';
import { renderMarkdown } from '../../bench/report/markdown.ts';
import { summaryText } from '../../bench/report/summary.ts';
import { winners } from '../../bench/report/verdicts.ts';
import { cell, rounds, syntheticRun } from './fixtures/synthetic-run.ts';

const load = (name: string): RunResults => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const SCHEMA1 = load('bench-results.json');
const STARVED = load('bench-results-starved.json');
const ONE_ROUND_NOTE = '> **One round**: every cell ran once, so no figure has a range and no winner or claim below was tested against noise';
const tableRow = (md: string, server: string) => md.split('\n').find((l) => l.startsWith(`| ${server} `))!;

describe('a recorded run with a starving model (schema 2, two rounds)', () => {
  const md = renderMarkdown(STARVED, [], '');

  it('the table has the median and range, served / offered and fairness, and flags the starved cell loudly', () => {
    expect(md).toContain('| server | req/s | vs ref | p50 | p99 | p99.9 | max | CPU µs/req | server cores | client cores | peak RSS | served / offered | fairness | errors |');
    expect(tableRow(md, 'event-loop')).toMatch(/^\| event-loop \| 20,335 \(17,362–23,308\) ‡ \| 88% \| .* \| 8 \/ 8 \| 1\.00 \| 0 \|$/);
    expect(tableRow(md, 'thread-pool ⚠')).toContain('| **1 / 8 ⚠ 7 of 8 connections starved in every round** | 0.13 |');
    // Corrected for coordinated omission: the starved connections' wait is the latency.
    expect(tableRow(md, 'thread-pool ⚠')).toContain('| 578 ms (572–584) | 1.27 s (1.26–1.29) ‡ |');
  });

  it('client-bound cells are marked, with each round\'s reason under the table', () => {
    expect(md).toContain('<sub>‡ event-loop: round 1: client short of CPU: a load thread waited for a CPU 48% of the window; round 2: client short of CPU: a load thread waited for a CPU 43% of the window.</sub><br>');
    expect(md).toContain('‡ client-bound in some round: the load generator, not the server, may have set the figure');
  });

  it('the starving model never wins, however it compares, and is called out', () => {
    const [w] = winners(STARVED);
    expect(w?.kind === 'throughput' && [w.winner.server, w.standing.starved.map((c) => c.server)]).toEqual(['event-loop', ['thread-pool']]);
    expect(md).toContain('**event-loop** 20,335 (17,362–23,308) req/s ‡ (the only model that served every connection)');
    expect(md).toContain('**never the winner — starved connections**: thread-pool: 7 of 8 connections starved in every round');
  });

  it('two rounds: no one-round note, one line per cell id in the summary', () => {
    expect(md).not.toContain(ONE_ROUND_NOTE);
    expect(md).not.toContain('one round: not tested');
    expect(md).toContain('3 cells × 2 rounds, interleaved (0 cell-rounds failed)');
    const summary = summaryText(STARVED, '/x', '/x/latest.md');
    expect(summary).toContain('echo-64B c=8                  23,169        20,335       14,956!');
    expect(summary.match(/event-loop \/ bare Node/g)).toHaveLength(1);
  });
});

describe('one round', () => {
  it('the report says so at the top and marks every winner', () => {
    const r = syntheticRun([cell({ server: 'event-loop', throughput: 10 }), cell({ server: 'thread', throughput: 9 }), cell({ server: 'event-loop', workload: 'work-1ms', connections: 16, throughput: 5 }), cell({ server: 'thread', workload: 'work-1ms', connections: 16, throughput: 7 })]);
    const md = renderMarkdown(r, [], '');
    const lines = md.split('\n');
    expect(lines[2]).toContain(ONE_ROUND_NOTE);
    const winnerLines = lines.filter((l) => l.startsWith('- **'));
    expect(winnerLines).toHaveLength(2);
    for (const l of winnerLines) expect(l).toContain('_(one round: not tested against noise)_');
  });
});

describe('an old schema-1 run still renders', () => {
  const md = renderMarkdown(SCHEMA1, [], '');

  it('as one round, with the new columns unknown and the schema named', () => {
    expect(md.split('\n')[2]).toContain(ONE_ROUND_NOTE);
    expect(md).toContain('> Recorded with results schema 1: one round, no connection accounting');
    expect(tableRow(md, 'event-loop')).toMatch(/\| 107 MiB \| – \| – \| 0 \|$/);
    expect(md.split('\n').filter((l) => l.startsWith('| ') && /[⚠‡]/.test(l))).toEqual([]);
    expect(md).not.toContain('‡');
    expect(md).toContain('- **churn**: **event-loop** 10,376 conn/s (1.71× offload, 6,081 conn/s) — ');
  });

  it('its charts render to SVG', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'report-render-'));
    try {
      const files = await writeCharts(SCHEMA1, dir);
      expect(files.map((f) => f.file)).toContain('throughput.svg');
      // Cut down without histograms: the latency curves come from latencyUs.
      expect(files.map((f) => f.file)).toContain('latency-echo-64B-c32.svg');
      for (const f of readdirSync(dir)) expect(readFileSync(path.join(dir, f), 'utf8')).toMatch(/^<svg/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('charts over rounds', () => {
  const values = (spec: unknown) => (spec as { data: { values: Record<string, unknown>[] } }).data.values;

  it('throughput: the median with an error bar from the lowest to the highest round', () => {
    const chart = throughputChart(syntheticRun(rounds({ server: 'event-loop', throughput: [10, 30, 20] })))!;
    expect(values(chart.spec)[0]).toMatchObject({ value: 20, min: 10, max: 30, label: '' });
    const layers = (chart.spec as unknown as { spec: { layer: { mark: unknown; encoding: Record<string, { field?: string }> }[] } }).spec.layer;
    expect(layers.some((l) => l.encoding.y?.field === 'min' && l.encoding.y2?.field === 'max')).toBe(true);
    const starved = throughputChart(STARVED)!;
    expect(values(starved.spec).find((v) => v.server === 'thread-pool')).toMatchObject({ label: 'starved 7/8', opacity: 0.3 });
  });

  it('latency: a starving model is last in the order and dashed, even with the lowest latency', () => {
    const r = syntheticRun([...rounds({ server: 'thread-pool', throughput: [5, 5], p99: [10, 10], starved: 7, flags: ['--connections-per-thread', '1'] }), ...rounds({ server: 'event-loop', throughput: [5, 5], p99: [500, 600] }), ...rounds({ server: 'process-pool', throughput: [5, 5], p99: [300, 400] })]);
    const chart = latencyChart(r, { workload: 'echo-64B', connections: 8 })!;
    const layer = (chart.spec as unknown as { layer: { encoding: { color: { scale: { domain: string[] } } } }[] }).layer[0]!;
    expect(layer.encoding.color.scale.domain).toEqual(['process-pool', 'event-loop', 'thread-pool ⚠ starved 7/8']);
    expect(values(chart.spec).filter((v) => v.status === 'starved').every((v) => v.server === 'thread-pool ⚠ starved 7/8')).toBe(true);
    const p99 = values(chart.spec).find((v) => v.server === 'event-loop' && v.percentile === 'p99')!;
    expect([p99.min, p99.max]).toEqual([0.5, 0.6]);
  });

  it('per connection: the connection-bound models only, by the options they ran with, at the highest level', () => {
    const k1 = ['--connections-per-thread', '1'];
    const r = syntheticRun([
      ...rounds({ server: 'thread-pool', throughput: [80, 80], starved: 6, flags: k1 }),
      ...rounds({ server: 'thread', throughput: [80, 80] }),
      ...rounds({ server: 'process-pool', throughput: [80, 80] }),
      ...rounds({ server: 'event-loop', throughput: [80, 80] }),
      ...rounds({ server: 'thread', connections: 2, throughput: [20, 20] }),
    ]);
    expect(perConnectionGroup(r)).toEqual({ workload: 'echo-64B', connections: 8 });
    const chart = perConnectionChart(r)!;
    const rows = values(chart.spec);
    expect([...new Set(rows.map((v) => v.server))]).toEqual(['thread-pool ⚠ starved 6/8', 'thread']);
    expect(rows).toHaveLength(2 * 2 * 8);
    expect(rows.filter((v) => v.server === 'thread-pool ⚠ starved 6/8' && v.answers === 0)).toHaveLength(2 * 6);
    // thread-pool with K > 1 multiplexes its K connections; offload is unbounded: neither is shown.
    const k4 = syntheticRun([...rounds({ server: 'thread-pool', throughput: [80, 80], flags: ['--threads', '1', '--connections-per-thread', '4'] }), ...rounds({ server: 'offload', throughput: [1, 1] })]);
    expect(perConnectionChart(k4)).toBeNull();
    k4.cells.push(...rounds({ server: 'process', throughput: [1, 1] }));
    k4.cells = [...k4.cells];
    expect([...new Set(values(perConnectionChart(k4)!.spec).map((v) => v.server))]).toEqual(['process']);
    expect(chartSpecs(STARVED).map((c) => c.file)).toEqual(['throughput.svg', 'latency-echo-64B-c8.svg', 'per-connection-echo-64B-c8.svg']);
  });
});
