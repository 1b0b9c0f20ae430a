// The report's charts: vega-lite specs built from the cells (pure), rendered to SVG headless
// (vega's 'none' renderer: no browser, no canvas). One throughput chart with a panel per
// workload group, one latency-percentile chart per group.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { RunResults } from '../results.ts';
import { groupName, groups, inGroup, okCells } from './cells.ts';
import { rateUnit } from './format.ts';

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

export function chartSpecs(r: RunResults): Chart[] {
  const charts: Chart[] = [];
  const tputRows = okCells(r).map((c) => ({ cell: groupName({ workload: c.workload, connections: c.params.connections }), server: c.server, value: c.throughput ?? 0, unit: rateUnit(c) }));
  if (tputRows.length) {
    charts.push({
      file: 'throughput.svg',
      title: 'Throughput by model, per workload',
      spec: {
        $schema: SCHEMA,
        title: 'Throughput by model (requests/s; churn: connections/s)',
        data: { values: tputRows },
        facet: { field: 'cell', type: 'nominal', title: null, sort: [...new Set(tputRows.map((x) => x.cell))] },
        columns: 3,
        resolve: { scale: { y: 'independent' } },
        spec: {
          width: 220,
          height: 150,
          mark: 'bar',
          encoding: {
            x: { field: 'server', type: 'nominal', title: null, axis: { labelAngle: -40 } },
            y: { field: 'value', type: 'quantitative', title: 'per second' },
            color: { field: 'server', type: 'nominal', legend: null },
            tooltip: [{ field: 'server' }, { field: 'value', format: ',.0f' }],
          },
        },
      } as vl.TopLevelSpec,
    });
  }
  for (const g of groups(r)) {
    const rows: { server: string; percentile: string; order: number; ms: number }[] = [];
    for (const c of okCells(r).filter((x) => inGroup(x, g) && x.histogram)) {
      const h = hdr.decodeFromCompressedBase64(c.histogram!);
      PERCENTILES.forEach(([name, p], order) => rows.push({ server: c.server, percentile: name, order, ms: Math.max(0.001, (p === 100 ? h.maxValue : h.getValueAtPercentile(p)) / 1000) }));
      h.destroy();
    }
    if (!rows.length) continue;
    charts.push({
      file: `latency-${g.workload}-c${g.connections}.svg`,
      title: `Latency percentiles — ${groupName(g)}`,
      spec: {
        $schema: SCHEMA,
        title: `Latency percentiles: ${g.workload}, c=${g.connections}`,
        width: 420,
        height: 260,
        data: { values: rows },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'percentile', type: 'ordinal', sort: PERCENTILES.map(([n]) => n), title: 'percentile' },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log)' },
          color: { field: 'server', type: 'nominal' },
        },
      } as vl.TopLevelSpec,
    });
  }
  return charts;
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
