// The report's charts: vega-lite specs built from the cells (pure), rendered to SVG headless
// (vega's 'none' renderer: no browser, no canvas). One throughput chart with a panel per
// workload group, one latency-percentile chart per group, and one per-connection chart for the
// connection-bound models. Every figure is the median over rounds with an error bar from the
// lowest to the highest round; a cell that starved a connection is drawn apart (faded, dashed,
// labelled) and never sorted ahead of a cell that served every connection.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { CellResult, RunResults } from '../results.ts';
import { isClientBound, isStarved, spread, type AggCell } from './aggregate.ts';
import { groupName, groups, inGroup, okCells, type Group } from './cells.ts';
import { rateUnit } from './format.ts';
import { CLIENT_MARK } from './marks.ts';
import { connectionBound } from './model-facts.ts';

export interface Chart {
  file: string;
  title: string;
  spec: vl.TopLevelSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

const PERCENTILES: [string, number][] = [
  ['p50', 50],
  ['p75', 75],
  ['p90', 90],
  ['p99', 99],
  ['p99.9', 99.9],
  ['p99.99', 99.99],
  ['max', 100],
];

/** A results file without histograms (cut down, or older) still has these from latencyUs. */
const SUMMARY_KEYS: [string, keyof NonNullable<CellResult['latencyUs']>][] = [
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p99.9', 'p999'],
  ['max', 'max'],
];

/** "thread-pool ⚠ starved 7/8", "event-loop ‡": the name a chart gives a cell it marks. */
export function seriesName(c: AggCell): string {
  const k = c.rounds.connections;
  const starved = isStarved(c) && k ? ` ⚠ starved ${k.starved}/${k.offered}` : '';
  return `${c.server}${starved}${isClientBound(c) ? ` ${CLIENT_MARK}` : ''}`;
}

/** Starved cells after every other, each part in its own order: no sort can rank one first. */
const starvedLast = (cells: AggCell[], by: (c: AggCell) => number): AggCell[] => [...cells].sort((a, b) => Number(isStarved(a)) - Number(isStarved(b)) || by(a) - by(b));

export function throughputChart(r: RunResults): Chart | null {
  const cells = okCells(r);
  if (!cells.length) return null;
  const rows = cells.map((c) => {
    const s = c.rounds.throughput;
    const k = c.rounds.connections;
    return {
      cell: groupName({ workload: c.workload, connections: c.params.connections }),
      server: c.server,
      value: s?.median ?? 0,
      min: s?.min ?? 0,
      max: s?.max ?? 0,
      unit: rateUnit(c),
      opacity: isStarved(c) ? 0.3 : 1,
      label: isStarved(c) && k ? `starved ${k.starved}/${k.offered}` : '',
    };
  });
  // Servers in the run's order (the reference first), the same in every panel.
  const x = { field: 'server', type: 'nominal', title: null, sort: r.servers.map((s) => s.name), axis: { labelAngle: -40 } } as const;
  return {
    file: 'throughput.svg',
    title: 'Throughput by model, per workload (median, bar from lowest to highest round)',
    spec: {
      $schema: SCHEMA,
      title: { text: 'Throughput by model (requests/s; churn: connections/s)', subtitle: 'median over rounds; error bar: lowest–highest round; faded + label: starved a connection (never a winner)' },
      data: { values: rows },
      facet: { field: 'cell', type: 'nominal', title: null, sort: [...new Set(rows.map((x) => x.cell))] },
      columns: 3,
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 220,
        height: 150,
        layer: [
          {
            mark: 'bar',
            encoding: {
              x,
              y: { field: 'value', type: 'quantitative', title: 'per second' },
              color: { field: 'server', type: 'nominal', legend: null },
              opacity: { field: 'opacity', type: 'quantitative', scale: null },
              tooltip: [{ field: 'server' }, { field: 'value', format: ',.0f', title: 'median' }, { field: 'min', format: ',.0f' }, { field: 'max', format: ',.0f' }, { field: 'label' }],
            },
          },
          { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
          { mark: { type: 'text', dy: -6, fontWeight: 'bold', color: '#c00' }, encoding: { x, y: { field: 'max', type: 'quantitative' }, text: { field: 'label' } } },
        ],
      },
    } as vl.TopLevelSpec,
  };
}

/** One cell-round's latency at the chart's percentiles, µs: from its histogram, else latencyUs. */
function roundPercentiles(c: CellResult): Map<string, number> {
  const out = new Map<string, number>();
  if (c.histogram) {
    const h = hdr.decodeFromCompressedBase64(c.histogram);
    for (const [name, p] of PERCENTILES) out.set(name, p === 100 ? h.maxValue : h.getValueAtPercentile(p));
    h.destroy();
  } else if (c.latencyUs) {
    for (const [name, key] of SUMMARY_KEYS) if (c.latencyUs[key]) out.set(name, c.latencyUs[key]);
  }
  return out;
}

export function latencyChart(r: RunResults, g: Group): Chart | null {
  const cells = okCells(r).filter((c) => inGroup(c, g));
  const rows: { server: string; status: string; percentile: string; ms: number; min: number; max: number }[] = [];
  for (const c of cells) {
    const perRound = c.rounds.ok.map(roundPercentiles);
    for (const [name] of PERCENTILES) {
      const s = spread(perRound.map((m) => m.get(name)));
      if (!s) continue;
      // A log scale has no zero: a sub-µs figure is drawn at 1 µs.
      const ms = (us: number) => Math.max(0.001, us / 1000);
      rows.push({ server: seriesName(c), status: isStarved(c) ? 'starved' : 'served', percentile: name, ms: ms(s.median), min: ms(s.min), max: ms(s.max) });
    }
  }
  if (!rows.length) return null;
  // The legend and colours follow the median p99, lowest first, with the starved cells last.
  const order = starvedLast(cells, (c) => c.rounds.p99?.median ?? Infinity).map(seriesName);
  const color = { field: 'server', type: 'nominal', sort: order, scale: { domain: order }, title: 'by p99, starved last', legend: { labelLimit: 320 } } as const;
  const x = { field: 'percentile', type: 'ordinal', sort: PERCENTILES.map(([n]) => n), title: 'percentile' } as const;
  return {
    file: `latency-${g.workload}-c${g.connections}.svg`,
    title: `Latency percentiles — ${groupName(g)}`,
    spec: {
      $schema: SCHEMA,
      title: { text: `Latency percentiles: ${g.workload}, c=${g.connections}`, subtitle: 'median over rounds, error bar lowest–highest round; closed loop corrected for coordinated omission; dashed: starved a connection' },
      width: 420,
      height: 260,
      data: { values: rows },
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            x,
            y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log)' },
            color,
            strokeDash: { field: 'status', type: 'nominal', scale: { domain: ['served', 'starved'], range: [[1, 0], [6, 3]] }, legend: null },
          },
        },
        { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' }, color } },
      ],
    } as vl.TopLevelSpec,
  };
}

