// The verdicts of verdicts.ts as sentences (Markdown). No rule is decided here: every branch
// follows a field of the data, and every figure and label comes from the cells.
import type { CellResult, RunResults } from '../results.ts';
import { EXTERNAL, groupName, isBulk, shortName } from './cells.ts';
import { errBrief, kib, lat, num, pct, rateUnit, sig } from './format.ts';
import { cores, cpuReq, tp, type Claim, type OpenLoopWinner, type Validation, type Winner, type WinReason } from './verdicts.ts';

const rssPerConn = (c: CellResult) => c.serverTree?.rssPerIdleConnBytes;

/** One bullet of "Which model wins where, and why". */
export function winnerLine(r: RunResults, w: Winner): string {
  const tag = `**${shortName(r, w.group)}**`;
  const win = w.winner;
  if (w.kind === 'open') {
    const next = w.next ? `; next ${w.next.server} ${lat(w.next.latencyUs?.p99)} at ${num(w.next.params.ratePerSec)} req/s` : '';
    const behind = w.behind.length ? `; fell behind or lost requests ${offeredAgain(w.offered)}: ${w.behind.map((c) => `${c.server} (${num(tp(c))} of ${num(c.params.ratePerSec)} req/s, p99 ${lat(c.latencyUs?.p99)})`).join(', ')}` : '';
    return `- ${tag}: ${offeredText(w.offered)}; lowest p99 among those that kept up: **${win.server}** (${num(win.params.ratePerSec)} req/s offered, p99 ${lat(win.latencyUs?.p99)}${next})${behind}.`;
  }
  if (w.kind === 'idle') {
    const costly = w.mostExpensive ? `; the most expensive per connection is ${w.mostExpensive.server} (${kib(rssPerConn(w.mostExpensive))})` : '';
    const refusers = w.refusers.length ? `; refused part of them: ${w.refusers.map((c) => `${c.server} (${num(c.idle!.held)} held)`).join(', ')} — a thread or child per connection runs into its limits long before sockets do` : '';
    return `- ${tag}: **${win.server}** holds ${num(win.idle?.held)} idle connections at ${kib(rssPerConn(win))} each with active p99 ${lat(win.latencyUs?.p99)}${costly}${refusers}.`;
  }
  const lead = w.next ? (w.tie ? ` (a tie within 5% with ${w.next.server}, ${num(tp(w.next))})` : ` (${sig(w.margin)}× ${w.next.server})`) : '';
  return `- ${tag}: **${win.server}** ${num(tp(win))} ${rateUnit(win)}${lead} — ${reasonText(win, w.group.connections, w.reason).join('; ')}.`;
}

function offeredText(o: OpenLoopWinner['offered']): string {
  return 'fixedRate' in o ? `each model offered ${num(o.fixedRate)} req/s (--rate)` : `each model offered ${pct(o.capacityShare)} of its own closed-loop capacity`;
}
function offeredAgain(o: OpenLoopWinner['offered']): string {
  if ('fixedRate' in o) return `at ${num(o.fixedRate)} req/s`;
  return `even at ${o.capacityShare === 0.5 ? 'half' : `${pct(o.capacityShare)} of`} their capacity`;
}

function reasonText(win: CellResult, connections: number, why: WinReason): string[] {
  switch (why.kind) {
    case 'parallel': {
      const el = why.eventLoop;
      return [`it keeps ${sig(cores(win))} cores busy while one event loop is capped at one core${el ? ` (${el.server}: ${sig(cores(el))} cores, ${num(tp(el))} req/s)` : ''}`];
    }
    case 'one-core':
      return [`no model used much more than one core (${sig(cores(win))}); the load generator and the server share ${why.machineCores} cores`];
    case 'connect-cost': {
      const out = [`a new connection costs it ${sig(cpuReq(win))} µs of server CPU`];
      if (why.slower.length) out.push(`${why.slower.map((c) => `${c.server} ${sig(cpuReq(c))} µs`).join(', ')} — starting a thread or a process per connection is paid on every request`);
      return out;
    }
    case 'sleep': {
      const out = [`${pct(tp(win) / why.ideal)} of the ${num(why.ideal)} req/s that ${connections} connections × ${why.sleepMs} ms allow`];
      if (why.capped.length)
        out.push(`${why.capped.map((c) => `${c.server} ${pct(tp(c) / why.ideal)}${c.errors?.unanswered ? ` (${num(c.errors.unanswered)} unanswered)` : ''}`).join(', ')}: a bounded number of threads/children serves a bounded number of sleeping connections at once`);
      return out;
    }
    case 'overhead': {
      const el = why.eventLoop;
      const out = [`${sig(cpuReq(win))} µs of server CPU per request${el ? ` vs ${el.server} ${sig(cpuReq(el))}` : ''}`];
      if (why.hops.length) out.push(`${why.hops.map((c) => `${c.server} ${sig(cpuReq(c))}`).join(', ')} µs/req: the hand-off of each connection or request between threads/processes`);
      if (el && why.moreCoresThanEventLoop) out.push(`it used ${sig(cores(win))} cores where the single event loop used ${sig(cores(el))}`);
      return out;
    }
  }
}

