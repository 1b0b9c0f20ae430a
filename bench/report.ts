// results.json → results/latest.md (+ the run's own report.md) and SVG charts (vega-lite, rendered
// headless). Every sentence that judges a model is produced by a rule comparing this run's cells;
// no figure is written by hand.
//   node bench/report.ts results/<run>/results.json    (re-render a past run)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { CellResult, RunResults } from './results.ts';

const REF = 'node-net-echo';
const EXT = 'python-socketserver';
const THREADS = ['thread', 'thread-pool', 'offload'];
const PROCS = ['process', 'process-pool'];

// ── formatting ───────────────────────────────────────────────────────────────────────────
const num = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sig = (v: number | null | undefined): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v >= 100) return num(v, 0);
  if (v >= 10) return num(v, 1);
  return num(v, 2);
};
/** µs → a readable latency. */
const lat = (us: number | null | undefined): string => {
  if (us === null || us === undefined || !Number.isFinite(us) || us === 0) return '–';
  return us >= 1000 ? `${sig(us / 1000)} ms` : `${Math.round(us)} µs`;
};
const mib = (b: number | null | undefined): string => (b ? `${sig(b / 1048576)} MiB` : '–');
const pct = (r: number) => `${Math.round(r * 100)}%`;
const label = (c: CellResult) => (c.mode === 'churn' ? 'conn/s' : 'req/s');

function okCells(r: RunResults): CellResult[] {
  return r.cells.filter((c) => c.ok);
}
function cell(r: RunResults, server: string, workload: string, c?: number): CellResult | undefined {
  return r.cells.find((x) => x.server === server && x.workload === workload && (c === undefined || x.params.connections === c) && x.ok);
}
function groups(r: RunResults): { workload: string; connections: number }[] {
  const seen = new Map<string, { workload: string; connections: number }>();
  for (const w of r.workloads) for (const c of r.cells.filter((x) => x.workload === w.name)) seen.set(`${w.name}/${c.params.connections}`, { workload: w.name, connections: c.params.connections });
  return [...seen.values()];
}
const errorsOf = (c: CellResult) => (c.errors ? c.errors.total : 0);
const errBrief = (c: CellResult): string => {
  if (!c.errors || c.errors.total === 0) return '0';
  const e = c.errors;
  const parts = [...Object.entries(e.errorFrames).map(([k, v]) => `${v} ${k}`)];
  if (e.mismatch) parts.push(`${e.mismatch} mismatch`);
  if (e.closed) parts.push(`${e.closed} closed`);
  if (e.unanswered) parts.push(`${e.unanswered} unanswered`);
  return parts.join(', ');
};

// ── tables ───────────────────────────────────────────────────────────────────────────────
function workloadTable(r: RunResults, workload: string, connections: number): string {
  const rows = r.cells.filter((c) => c.workload === workload && c.params.connections === connections);
  const w = r.workloads.find((x) => x.name === workload)!;
  const ref = cell(r, REF, workload, connections);
  const bulk = w.payloadBytes >= 4096;
  const idle = w.loop === 'idle';
  const open = w.loop === 'open';
  const head = ['server', open ? 'offered → done req/s' : `${rows[0] ? label(rows[0]) : 'req/s'}`, ...(bulk ? ['MB/s'] : []), 'vs ref', 'p50', 'p99', 'p99.9', 'max', 'CPU µs/req', 'server cores', 'client cores', 'peak RSS', ...(idle ? ['idle held / refused', 'RSS per idle conn'] : []), 'errors'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`];
  for (const c of rows) {
    if (!c.ok) {
      lines.push(`| ${c.server} | failed: ${(c.error ?? '').replace(/\|/g, '/').replace(/\s+/g, ' ').slice(0, 140)} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    const tput = open ? `${num(c.params.ratePerSec)} → ${num(c.throughput)}` : num(c.throughput);
    const vs = ref?.throughput && c.throughput ? pct(c.throughput / ref.throughput) : '–';
    const l = c.latencyUs!;
    lines.push(
      `| ${c.server} | ${tput} | ${bulk ? `${sig(c.mbPerSec)} | ` : ''}${vs} | ${lat(l.p50)} | ${lat(l.p99)} | ${lat(l.p999)} | ${lat(l.max)} | ${sig(c.serverTree?.cpuUsPerRequest)} | ${sig(c.serverTree?.cores)} | ${sig(c.client?.cores)} | ${mib(c.serverTree?.peakRssBytes)} | ${
        idle ? `${num(c.idle?.held)} / ${num((c.idle?.refused ?? 0) + (c.idle?.failed ?? 0))} | ${c.serverTree?.rssPerIdleConnBytes ? `${sig(c.serverTree.rssPerIdleConnBytes / 1024)} KiB` : '–'} | ` : ''
      }${errBrief(c)} |`,
    );
  }
  return lines.join('\n');
}

