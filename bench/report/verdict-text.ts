// The verdicts of verdicts.ts as sentences (Markdown). No rule is decided here: every branch
// follows a field of the data, and every figure and label comes from the cells.
import type { CellResult, RunResults } from '../results.ts';
import { isClientBound, type AggCell } from './aggregate.ts';
import { EXTERNAL, groupName, isBulk, shortName } from './cells.ts';
import { errBrief, kib, kibRanged, lat, latRanged, num, pct, ranged, rateUnit, sig } from './format.ts';
import { CLIENT_MARK, clientMark, ONE_ROUND, starvedCallout } from './marks.ts';
import type { Standing } from './noise.ts';
import { cores, cpuReq, tp, type Claim, type OpenLoopWinner, type Validation, type Winner, type WinReason } from './verdicts.ts';

const rssPerConn = (c: CellResult) => c.serverTree?.rssPerIdleConnBytes;
/** A throughput with its range over rounds and unit: "41,882 (39,010–43,120) req/s ‡". */
const tpText = (c: AggCell): string => `${ranged(c.rounds.throughput)} ${rateUnit(c)}${clientMark(c)}`;
const p99Text = (c: AggCell): string => latRanged(c.rounds.p99);
const names = (cells: AggCell[]): string => cells.map((c) => c.server).join(', ');

/** One bullet of "Which model wins where, and why". */
export function winnerLine(r: RunResults, w: Winner): string {
  const tag = `**${shortName(r, w.group)}**`;
  const s = w.standing;
  const tail = `${starvedPart(s)}${w.kind === 'open' || (w.kind === 'none' && w.by === 'p99') ? clientBoundPart(s) : ''}${s.untested && s.leader ? ` _${ONE_ROUND}_` : ''}`;
  if (w.kind === 'none') {
    const why = w.by === 'p99' ? 'no model that kept up had a p99 this run can judge' : 'every model starved some connection';
    return `- ${tag}: **no winner**: ${why}${tail}.`;
  }
  const win = w.winner;
  const tied = s.tiedWith;
  if (w.kind === 'open') {
    const lead = tied.length
      ? `**tie within noise** on p99 among those that kept up: ${[win, ...tied].map((c) => `**${c.server}** ${p99Text(c)} at ${num(c.params.ratePerSec)} req/s`).join(', ')}`
      : `lowest p99 among those that kept up: **${win.server}** (${num(win.params.ratePerSec)} req/s offered, p99 ${p99Text(win)}${w.next ? `; next ${w.next.server} ${p99Text(w.next)} at ${num(w.next.params.ratePerSec)} req/s` : ''})`;
    const behind = w.behind.length ? `; fell behind or lost requests ${offeredAgain(w.offered)}: ${w.behind.map((c) => `${c.server} (${num(tp(c))} of ${num(c.params.ratePerSec)} req/s, p99 ${lat(c.latencyUs?.p99)})`).join(', ')}` : '';
    return `- ${tag}: ${offeredText(w.offered)}; ${lead}${behind}${tail}.`;
  }
  if (w.kind === 'idle') {
    const costly = w.mostExpensive ? `; the most expensive per connection is ${w.mostExpensive.server} (${kib(rssPerConn(w.mostExpensive))})` : '';
    const refusers = w.refusers.length ? `; refused part of them: ${w.refusers.map((c) => `${c.server} (${num(c.idle!.held)} held)`).join(', ')} — a thread or child per connection runs into its limits long before sockets do` : '';
    const who = tied.length ? `**tie within noise**: ${[win, ...tied].map((c) => `**${c.server}**`).join(', ')} hold ${num(win.idle?.held)} idle connections each (RSS per connection ${[win, ...tied].map((c) => kibRanged(c.rounds.rssPerIdleConnBytes)).join(' vs ')})` : `**${win.server}** holds ${num(win.idle?.held)} idle connections at ${kibRanged(win.rounds.rssPerIdleConnBytes)} each`;
    const p99 = isClientBound(win) ? `active p99 not judged (${CLIENT_MARK} client-bound)` : `active p99 ${p99Text(win)}`;
    return `- ${tag}: ${who} with ${p99}${costly}${refusers}${tail}.`;
  }
  const lead = tied.length
    ? `**tie within noise**: ${[win, ...tied].map((c) => `**${c.server}** ${tpText(c)}`).join(', ')} (the ranges overlap) — ${win.server} leads by median:`
    : `**${win.server}** ${tpText(win)}${w.next ? ` (${sig(w.margin)}× ${w.next.server}, ${tpText(w.next)}${s.untested ? '' : '; the ranges clear'})` : s.starved.length ? ' (the only model that served every connection)' : ''} —`;
  return `- ${tag}: ${lead} ${reasonText(win, w.group.connections, w.reason).join('; ')}${tail}.`;
}

