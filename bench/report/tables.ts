// The report's Markdown tables: one per workload group, the HOWTO claims, the micro-benchmarks.
// Columns follow the workload (bulk: MB/s; open loop: offered → done; idle: held / refused).
// A cell's rounds are one row: the median, with the range over rounds in brackets.
import type { RunResults } from '../results.ts';
import { isClientBound, isStarved, type AggCell } from './aggregate.ts';
import { allCells, cellOf, inGroup, isBulk, REFERENCE, type Group } from './cells.ts';
import { errBrief, kibRanged, lat, latRanged, mibRanged, num, pct, ranged, rateUnit, sig } from './format.ts';
import { CLIENT_MARK, clientMark, clientReasons, starvedText } from './marks.ts';

const header = (head: string[]): string[] => [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`];
const oneLine = (s: string, max: number) => s.replace(/\|/g, '/').replace(/\s+/g, ' ').slice(0, max);

/** "8 / 8", or loudly "**1 / 8 ⚠ 7 of 8 connections starved**" (worst round); '–' before it was recorded. */
export function servedText(c: AggCell): string {
  const k = c.rounds.connections;
  if (!k) return '–';
  return isStarved(c) ? `**${k.served} / ${k.offered} ⚠ ${starvedText(c)}**` : `${k.served} / ${k.offered}`;
}

/** Every server's cell of one group, next to the bare Node echo of the same group. */
export function workloadTable(r: RunResults, g: Group): string {
  const rows = allCells(r).filter((c) => inGroup(c, g));
  const w = r.workloads.find((x) => x.name === g.workload)!;
  const ref = cellOf(r, REFERENCE, g.workload, g.connections);
  const bulk = isBulk(w.payloadBytes);
  const idle = w.loop === 'idle';
  const open = w.loop === 'open';
  const head = [
    'server',
    open ? 'offered → done req/s' : `${rows[0] ? rateUnit(rows[0]) : 'req/s'}`,
    ...(bulk ? ['MB/s'] : []),
    'vs ref',
    'p50',
    'p99',
    'p99.9',
    'max',
    'CPU µs/req',
    'server cores',
    'client cores',
    'peak RSS',
    'served / offered',
    'fairness',
    ...(idle ? ['idle held / refused', 'RSS per idle conn'] : []),
    'errors',
  ];
  const lines = header(head);
  const notes: string[] = [];
  for (const c of rows) {
    if (!c.ok) {
      lines.push(`| ${c.server} | failed: ${oneLine(c.error ?? '', 140)} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    const x = c.rounds;
    const tput = `${open ? `${num(c.params.ratePerSec)} → ` : ''}${ranged(x.throughput)}${clientMark(c)}`;
    const vs = ref?.throughput && c.throughput ? pct(c.throughput / ref.throughput) : '–';
    const l = c.latencyUs!;
    const idleCols = idle ? `${num(c.idle?.held)} / ${num((c.idle?.refused ?? 0) + (c.idle?.failed ?? 0))} | ${kibRanged(x.rssPerIdleConnBytes)} | ` : '';
    const failedRounds = x.failed.length ? `; ${x.failed.length} of ${x.ran} rounds failed` : '';
    const p99 = `${latRanged(x.p99)}${isClientBound(c) && x.p99 ? ` ${CLIENT_MARK}` : ''}`;
    lines.push(
      `| ${c.server}${isStarved(c) ? ' ⚠' : ''} | ${tput} | ${bulk ? `${sig(c.mbPerSec)} | ` : ''}${vs} | ${latRanged(x.p50)} | ${p99} | ${lat(l.p999)} | ${lat(l.max)} | ${ranged(x.cpuUsPerRequest, sig)} | ${ranged(x.cores, sig)} | ${sig(c.client?.cores)} | ${mibRanged(x.peakRssBytes)} | ${servedText(c)} | ${c.fairness === null ? '–' : num(c.fairness, 2)} | ${idleCols}${errBrief(c)}${failedRounds} |`,
    );
    if (isClientBound(c)) notes.push(`${CLIENT_MARK} ${c.server}: ${clientReasons(c)}.`);
    for (const f of x.failed) notes.push(`${c.server} round ${f.round ?? 1} failed: ${oneLine(f.error ?? '', 200)}`);
  }
  if (notes.length) lines.push('', ...notes.map((n) => `<sub>${n}</sub><br>`));
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

export function handoffTable(rows: NonNullable<NonNullable<RunResults['micro']>['handoff']>): string {
  const connect = rows.find((r) => r.name.startsWith('TCP connect'));
  const lines = ['| hand-off | p50 | p50 less the connect row | mean | p99 | samples |', '|---|--:|--:|--:|--:|--:|'];
  for (const r of rows) {
    const less = connect && r !== connect && r.name.startsWith('socket') ? lat(Math.max(0, r.p50 - connect.p50)) : '';
    lines.push(`| ${r.name} | ${lat(r.p50)} | ${less} | ${lat(r.mean)} | ${lat(r.p99)} | ${num(r.samples)} |`);
  }
  return lines.join('\n');
}

export function rttTable(rtt: NonNullable<RunResults['micro']>['rtt']): string {
  const lines = ['| server | p50 | p99 | mean | samples |', '|---|--:|--:|--:|--:|'];
  for (const t of rtt) lines.push(t.ok ? `| ${t.server} | ${lat(t.p50)} | ${lat(t.p99)} | ${lat(t.mean)} | ${num(t.samples)} |` : `| ${t.server} | failed: ${(t.error ?? '').slice(0, 100)} | | | |`);
  return lines.join('\n');
}
