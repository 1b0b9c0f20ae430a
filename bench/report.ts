// results.json → results/latest.md (+ the run's own report.md) and SVG charts. Every sentence
// that judges a model is produced by a rule comparing this run's cells; no figure is written by
// hand. The parts, one job each, live in bench/report/: format (numbers), aggregate (a cell's
// rounds as one: medians and ranges), cells (queries and labels), model-facts (from the
// registry), noise (when two ranges differ), verdicts (the rules, pure), verdict-text (their
// sentences), marks (starved, client-bound, one round), tables, charts, markdown (the document),
// summary (the terminal lines).
//   node bench/report.ts results/<run>/results.json    (re-render a past run)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunResults } from './results.ts';
import { writeCharts } from './report/charts.ts';
import { renderMarkdown } from './report/markdown.ts';
import { summaryText } from './report/summary.ts';

/** Writes charts and report.md into outDir, resultsDir/latest.md; returns the summary to print. */
export async function writeReport(r: RunResults, { outDir, resultsDir }: { outDir: string; resultsDir: string }): Promise<string> {
  const chartFiles = await writeCharts(r, outDir);
  const own = path.join(outDir, 'report.md');
  writeFileSync(own, renderMarkdown(r, chartFiles, ''));
  // A run on someone's own handler is theirs: it does not replace the project's latest.md.
  if (r.mix) return summaryText(r, outDir, own);
  const latest = path.join(resultsDir, 'latest.md');
  const rel = path.relative(resultsDir, outDir);
  writeFileSync(latest, renderMarkdown(r, chartFiles, `${rel}/`));
  return summaryText(r, outDir, latest);
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/report.ts results/<run>/results.json');
    process.exit(2);
  }
  const r = JSON.parse(readFileSync(file, 'utf8')) as RunResults;
  const outDir = path.dirname(path.resolve(file));
  console.log(await writeReport(r, { outDir, resultsDir: path.dirname(outDir) }));
}