// ── rules: which model wins where, and why ───────────────────────────────────────────────
function best(cands: CellResult[], by: (c: CellResult) => number, higher = true): CellResult | undefined {
  return [...cands].sort((a, b) => (higher ? by(b) - by(a) : by(a) - by(b)))[0];
}
const tp = (c: CellResult) => c.throughput ?? 0;
const cores = (c?: CellResult) => c?.serverTree?.cores ?? NaN;
const cpuReq = (c?: CellResult) => c?.serverTree?.cpuUsPerRequest ?? NaN;

function whyLine(r: RunResults, workload: string, connections: number): string | null {
  const w = r.workloads.find((x) => x.name === workload)!;
  const cands = okCells(r).filter((c) => c.workload === workload && c.params.connections === connections && c.kind === 'model');
  if (!cands.length) return null;
  const el = cands.find((c) => c.server === 'event-loop');
  const tag = `**${workload}${w.connections.length > 1 || connections !== w.connections[0] ? ` c=${connections}` : ''}**`;
  if (w.loop === 'open') {
    // Only models that kept up with their own offered rate compete on tail latency.
    const keptUp = cands.filter((c) => errorsOf(c) === 0 && tp(c) >= 0.98 * (c.params.ratePerSec ?? 0));
    const pool = keptUp.length ? keptUp : cands;
    const win = best(pool, (c) => c.latencyUs?.p99 ?? Infinity, false)!;
    const second = best(pool.filter((c) => c !== win), (c) => c.latencyUs?.p99 ?? Infinity, false);
    const behind = cands.filter((c) => !keptUp.includes(c));
    return `- ${tag}: each model offered 50% of its own closed-loop capacity; lowest p99 among those that kept up: **${win.server}** (${num(win.params.ratePerSec)} req/s offered, p99 ${lat(win.latencyUs?.p99)}${second ? `; next ${second.server} ${lat(second.latencyUs?.p99)} at ${num(second.params.ratePerSec)} req/s` : ''})${
      behind.length ? `; fell behind or lost requests even at half their capacity: ${behind.map((c) => `${c.server} (${num(tp(c))} of ${num(c.params.ratePerSec)} req/s, p99 ${lat(c.latencyUs?.p99)})`).join(', ')}` : ''
    }.`;
  }
  if (w.loop === 'idle') {
    const held = [...cands].sort((a, b) => (b.idle?.held ?? 0) - (a.idle?.held ?? 0) || (a.serverTree?.rssPerIdleConnBytes ?? Infinity) - (b.serverTree?.rssPerIdleConnBytes ?? Infinity));
    const win = held[0]!;
    const refusers = cands.filter((c) => (c.idle?.refused ?? 0) + (c.idle?.failed ?? 0) > 0);
    const costly = best(cands.filter((c) => c.serverTree?.rssPerIdleConnBytes), (c) => c.serverTree!.rssPerIdleConnBytes!);
    return `- ${tag}: **${win.server}** holds ${num(win.idle?.held)} idle connections at ${win.serverTree?.rssPerIdleConnBytes ? `${sig(win.serverTree.rssPerIdleConnBytes / 1024)} KiB` : '–'} each with active p99 ${lat(win.latencyUs?.p99)}${
      costly && costly !== win ? `; the most expensive per connection is ${costly.server} (${sig(costly.serverTree!.rssPerIdleConnBytes! / 1024)} KiB)` : ''
    }${refusers.length ? `; refused part of them: ${refusers.map((c) => `${c.server} (${num(c.idle!.held)} held)`).join(', ')} — a thread or child per connection runs into its limits long before sockets do` : ''}.`;
  }
  const win = best(cands, tp)!;
  const rest = cands.filter((c) => c !== win);
  const second = best(rest, tp);
  const margin = second && tp(second) > 0 ? tp(win) / tp(second) : NaN;
  const lead = second ? (margin < 1.05 ? ` (a tie within 5% with ${second.server}, ${num(tp(second))})` : ` (${sig(margin)}× ${second.server})`) : '';
  const why: string[] = [];
  if (w.op === 'work') {
    if (cores(win) > 1.2) why.push(`it keeps ${sig(cores(win))} cores busy while one event loop is capped at one core${el ? ` (event-loop: ${sig(cores(el))} cores, ${num(tp(el))} req/s)` : ''}`);
    else why.push(`no model used much more than one core (${sig(cores(win))}); the load generator and the server share ${r.machine.cores} cores`);
  } else if (w.loop === 'churn') {
    const slow = rest.filter((c) => cpuReq(c) > 2 * cpuReq(win));
    why.push(`a new connection costs it ${sig(cpuReq(win))} µs of server CPU`);
    if (slow.length) why.push(`${slow.map((c) => `${c.server} ${sig(cpuReq(c))} µs`).join(', ')} — starting a thread or a process per connection is paid on every request`);
  } else if (w.op === 'sleep') {
    const ideal = (connections * 1000) / (w.sleepMs || 1);
    why.push(`${pct(tp(win) / ideal)} of the ${num(ideal)} req/s that ${connections} connections × ${w.sleepMs} ms allow`);
    const capped = rest.filter((c) => tp(c) < 0.5 * ideal);
    if (capped.length) why.push(`${capped.map((c) => `${c.server} ${pct(tp(c) / ideal)}${c.errors?.unanswered ? ` (${num(c.errors.unanswered)} unanswered)` : ''}`).join(', ')}: a bounded number of threads/children serves a bounded number of sleeping connections at once`);
  } else {
    why.push(`${sig(cpuReq(win))} µs of server CPU per request${el && el !== win ? ` vs event-loop ${sig(cpuReq(el))}` : ''}`);
    const hops = rest.filter((c) => c.server !== 'event-loop' && cpuReq(c) > 1.5 * cpuReq(win));
    if (hops.length) why.push(`${hops.map((c) => `${c.server} ${sig(cpuReq(c))}`).join(', ')} µs/req: the hand-off of each connection or request between threads/processes`);
    if (el && el !== win && cores(win) > cores(el) * 1.2) why.push(`it used ${sig(cores(win))} cores where the single event loop used ${sig(cores(el))}`);
  }
  return `- ${tag}: **${win.server}** ${num(tp(win))} ${label(win)}${lead} — ${why.join('; ')}.`;
}

