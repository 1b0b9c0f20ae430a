// The report document: run header, verdicts, a table per workload group, the HOWTO claims,
// chart links, micro-benchmarks, validation, failed cells. Assembly only: the rules are in
// verdicts.ts, their sentences in verdict-text.ts, the tables in tables.ts.
import { DEFAULT_ROUNDS, type RunResults } from '../results.ts';
import { isClientBound, roundsOfRun } from './aggregate.ts';
import { allCells, groups } from './cells.ts';
import { handoffSection } from './handoff.ts';
import { mixSection } from './mix.ts';
import { num } from './format.ts';
import { CLIENT_LEGEND, ONE_ROUND } from './marks.ts';
import { THREAD_MODELS, FORK_PER_CONNECTION } from './model-facts.ts';
import { claimsTable, codecTable, handoffTable, rttTable, workloadTable } from './tables.ts';
import { claimEvidence, claimVerdict, validationLines, winnerLine } from './verdict-text.ts';
import { claims, validation, winners } from './verdicts.ts';

export interface ChartLink {
  file: string;
  title: string;
}

/** chartPrefix: where results.json and the charts are, relative to the document. */
export function renderMarkdown(r: RunResults, chartFiles: ChartLink[], chartPrefix: string): string {
  const L: string[] = [];
  const cells = allCells(r);
  const failed = cells.filter((c) => !c.ok);
  const failedRounds = r.cells.filter((c) => !c.ok).length;
  const rounds = roundsOfRun(r);
  L.push(`# switchboard benchmark — ${r.run.id}`);
  L.push('');
  // Said first: with one round nothing below was tested against noise.
  if (rounds < 2) {
    L.push(`> **One round**: every cell ran once, so no figure has a range and no winner or claim below was tested against noise; each is marked "${ONE_ROUND}". A full \`make bench\` repeats every cell ${DEFAULT_ROUNDS} times, interleaved.`);
    L.push('');
  }
  L.push(
    `${r.run.quick ? '**QUICK run** (short windows: read the shape, not the decimals). ' : ''}Commit \`${r.commit.short}\`${r.commit.dirty ? ' (dirty tree)' : ''}, Node ${r.node.version}, ${r.machine.cpuModel} × ${r.machine.cores} cores, Linux ${r.machine.kernel}. ` +
      `${cells.length} cells × ${rounds} round${rounds === 1 ? '' : 's'}${rounds > 1 ? ', interleaved' : ''} (${failedRounds} cell-round${failedRounds === 1 ? '' : 's'} failed${failed.length ? `; ${failed.length} cell${failed.length === 1 ? '' : 's'} in every round` : ''}) in ${Math.round(r.run.wallMs / 1000)} s; each cell-round: fresh server, ${r.run.flags.warmupMs} ms warm-up (excluded), ${r.run.flags.durationMs} ms measured${typeof r.run.flags.cpus === 'string' ? `, CPU placement ${r.run.flags.cpus}` : ''}. ` +
      `Load generator: separate process, ${r.run.flags.clientThreads} worker thread${r.run.flags.clientThreads === 1 ? '' : 's'}${r.cells.some((c) => c.client?.spin) ? ', busy-polling on a CPU of its own (it never sleeps in epoll_wait during a run, so no answer waits for the client to be woken; its busy share, not its CPU, is what the client-bound check reads)' : ''}. WORK n = ${r.calibration?.workN ?? '–'}${r.calibration && Number.isFinite(r.calibration.measuredUs) ? ` (${Math.round(r.calibration.measuredUs)} µs CPU each, calibrated at start-up)` : ''}. Raw figures: [results.json](${chartPrefix}results.json).`,
  );
  L.push('');
  // Results before schema 2 have no rounds, connection accounting or client checks, and their
  // closed-loop latency is as recorded: the page says so rather than print '–' unexplained.
  const old = r.schema < 2;
  if (old) {
    L.push(`> Recorded with results schema ${r.schema}: one round, no connection accounting (served / offered, fairness: '–'), no client-bound check, and closed-loop latency not corrected for coordinated omission.`);
    L.push('');
  }
  L.push(
    `Columns: every figure is the **median over rounds, with the range (lowest–highest round) in brackets**; throughput over the measured window; *vs ref* = share of the bare Node \`net\` echo server in the same cell; latency percentiles from the merged HDR histogram (${old ? '' : 'closed loop and churn: corrected for coordinated omission, so a connection left waiting shows its wait; '}open loop: from each request's scheduled send time); *CPU µs/req* and *server cores* = user+sys of the whole server process tree (threads and children, exited ones included) from /proc over the window; *client cores* = the load generator's own CPU; peak RSS of the server tree; *served / offered* = connections that got at least one answer inside the window, in the worst round (**⚠ starved**: some connection got none — such a cell never wins); *fairness* = Jain's index over the answers per connection (1 = every connection served alike, 1/n = one connection got all), median; *errors* in the worst round.`,
  );
  if (cells.some(isClientBound)) {
    L.push('');
    L.push(CLIENT_LEGEND);
  }
  // The runner's own one-round note says what the line at the top says.
  const notes = r.notes.filter((n) => !(rounds < 2 && n.startsWith('Each cell ran once')));
  if (notes.length) {
    L.push('');
    for (const n of notes) L.push(`> ${n}`);
  }
  L.push('');
  L.push(...mixSection(r));
  L.push('## Which model wins where, and why');
  L.push('');
  L.push(
    "_Generated from this run's cells by fixed rules (best throughput; open loop: lowest p99; idle: most connections held, then least memory). A model wins only where its range over rounds clears the runner-up's (its worst round beats the other's best; for latency the reverse); otherwise it is a tie within noise, and the tied models are named. A cell that starved a connection never wins; a client-bound cell's p99 is not judged._",
  );
  L.push('');
  for (const w of winners(r)) L.push(winnerLine(r, w));
  L.push('');
  L.push('## Results by workload');
  for (const g of groups(r)) {
    const w = r.workloads.find((x) => x.name === g.workload)!;
    L.push('');
    L.push(`### ${g.workload}, c=${g.connections}${w.loop === 'idle' ? ` + ${num(w.idleConnections)} idle` : ''} — ${w.what}`);
    L.push('');
    L.push(workloadTable(r, g));
  }
  L.push('');
  L.push("## The HOWTO's claims, tested");
  L.push('');
  L.push(
    `Claims from \`socket-programming-howto.txt\` (Performance section), each judged by rules on this run's cells. In Node, "threads" are worker threads (${THREAD_MODELS.join(', ')}) and "a process per connection" is the ${FORK_PER_CONNECTION.map((m) => `\`${m}\``).join(' or ')} model.`,
  );
  L.push('');
  L.push(claimsTable(claims(r).map((c) => ({ claim: c.quote, verdict: claimVerdict(c), evidence: claimEvidence(r, c) }))));
  L.push('');
  L.push(...handoffSection(r));
  L.push('## Charts');
  L.push('');
  for (const f of chartFiles) L.push(`- [${f.title}](${chartPrefix}${f.file})`);
  if (r.micro) {
    L.push('');
    L.push('## Micro-benchmarks (tinybench)');
    L.push('');
    L.push(codecTable(r.micro.codec));
    L.push('');
    L.push('Unloaded round trip, one connection, one 64 B ECHO at a time:');
    L.push('');
    L.push(rttTable(r.micro.rtt));
    if (r.micro.handoff?.length) {
      L.push('');
      L.push("Each hand-off alone, one at a time (bench/micro/handoff.ts; plain-JavaScript peers, so Node's cost, not our loader's); per request for the batch row:");
      L.push('');
      L.push(handoffTable(r.micro.handoff));
    }
  }
  L.push('');
  L.push('## Validation (closing note)');
  L.push('');
  L.push(...validationLines(validation(r)));
  if (failed.length) {
    L.push('');
    L.push('## Failed cells');
    L.push('');
    for (const c of failed) L.push(`- \`${c.id}\` (every round): ${(c.error ?? '').replace(/\s+/g, ' ').slice(0, 300)}`);
  }
  L.push('');
  return L.join('\n');
}
