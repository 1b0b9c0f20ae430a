// The report's Markdown tables: one per workload group, the HOWTO claims, the micro-benchmarks.
// Columns follow the workload (bulk: MB/s; open loop: offered → done; idle: held / refused).
import type { RunResults } from '../results.ts';
import { cellOf, inGroup, isBulk, REFERENCE, type Group } from './cells.ts';
import { errBrief, kib, lat, mib, num, pct, rateUnit, sig } from './format.ts';

const header = (head: string[]): string[] => [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`];

/** Every server's cell of one group, next to the bare Node echo of the same group. */
export function workloadTable(r: RunResults, g: Group): string {
  const rows = r.cells.filter((c) => inGroup(c, g));
  const w = r.workloads.find((x) => x.name === g.workload)!;
  const ref = cellOf(r, REFERENCE, g.workload, g.connections);
  const bulk = isBulk(w.payloadBytes);
  const idle = w.loop === 'idle';
  const open = w.loop === 'open';
  const head = ['server', open ? 'offered → done req/s' : `${rows[0] ? rateUnit(rows[0]) : 'req/s'}`, ...(bulk ? ['MB/s'] : []), 'vs ref', 'p50', 'p99', 'p99.9', 'max', 'CPU µs/req', 'server cores', 'client cores', 'peak RSS', ...(idle ? ['idle held / refused', 'RSS per idle conn'] : []), 'errors'];
  const lines = header(head);
  for (const c of rows) {
    if (!c.ok) {
      lines.push(`| ${c.server} | failed: ${(c.error ?? '').replace(/\|/g, '/').replace(/\s+/g, ' ').slice(0, 140)} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    const tput = open ? `${num(c.params.ratePerSec)} → ${num(c.throughput)}` : num(c.throughput);
    const vs = ref?.throughput && c.throughput ? pct(c.throughput / ref.throughput) : '–';
    const l = c.latencyUs!;
    const t = c.serverTree;
    const idleCols = idle ? `${num(c.idle?.held)} / ${num((c.idle?.refused ?? 0) + (c.idle?.failed ?? 0))} | ${kib(t?.rssPerIdleConnBytes)} | ` : '';
    lines.push(
      `| ${c.server} | ${tput} | ${bulk ? `${sig(c.mbPerSec)} | ` : ''}${vs} | ${lat(l.p50)} | ${lat(l.p99)} | ${lat(l.p999)} | ${lat(l.max)} | ${sig(t?.cpuUsPerRequest)} | ${sig(t?.cores)} | ${sig(c.client?.cores)} | ${mib(t?.peakRssBytes)} | ${idleCols}${errBrief(c)} |`,
    );
  }
  return lines.join('\n');
}

/** The claims with their verdicts (rendered by the caller) and deciding cells. */
export function claimsTable(rows: { claim: string; verdict: string; evidence: string }[]): string {
  return ['| claim | verdict | deciding cells |', '|---|---|---|', ...rows.map((v) => `| ${v.claim} | **${v.verdict}** | ${v.evidence.replace(/\|/g, '/')} |`)].join('\n');
}

export function codecTable(codec: NonNullable<RunResults['micro']>['codec']): string {
  const lines = ['| codec case | frame bytes | frames/s | MB/s | new buffers/frame | bytes allocated/frame | views/frame |', '|---|--:|--:|--:|--:|--:|--:|'];
  for (const c of codec) lines.push(`| ${c.name} | ${num(c.frameBytes)} | ${num(c.framesPerSec)} | ${num(c.mbPerSec)} | ${sig(c.buffersPerFrame)} | ${num(c.bytesAllocatedPerFrame)} | ${sig(c.viewsPerFrame)} |`);
  return lines.join('\n');
}

export function rttTable(rtt: NonNullable<RunResults['micro']>['rtt']): string {
  const lines = ['| server | p50 | p99 | mean | samples |', '|---|--:|--:|--:|--:|'];
  for (const t of rtt) lines.push(t.ok ? `| ${t.server} | ${lat(t.p50)} | ${lat(t.p99)} | ${lat(t.mean)} | ${num(t.samples)} |` : `| ${t.server} | failed: ${(t.error ?? '').slice(0, 100)} | | | |`);
  return lines.join('\n');
}