/** A claim's verdict cell: the outcome, or why it could not be tested. */
export function claimVerdict(c: Claim): string {
  if (c.outcome) return c.outcome;
  switch (c.id) {
    case 'multiplex':
      return `not tested (needs ${c.models.join(' or ')} and one other model)`;
    case 'threads-for-work':
      return 'not tested (no thread model in this run)';
    case 'fork-overhead':
    case 'blocking-ok':
      return c.model ? `not tested (the ${c.model} model is missing from this run)` : 'not tested (no registered model starts one per connection)';
  }
}

/** A claim's deciding cells, as one paragraph ('' when not tested). */
export function claimEvidence(r: RunResults, c: Claim): string {
  if (!c.rows.length) return '';
  switch (c.id) {
    case 'multiplex': {
      const rows = c.rows.map(
        (x) =>
          `${groupName(x.group)}: ${x.mux.server} ${num(tp(x.mux))} req/s at ${sig(cpuReq(x.mux))} µs CPU/req vs best per-connection/hand-off model ${x.other.server} ${num(tp(x.other))} at ${sig(cpuReq(x.other))}${x.eventLoop ? ` (${x.eventLoop.server} ${num(tp(x.eventLoop))})` : ''}`,
      );
      const wins = c.rows.filter((x) => x.held).length;
      // Names the models of MULTIPLEXING (bench/report/model-facts.ts) and what makes each one multiplex.
      return `A multiplexing model (event-loop, or process-pool: one epoll loop per child) is fastest, or within 5%, in ${wins} of ${c.rows.length} byte-shuffling cells. ${rows.join('; ')}.`;
    }
    case 'threads-for-work':
      return c.rows
        .map((x) => {
          const overallBest = x.top !== x.bestThread ? `; overall best ${x.top.server} ${num(tp(x.top))} req/s` : '';
          const note =
            x.note === 'few-cores'
              ? `With ${c.machineCores} cores shared with the load generator there is little second core to win.`
              : x.note === 'processes-too'
                ? 'Processes spread the work across cores just as well: the win is parallelism, not threads as such.'
                : '';
          return `${groupName(x.group)}: best thread model ${x.bestThread.server} ${num(tp(x.bestThread))} req/s on ${sig(cores(x.bestThread))} cores vs ${x.eventLoop.server} ${num(tp(x.eventLoop))} req/s on ${sig(cores(x.eventLoop))} cores${overallBest}. ${note}`;
        })
        .join(' ');
    case 'fork-overhead': {
      const churn = c.rows.map(
        (x) =>
          `${groupName(x.group)}: ${x.proc.server} ${num(tp(x.proc))} conn/s at ${sig(cpuReq(x.proc))} µs CPU each vs ${x.eventLoop.server} ${num(tp(x.eventLoop))} conn/s at ${sig(cpuReq(x.eventLoop))} µs (${pct(x.rateRatio)} of the rate, ${sig(x.cpuRatio)}× the CPU)${
            x.thread ? `; ${x.thread.server} ${num(tp(x.thread))} conn/s at ${sig(cpuReq(x.thread))} µs` : ''
          }`,
      );
      const idle = c.idle.map((x) => `${shortName(r, x.group)}: ${x.proc.server} held ${num(x.proc.idle?.held)} at ${kib(rssPerConn(x.proc))} each vs ${x.eventLoop.server} ${num(x.eventLoop.idle?.held)} at ${kib(rssPerConn(x.eventLoop))}`);
      return `${[...churn, ...idle].join('. ')}.`;
    }
    case 'blocking-ok': {
      const good = c.rows.filter((x) => x.good).length;
      const rows = c.rows.map((x) => `${shortName(r, x.group)}: ${x.cell.server} ${pct(x.ratio)} of the best (${x.best.server})`);
      return `The ${c.model} model (one connection per thread, its code written top to bottom) within 80% of the best model in ${good} of ${c.rows.length} cells: ${rows.join('; ')}.`;
    }
  }
}

/** The closing note's bullets. */
export function validationLines(v: Validation): string[] {
  const lines: string[] = [];
  const ceiling = v.ceiling;
  if (ceiling)
    lines.push(
      `- **Load-generator ceiling** (bare Node echo, echo-64B): ${num(tp(ceiling))} req/s at c=${ceiling.params.connections}, client ${sig(ceiling.client?.cores)} cores (${ceiling.client?.threads} threads), server ${sig(cores(ceiling))} cores. Figures near this are limited by the client and the shared cores, not by the model.`,
    );
  else lines.push('- Load-generator ceiling: not measured (the reference server was not in this run).');
  for (const { cell: c, ref } of v.vsReference)
    lines.push(`- **${c.server} / bare Node** on ${c.workload} c=${c.params.connections}: ${pct(tp(c) / tp(ref))} of the throughput (${num(tp(c))} vs ${num(tp(ref))} req/s), p99 ${lat(c.latencyUs?.p99)} vs ${lat(ref.latencyUs?.p99)}.`);
  for (const c of v.external) {
    lines.push(
      `- **${EXTERNAL}** (Python standard library, ThreadingTCPServer; not written by this project) on ${c.workload} c=${c.params.connections}: ${num(tp(c))} req/s${c.mbPerSec && isBulk(c.params.payloadBytes) ? ` (${sig(c.mbPerSec)} MB/s)` : ''}, p50 ${lat(c.latencyUs?.p50)}, p99 ${lat(c.latencyUs?.p99)}, ${errBrief(c)} errors, server ${sig(cores(c))} cores, ${sig(cpuReq(c))} µs CPU/req — every answer byte-checked by the same client.`,
    );
  }
  return lines;
}