/** Starved cells never win: named loudly wherever a winner is named. */
function starvedPart(s: Standing): string {
  return s.starved.length ? `; **never the winner — starved connections**: ${s.starved.map(starvedCallout).join('; ')}` : '';
}
function clientBoundPart(s: Standing): string {
  return s.clientBound.length ? `; p99 not judged (${CLIENT_MARK} client-bound): ${names(s.clientBound)}` : '';
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

/** A claim's verdict cell: the outcome (marked when judged on one round), or why it could not be tested. */
export function claimVerdict(c: Claim): string {
  if (c.outcome) return c.untested ? `${c.outcome} ${ONE_ROUND}` : c.outcome;
  switch (c.id) {
    case 'multiplex':
      return `not tested (needs ${c.models.join(' or ')} and one other model${c.starved.length ? ` that served every connection; starved: ${c.starved.map((x) => x.server).join(', ')}` : ''})`;
    case 'threads-for-work':
      return 'not tested (no thread model in this run)';
    case 'fork-overhead':
    case 'blocking-ok':
      return c.model ? `not tested (the ${c.model} model is missing from this run)` : 'not tested (no registered model starts one per connection)';
  }
}

const count = (rows: { outcome: string }[], o: string) => rows.filter((x) => x.outcome === o).length;
/** ", 1 a tie within noise" when there are ties. */
const ties = (rows: { outcome: string }[]) => (count(rows, 'tie within noise') ? `, ${count(rows, 'tie within noise')} a tie within noise` : '');

/** A claim's deciding cells, as one paragraph ('' when not tested). */
export function claimEvidence(r: RunResults, c: Claim): string {
  if (!c.rows.length) return '';
  const left = c.starved.length ? ` Left out of "the best" (starved connections): ${c.starved.map((x) => `${x.server} ${groupName({ workload: x.workload, connections: x.params.connections })}`).join(', ')}.` : '';
  switch (c.id) {
    case 'multiplex': {
      const rows = c.rows.map(
        (x) =>
          `${groupName(x.group)}: ${x.mux.server} ${tpText(x.mux)} at ${sig(cpuReq(x.mux))} µs CPU/req vs best per-connection/hand-off model ${x.other.server} ${tpText(x.other)} at ${sig(cpuReq(x.other))}${x.eventLoop ? ` (${x.eventLoop.server} ${num(tp(x.eventLoop))})` : ''}`,
      );
      // Each cell is judged on the options it ran with (model-facts.ts multiplexes(), from the registry).
      return `A multiplexing model (event-loop; process-pool: one epoll loop per child; thread-pool with --connections-per-thread > 1) clears the best of the others in ${count(c.rows, 'held')} of ${c.rows.length} byte-shuffling cells${ties(c.rows)}. ${rows.join('; ')}.${left}`;
    }
    case 'threads-for-work':
      return (
        c.rows
          .map((x) => {
            const overallBest = x.top !== x.bestThread ? `; overall best ${x.top.server} ${tpText(x.top)}` : '';
            const note =
              x.note === 'few-cores'
                ? `${x.vsEventLoop === 'tie' ? 'Not told apart from the event loop. ' : ''}With ${c.machineCores} cores shared with the load generator there is little second core to win.`
                : x.note === 'processes-too'
                  ? 'Processes spread the work across cores just as well: the win is parallelism, not threads as such.'
                  : '';
            return `${groupName(x.group)}: best thread model ${x.bestThread.server} ${tpText(x.bestThread)} on ${sig(cores(x.bestThread))} cores vs ${x.eventLoop.server} ${tpText(x.eventLoop)} on ${sig(cores(x.eventLoop))} cores${overallBest}. ${note}`;
          })
          .join(' ') + left
      );
    case 'fork-overhead': {
      const churn = c.rows.map(
        (x) =>
          `${groupName(x.group)}: ${x.proc.server} ${tpText(x.proc)} at ${ranged(x.proc.rounds.cpuUsPerRequest, sig)} µs CPU each vs ${x.eventLoop.server} ${tpText(x.eventLoop)} at ${ranged(x.eventLoop.rounds.cpuUsPerRequest, sig)} µs (${pct(x.rateRatio)} of the rate, ${sig(x.cpuRatio)}× the CPU)${
            x.thread ? `; ${x.thread.server} ${num(tp(x.thread))} conn/s at ${sig(cpuReq(x.thread))} µs` : ''
          }`,
      );
      const idle = c.idle.map((x) => `${shortName(r, x.group)}: ${x.proc.server} held ${num(x.proc.idle?.held)} at ${kib(rssPerConn(x.proc))} each vs ${x.eventLoop.server} ${num(x.eventLoop.idle?.held)} at ${kib(rssPerConn(x.eventLoop))}`);
      return `${[...churn, ...idle].join('. ')}.`;
    }
    case 'blocking-ok': {
      const rows = c.rows.map(
        (x) => `${shortName(r, x.group)}: ${x.cell.server} ${pct(x.ratio)} of the best (${x.best.server})${x.outcome === 'tie within noise' ? ', the ranges straddle 80%' : ''}${x.cell.rounds.connections && x.cell.rounds.connections.starved > 0 ? ', starved connections' : ''}`,
      );
      return `The ${c.model} model (one connection per thread, its code written top to bottom) within 80% of the best model in ${count(c.rows, 'held')} of ${c.rows.length} cells${ties(c.rows)}: ${rows.join('; ')}.${left}`;
    }
  }
}

/** The closing note's bullets. */
export function validationLines(v: Validation): string[] {
  const lines: string[] = [];
  const ceiling = v.ceiling;
  if (ceiling)
    lines.push(
      `- **Load-generator ceiling** (bare Node echo, echo-64B): ${tpText(ceiling)} at c=${ceiling.params.connections}, client ${sig(ceiling.client?.cores)} cores (${ceiling.client?.threads} threads), server ${sig(cores(ceiling))} cores. Figures near this are limited by the client and the shared cores, not by the model.`,
    );
  else lines.push('- Load-generator ceiling: not measured (the reference server was not in this run).');
  for (const { cell: c, ref } of v.vsReference)
    lines.push(`- **${c.server} / bare Node** on ${c.workload} c=${c.params.connections}: ${pct(tp(c) / tp(ref))} of the median throughput (${tpText(c)} vs ${tpText(ref)}), p99 ${p99Text(c)} vs ${p99Text(ref)}.`);
  for (const c of v.external) {
    lines.push(
      `- **${EXTERNAL}** (Python standard library, ThreadingTCPServer; not written by this project) on ${c.workload} c=${c.params.connections}: ${tpText(c)}${c.mbPerSec && isBulk(c.params.payloadBytes) ? ` (${sig(c.mbPerSec)} MB/s)` : ''}, p50 ${latRanged(c.rounds.p50)}, p99 ${p99Text(c)}, ${errBrief(c)} errors, server ${sig(cores(c))} cores, ${sig(cpuReq(c))} µs CPU/req — every answer byte-checked by the same client.`,
    );
  }
  return lines;
}