// ── the HOWTO's claims ───────────────────────────────────────────────────────────────────
interface Verdict {
  claim: string;
  verdict: string;
  evidence: string;
}

function claims(r: RunResults): Verdict[] {
  const out: Verdict[] = [];

  // 1. Non-blocking multiplexing is the fastest way to shuffle bytes. Multiplexing models: the
  //    event loop, and process-pool (each child multiplexes its connections the same way).
  {
    const MUX = ['event-loop', 'process-pool'];
    const shuffle = groups(r).filter((g) => ['echo-64B', 'echo-64KiB'].includes(g.workload));
    const decided: string[] = [];
    let wins = 0;
    let total = 0;
    for (const g of shuffle) {
      const cands = okCells(r).filter((c) => c.kind === 'model' && c.workload === g.workload && c.params.connections === g.connections);
      const mux = best(cands.filter((c) => MUX.includes(c.server)), tp);
      const other = best(cands.filter((c) => !MUX.includes(c.server)), tp);
      if (!mux || !other) continue;
      total++;
      if (tp(mux) >= 0.95 * tp(other)) wins++;
      const el = cands.find((c) => c.server === 'event-loop');
      decided.push(`${g.workload} c=${g.connections}: ${mux.server} ${num(tp(mux))} req/s at ${sig(cpuReq(mux))} µs CPU/req vs best per-connection/hand-off model ${other.server} ${num(tp(other))} at ${sig(cpuReq(other))}${el && el !== mux ? ` (event-loop ${num(tp(el))})` : ''}`);
    }
    out.push({
      claim: '“The fastest sockets code uses non-blocking sockets and select to multiplex them.”',
      verdict: total === 0 ? 'not tested (needs event-loop or process-pool and one other model)' : wins === total ? 'held' : wins === 0 ? 'not held' : 'depends',
      evidence: total
        ? `A multiplexing model (event-loop, or process-pool: one epoll loop per child) is fastest, or within 5%, in ${wins} of ${total} byte-shuffling cells. ${decided.join('; ')}.`
        : '',
    });
  }
  // 2. When the app does real work, threads win.
  {
    const cands = okCells(r).filter((c) => c.kind === 'model' && c.workload === 'work-1ms');
    const threads = cands.filter((c) => THREADS.includes(c.server));
    const el = cands.find((c) => c.server === 'event-loop');
    const top = best(cands, tp);
    const bestThread = best(threads, tp);
    let verdict = 'not tested (no thread model in this run)';
    let evidence = '';
    if (bestThread && top && el) {
      const beatsEl = tp(bestThread) > 1.1 * tp(el);
      const isTop = tp(bestThread) >= 0.95 * tp(top);
      verdict = beatsEl && isTop ? 'held' : beatsEl ? 'depends' : 'not held';
      evidence = `work-1ms c=16: best thread model ${bestThread.server} ${num(tp(bestThread))} req/s on ${sig(cores(bestThread))} cores vs event-loop ${num(tp(el))} req/s on ${sig(cores(el))} cores${top !== bestThread ? `; overall best ${top.server} ${num(tp(top))} req/s` : ''}. ${
        !beatsEl ? `With ${r.machine.cores} cores shared with the load generator there is little second core to win.` : top !== bestThread && PROCS.includes(top.server) ? 'Processes spread the work across cores just as well: the win is parallelism, not threads as such.' : ''
      }`;
    }
    out.push({ claim: '“Assuming that your app is actually supposed to do something more than that, threading is the optimal solution.”', verdict, evidence });
  }
  // 3. A process per connection has significant overhead.
  {
    const proc = cell(r, 'process', 'churn');
    const el = cell(r, 'event-loop', 'churn');
    const thr = cell(r, 'thread', 'churn');
    let verdict = 'not tested (the process model is missing from this run)';
    let evidence = '';
    if (proc && el) {
      const ratio = tp(proc) / Math.max(1, tp(el));
      const cpuRatio = cpuReq(proc) / cpuReq(el);
      // A process model that completed no connection at all in the window has no CPU/req: its
      // rate alone decides.
      const costly = cpuRatio > 2 || tp(proc) === 0;
      verdict = ratio < 0.5 && costly ? 'held' : ratio < 0.9 || cpuRatio > 1.5 ? 'depends' : 'not held';
      const idleP = cell(r, 'process', 'idle-10k');
      const idleE = cell(r, 'event-loop', 'idle-10k');
      evidence = `churn c=8: process ${num(tp(proc))} conn/s at ${sig(cpuReq(proc))} µs CPU each vs event-loop ${num(tp(el))} conn/s at ${sig(cpuReq(el))} µs (${pct(ratio)} of the rate, ${sig(cpuRatio)}× the CPU)${thr ? `; thread ${num(tp(thr))} conn/s at ${sig(cpuReq(thr))} µs` : ''}${
        idleP && idleE ? `. idle-10k: process held ${num(idleP.idle?.held)} at ${idleP.serverTree?.rssPerIdleConnBytes ? sig(idleP.serverTree.rssPerIdleConnBytes / 1024) : '–'} KiB each vs event-loop ${num(idleE.idle?.held)} at ${idleE.serverTree?.rssPerIdleConnBytes ? sig(idleE.serverTree.rssPerIdleConnBytes / 1024) : '–'} KiB` : ''
      }.`;
    }
    out.push({ claim: '“The normal Unix solution is to fork a subprocess to deal with each connection. The overhead for this is significant.”', verdict, evidence });
  }
  // 4. Blocking-style per-connection code is often the right, simpler solution.
  {
    const thr = (w: string, c?: number) => cell(r, 'thread', w, c);
    const top = (w: string, c?: number) => best(okCells(r).filter((x) => x.kind === 'model' && x.workload === w && (c === undefined || x.params.connections === c)), tp);
    const checks = [
      ['echo-64B', 1],
      ['echo-64B', 32],
      ['work-1ms', undefined],
      ['sleep-10ms', undefined],
    ] as const;
    const rows: string[] = [];
    let good = 0;
    let n = 0;
    for (const [w, c] of checks) {
      const t = thr(w, c);
      const b = top(w, c);
      if (!t || !b) continue;
      n++;
      const ratio = tp(t) / Math.max(1e-9, tp(b));
      if (ratio >= 0.8) good++;
      rows.push(`${w}${c ? ` c=${c}` : ''}: thread ${pct(ratio)} of the best (${b.server})`);
    }
    const verdict = n === 0 ? 'not tested (the thread model is missing from this run)' : good === n ? 'held' : good === 0 ? 'not held' : 'depends';
    out.push({
      claim: '“Even though blocking sockets are somewhat slower than non-blocking, in many cases they are the right solution.”',
      verdict,
      evidence: n ? `The thread model (one connection per thread, its code written top to bottom) within 80% of the best model in ${good} of ${n} cells: ${rows.join('; ')}.` : '',
    });
  }
  return out;
}