/**
 * The group the per-connection view shows: echo-64B when the run has it (the workload every
 * model runs), else the first workload with a connection-bound cell, at its highest level, the
 * one where a bounded number of threads or children is most likely to leave connections waiting.
 */
export function perConnectionGroup(r: RunResults): Group | null {
  const bound = okCells(r).filter((c) => c.kind === 'model' && connectionBound(c) && c.rounds.ok.some((x) => x.perConnection?.length));
  if (!bound.length) return null;
  const workload = bound.some((c) => c.workload === 'echo-64B') ? 'echo-64B' : bound[0]!.workload;
  const connections = Math.max(...bound.filter((c) => c.workload === workload).map((c) => c.params.connections));
  return { workload, connections };
}

export function perConnectionChart(r: RunResults): Chart | null {
  const g = perConnectionGroup(r);
  if (!g) return null;
  const cells = okCells(r).filter((c) => c.kind === 'model' && inGroup(c, g) && connectionBound(c));
  const rows: { server: string; round: string; answers: number; jitter: number }[] = [];
  for (const c of cells)
    for (const x of c.rounds.ok)
      (x.perConnection ?? []).forEach((answers, i) => {
        // A fixed spread (golden-ratio steps), not random(): the same results draw the same SVG.
        rows.push({ server: seriesName(c), round: `round ${x.round ?? 1}`, answers, jitter: ((i * 0.618034) % 1) - 0.5 });
      });
  if (!rows.length) return null;
  const order = starvedLast(cells, (c) => -(c.throughput ?? 0)).map(seriesName);
  const x = { field: 'server', type: 'nominal', sort: order, title: null, axis: { labelAngle: 0, labelLimit: 220 } } as const;
  return {
    file: `per-connection-${g.workload}-c${g.connections}.svg`,
    title: `Answers per connection, connection-bound models — ${groupName(g)}`,
    spec: {
      $schema: SCHEMA,
      title: {
        text: `Answers per connection inside the window: ${g.workload}, c=${g.connections}`,
        subtitle: 'connection-bound models (a thread or child per connection, or K per pool thread); each dot one connection in one round; 0 = starved',
      },
      width: Math.max(240, 140 * cells.length),
      height: 260,
      data: { values: rows },
      layer: [
        {
          mark: { type: 'point', filled: true, opacity: 0.7, size: 40 },
          encoding: {
            x,
            xOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [-1, 1] } },
            y: { field: 'answers', type: 'quantitative', title: 'answers in the window' },
            color: { field: 'round', type: 'nominal', title: null },
            tooltip: [{ field: 'server' }, { field: 'round' }, { field: 'answers', format: ',.0f' }],
          },
        },
        { mark: { type: 'tick', color: '#333', thickness: 2, size: 60 }, encoding: { x, y: { field: 'answers', aggregate: 'median', type: 'quantitative' } } },
      ],
    } as vl.TopLevelSpec,
  };
}

export function chartSpecs(r: RunResults): Chart[] {
  return [throughputChart(r), ...groups(r).map((g) => latencyChart(r, g)), perConnectionChart(r)].filter((c): c is Chart => c !== null);
}

async function svg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out;
}

/** Renders every chart into outDir; returns what the report links to. */
export async function writeCharts(r: RunResults, outDir: string): Promise<{ file: string; title: string }[]> {
  const out: { file: string; title: string }[] = [];
  for (const c of chartSpecs(r)) {
    writeFileSync(path.join(outDir, c.file), await svg(c.spec));
    out.push({ file: c.file, title: c.title });
  }
  return out;
}
