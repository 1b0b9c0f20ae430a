// The one-screen summary printed at the end of `make bench`: throughput of every cell as a grid
// (groups × servers; medians over rounds), the validation notes, and where the files went.
// Plain text, no Markdown.
import path from 'node:path';
import type { RunResults } from '../results.ts';
import { isStarved, roundsOfRun } from './aggregate.ts';
import { allCells, groupName, groups, inGroup } from './cells.ts';
import { num } from './format.ts';
import { validationLines } from './verdict-text.ts';
import { validation } from './verdicts.ts';

export function summaryText(r: RunResults, outDir: string, latest: string): string {
  const L: string[] = [];
  L.push('');
  const cells = allCells(r);
  const rounds = roundsOfRun(r);
  L.push(`switchboard bench ${r.run.id}: ${cells.length} cells × ${rounds} round${rounds === 1 ? '' : 's'}, ${r.cells.filter((c) => !c.ok).length} cell-rounds failed, ${Math.round(r.run.wallMs / 1000)} s`);
  const servers = r.servers.map((s) => s.name);
  const colW = 14;
  L.push(`${'cell'.padEnd(22)}${servers.map((s) => s.slice(0, colW - 1).padStart(colW)).join('')}`);
  for (const g of groups(r)) {
    const row = servers.map((s) => {
      const c = cells.find((x) => x.server === s && inGroup(x, g));
      if (!c) return ''.padStart(colW);
      if (!c.ok) return 'FAILED'.padStart(colW);
      return `${num(c.throughput)}${isStarved(c) ? '!' : ''}`.padStart(colW);
    });
    L.push(`${groupName(g).padEnd(22)}${row.join('')}`);
  }
  L.push(`(${rounds > 1 ? 'medians over rounds, ' : ''}req/s; churn: connections/s${cells.some(isStarved) ? '; ! = starved some connection' : ''})`);
  for (const v of validationLines(validation(r))) L.push(v.replace(/\*\*/g, ''));
  L.push(`results: ${path.join(outDir, 'results.json')}`);
  L.push(`report:  ${latest}`);
  return L.join('\n');
}