// ── charts ───────────────────────────────────────────────────────────────────────────────
async function svg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out;
}

const PERCENTILES: [string, number][] = [
  ['p50', 50],
  ['p75', 75],
  ['p90', 90],
  ['p99', 99],
  ['p99.9', 99.9],
  ['p99.99', 99.99],
  ['max', 100],
];

async function charts(r: RunResults, outDir: string): Promise<{ file: string; title: string }[]> {
  const files: { file: string; title: string }[] = [];
  const tputRows = okCells(r).map((c) => ({ cell: `${c.workload} c=${c.params.connections}`, server: c.server, value: c.throughput ?? 0, unit: label(c) }));
  if (tputRows.length) {
    const file = 'throughput.svg';
    writeFileSync(
      path.join(outDir, file),
      await svg({
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
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
      } as vl.TopLevelSpec),
    );
    files.push({ file, title: 'Throughput by model, per workload' });
  }
  for (const g of groups(r)) {
    const rows: { server: string; percentile: string; order: number; ms: number }[] = [];
    for (const c of okCells(r).filter((x) => x.workload === g.workload && x.params.connections === g.connections && x.histogram)) {
      const h = hdr.decodeFromCompressedBase64(c.histogram!);
      PERCENTILES.forEach(([name, p], order) => rows.push({ server: c.server, percentile: name, order, ms: Math.max(0.001, (p === 100 ? h.maxValue : h.getValueAtPercentile(p)) / 1000) }));
      h.destroy();
    }
    if (!rows.length) continue;
    const file = `latency-${g.workload}-c${g.connections}.svg`;
    writeFileSync(
      path.join(outDir, file),
      await svg({
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
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
      } as vl.TopLevelSpec),
    );
    files.push({ file, title: `Latency percentiles — ${g.workload} c=${g.connections}` });
  }
  return files;
}

