// The part of a report that only a run on the user's own handler has (`bench --handler --mix`):
// what the handler costs per request kind, whether every model answered alike, and per model the
// answers and errors of each kind. Assembly only: the figures come from results.mix and the cells.
import type { CellResult, RunResults } from '../results.ts';
import { kib, lat, num } from './format.ts';

const hex = (op: number) => `0x${op.toString(16).padStart(2, '0')}`;
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function mixSection(r: RunResults): string[] {
  const m = r.mix;
  if (!m) return [];
  const L: string[] = [];
  L.push('## Your handler');
  L.push('');
  L.push(`Handler \`${m.handler}\`, mix \`${m.file}\` (${m.name}): ${m.kinds.map((k) => `${k.name} (op ${hex(k.op)}, weight ${k.weight})`).join(', ')}.`);
  const p = m.profile;
  if (p) {
    L.push('');
    L.push('### Profile: the handler called directly, per request kind');
    L.push('');
    L.push('_One process, no socket, no model: the handler\'s own cost. CPU = the profiling process\'s (every thread) per call, making and judging the request included, so an upper bound; wall = call to answer; sync = until `handle()` returned, the time it held its thread (under event-loop, every other connection waits that long)._');
    L.push('');
    L.push('| kind | calls | CPU µs/req | wall p50 | wall p99 | sync p50 | sync p99 | sync max | threw | never answered | wrong |');
    L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    for (const k of p.kinds) {
      L.push(`| ${k.name} | ${num(k.calls)} | ${num(k.cpuUsPerRequest, 1)} | ${lat(k.wallUs.p50)} | ${lat(k.wallUs.p99)} | ${lat(k.syncUs.p50)} | ${lat(k.syncUs.p99)} | ${lat(k.syncUs.max)} | ${num(k.thrown)} | ${num(k.timeouts)} | ${num(k.wrong)} |`);
    }
    L.push(`| **mix (weighted)** | | **${num(p.weighted.cpuUsPerRequest, 1)}** | | | **${lat(p.weighted.syncUsP50)}** | | **${lat(p.weighted.syncUsMax)}** | | | |`);
    L.push('');
    L.push(`Memory per connection (event-loop server, 100 connections after 3 requests each): ${p.memoryPerConnectionBytes === null ? '–' : kib(p.memoryPerConnectionBytes)}.`);
    const errs = p.kinds.filter((k) => k.firstError);
    for (const k of errs) L.push(`- ${k.name}: ${cell(k.firstError!)}`);
    if (p.exited) L.push(`- **The handler ended its process** (status ${p.exited.status}) during "${p.exited.kind}".`);
  }
  const c = m.consistency;
  if (c) {
    L.push('');
    L.push('### Same request, same answer');
    L.push('');
    L.push(`_Each model, on a fresh server and state directory, was sent the same ${c.requests} requests of the mix one at a time on one connection; every answer judged by its kind's expectation and compared byte for byte with ${c.reference}'s._ ${c.ok ? '**Every model answered every request alike.**' : '**Not every model answered alike: see below.**'}`);
    L.push('');
    L.push('| model | answered | failed expectation | differ from ' + c.reference + ' | |');
    L.push('|---|--:|--:|--:|---|');
    for (const x of c.models) L.push(`| ${x.model} | ${x.answered}/${c.requests} | ${x.wrong} | ${x.differ} | ${cell([x.error, ...x.examples].filter(Boolean).join('; ').slice(0, 400))} |`);
  }
  const kinded = r.cells.filter((x): x is CellResult & { perKind: NonNullable<CellResult['perKind']> } => !!x.perKind?.length);
  if (kinded.length) {
    L.push('');
    L.push('### Per request kind, per model');
    L.push('');
    L.push('_Summed over rounds and concurrency levels of the closed-loop `mix` workload: correct answers, errors (error frames not expected, wrong bytes, lost to a closed connection, never answered) and the raw p99 of the kind in its worst round._');
    L.push('');
    L.push(`| model | ${m.kinds.map((k) => `${k.name} ok / errors / p99`).join(' | ')} |`);
    L.push(`|---|${m.kinds.map(() => '--:').join('|')}|`);
    const servers = [...new Set(kinded.map((x) => x.server))];
    const firsts: string[] = [];
    for (const s of servers) {
      const mine = kinded.filter((x) => x.server === s && x.workload === 'mix');
      const cols = m.kinds.map((_, i) => {
        const ok = mine.reduce((a, x) => a + (x.perKind[i]?.ok ?? 0), 0);
        const errors = mine.reduce((a, x) => a + (x.perKind[i]?.errors ?? 0), 0);
        const p99 = Math.max(0, ...mine.map((x) => x.perKind[i]?.latencyUs.p99 ?? 0));
        const first = mine.map((x) => x.perKind[i]?.firstError).find(Boolean);
        if (first) firsts.push(`${s}, ${m.kinds[i]!.name}: ${cell(first).slice(0, 300)}`);
        return `${num(ok)} / ${errors ? `**${num(errors)}**` : '0'} / ${lat(p99)}`;
      });
      L.push(`| ${s} | ${cols.join(' | ')} |`);
    }
    if (firsts.length) {
      L.push('');
      for (const f of firsts.slice(0, 12)) L.push(`- ${f}`);
    }
  }
  L.push('');
  return L;
}