// ── the document ─────────────────────────────────────────────────────────────────────────
export function validation(r: RunResults): string[] {
  const lines: string[] = [];
  const refCells = okCells(r).filter((c) => c.server === REF && c.workload === 'echo-64B');
  const ceiling = best(refCells, tp);
  if (ceiling)
    lines.push(
      `- **Load-generator ceiling** (bare Node echo, echo-64B): ${num(tp(ceiling))} req/s at c=${ceiling.params.connections}, client ${sig(ceiling.client?.cores)} cores (${ceiling.client?.threads} threads), server ${sig(cores(ceiling))} cores. Figures near this are limited by the client and the shared cores, not by the model.`,
    );
  else lines.push('- Load-generator ceiling: not measured (the reference server was not in this run).');
  for (const c of okCells(r).filter((x) => x.server === 'event-loop' && x.workload === 'echo-64B')) {
    const ref = cell(r, REF, 'echo-64B', c.params.connections);
    if (ref) lines.push(`- **event-loop / bare Node** on echo-64B c=${c.params.connections}: ${pct(tp(c) / tp(ref))} of the throughput (${num(tp(c))} vs ${num(tp(ref))} req/s), p99 ${lat(c.latencyUs?.p99)} vs ${lat(ref.latencyUs?.p99)}.`);
  }
  for (const c of okCells(r).filter((x) => x.server === EXT)) {
    lines.push(
      `- **${EXT}** (Python ${'standard library, ThreadingTCPServer'}; not written by this project) on ${c.workload} c=${c.params.connections}: ${num(tp(c))} req/s${c.mbPerSec && c.params.payloadBytes >= 4096 ? ` (${sig(c.mbPerSec)} MB/s)` : ''}, p50 ${lat(c.latencyUs?.p50)}, p99 ${lat(c.latencyUs?.p99)}, ${errBrief(c)} errors, server ${sig(cores(c))} cores, ${sig(cpuReq(c))} µs CPU/req — every answer byte-checked by the same client.`,
    );
  }
  return lines;
}

export function renderMarkdown(r: RunResults, chartFiles: { file: string; title: string }[], chartPrefix: string): string {
  const L: string[] = [];
  const failed = r.cells.filter((c) => !c.ok);
  L.push(`# switchboard benchmark — ${r.run.id}`);
  L.push('');
  L.push(
    `${r.run.quick ? '**QUICK run** (short windows: read the shape, not the decimals). ' : ''}Commit \`${r.commit.short}\`${r.commit.dirty ? ' (dirty tree)' : ''}, Node ${r.node.version}, ${r.machine.cpuModel} × ${r.machine.cores} cores, Linux ${r.machine.kernel}. ` +
      `${r.cells.length} cells (${failed.length} failed) in ${Math.round(r.run.wallMs / 1000)} s; each cell: fresh server, ${r.run.flags.warmupMs} ms warm-up (excluded), ${r.run.flags.durationMs} ms measured. ` +
      `Load generator: separate process, ${r.run.flags.clientThreads} worker threads. WORK n = ${r.calibration?.workN ?? '–'}${r.calibration && Number.isFinite(r.calibration.measuredUs) ? ` (${Math.round(r.calibration.measuredUs)} µs CPU each, calibrated at start-up)` : ''}. Raw figures: [results.json](${chartPrefix}results.json).`,
  );
  L.push('');
  L.push('Columns: throughput over the measured window; *vs ref* = share of the bare Node `net` echo server in the same cell; latency percentiles from the merged HDR histogram (open loop: from each request\'s scheduled send time); *CPU µs/req* and *server cores* = user+sys of the whole server process tree (threads and children, exited ones included) from /proc over the window; *client cores* = the load generator\'s own CPU; peak RSS of the server tree.');
  if (r.notes.length) {
    L.push('');
    for (const n of r.notes) L.push(`> ${n}`);
  }
  L.push('');
  L.push('## Which model wins where, and why');
  L.push('');
  L.push('_Generated from this run\'s cells by fixed rules (best throughput; open loop: lowest p99; idle: most connections held, then least memory)._');
  L.push('');
  for (const g of groups(r)) {
    const line = whyLine(r, g.workload, g.connections);
    if (line) L.push(line);
  }
  L.push('');
  L.push('## Results by workload');
  for (const g of groups(r)) {
    const w = r.workloads.find((x) => x.name === g.workload)!;
    L.push('');
    L.push(`### ${g.workload}, c=${g.connections}${w.loop === 'idle' ? ` + ${num(w.idleConnections)} idle` : ''} — ${w.what}`);
    L.push('');
    L.push(workloadTable(r, g.workload, g.connections));
  }
  L.push('');
  L.push('## The HOWTO\'s claims, tested');
  L.push('');
  L.push('Claims from `socket-programming-howto.txt` (Performance section), each judged by rules on this run\'s cells. In Node, "threads" are worker threads (thread, thread-pool, offload) and "a process per connection" is the `process` model.');
  L.push('');
  L.push('| claim | verdict | deciding cells |');
  L.push('|---|---|---|');
  for (const v of claims(r)) L.push(`| ${v.claim} | **${v.verdict}** | ${v.evidence.replace(/\|/g, '/')} |`);
  L.push('');
  L.push('## Charts');
  L.push('');
  for (const f of chartFiles) L.push(`- [${f.title}](${chartPrefix}${f.file})`);
  if (r.micro) {
    L.push('');
    L.push('## Micro-benchmarks (tinybench)');
    L.push('');
    L.push('| codec case | frame bytes | frames/s | MB/s | new buffers/frame | bytes allocated/frame | views/frame |');
    L.push('|---|--:|--:|--:|--:|--:|--:|');
    for (const c of r.micro.codec) L.push(`| ${c.name} | ${num(c.frameBytes)} | ${num(c.framesPerSec)} | ${num(c.mbPerSec)} | ${sig(c.buffersPerFrame)} | ${num(c.bytesAllocatedPerFrame)} | ${sig(c.viewsPerFrame)} |`);
    L.push('');
    L.push('Unloaded round trip, one connection, one 64 B ECHO at a time:');
    L.push('');
    L.push('| server | p50 | p99 | mean | samples |');
    L.push('|---|--:|--:|--:|--:|');
    for (const t of r.micro.rtt) L.push(t.ok ? `| ${t.server} | ${lat(t.p50)} | ${lat(t.p99)} | ${lat(t.mean)} | ${num(t.samples)} |` : `| ${t.server} | failed: ${(t.error ?? '').slice(0, 100)} | | | |`);
  }
  L.push('');
  L.push('## Validation (closing note)');
  L.push('');
  L.push(...validation(r));
  if (failed.length) {
    L.push('');
    L.push('## Failed cells');
    L.push('');
    for (const c of failed) L.push(`- \`${c.id}\`: ${(c.error ?? '').replace(/\s+/g, ' ').slice(0, 300)}`);
  }
  L.push('');
  return L.join('\n');
}

/** The one-screen summary printed at the end of a run. */
export function summaryText(r: RunResults, outDir: string, latest: string): string {
  const L: string[] = [];
  L.push('');
  L.push(`switchboard bench ${r.run.id}: ${r.cells.length} cells, ${r.cells.filter((c) => !c.ok).length} failed, ${Math.round(r.run.wallMs / 1000)} s`);
  const servers = r.servers.map((s) => s.name);
  const gs = groups(r);
  const colW = 14;
  L.push(`${'cell'.padEnd(22)}${servers.map((s) => s.slice(0, colW - 1).padStart(colW)).join('')}`);
  for (const g of gs) {
    const row = servers.map((s) => {
      const c = r.cells.find((x) => x.server === s && x.workload === g.workload && x.params.connections === g.connections);
      if (!c) return ''.padStart(colW);
      if (!c.ok) return 'FAILED'.padStart(colW);
      return num(c.throughput).padStart(colW);
    });
    L.push(`${`${g.workload} c=${g.connections}`.padEnd(22)}${row.join('')}`);
  }
  L.push('(req/s; churn: connections/s)');
  for (const v of validation(r)) L.push(v.replace(/\*\*/g, ''));
  L.push(`results: ${path.join(outDir, 'results.json')}`);
  L.push(`report:  ${latest}`);
  return L.join('\n');
}

export async function writeReport(r: RunResults, { outDir, resultsDir }: { outDir: string; resultsDir: string }): Promise<string> {
  const chartFiles = await charts(r, outDir);
  writeFileSync(path.join(outDir, 'report.md'), renderMarkdown(r, chartFiles, ''));
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
