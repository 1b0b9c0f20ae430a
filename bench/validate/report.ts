// results/validate.md for make bench-validate: per (server, connections) the medians and ranges
// over rounds of both clients, the ratios harness ÷ C client, and a verdict per ratio against the
// targets. Pure: figures in, markdown out.
import { medianInterval } from '../ci/stats.ts';

/** harness: the benchmark's load generator; c: echo-client.c; node: node-client.mjs, the bare Node floor. */
export const CLIENTS = ['harness', 'c', 'node'] as const;
export type ClientName = (typeof CLIENTS)[number];
export const CLIENT_LABEL: Record<ClientName, string> = { harness: 'harness', c: 'C client', node: 'bare Node client' };

/**
 * One client's figures from one run (µs; client CPU in cores busy over the window). Latencies are
 * as measured (a starved connection's wait included); p99CoUs is after the closed-loop
 * coordinated-omission correction make bench publishes (the C client applies the same one).
 */
export interface RunFigures {
  round: number;
  throughput: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  p99CoUs: number | null;
  errors: number;
  clientCores: number | null;
  /**
   * Cores the server's process tree used over the window (/proc): near 1.0 on one server CPU, the
   * client kept the server busy and the run measured the server; well below, the server waited
   * for the client, and throughput and tail say as much about the client. null where /proc is not.
   */
  serverCores: number | null;
  /** Connections that got at least one answer in the window. */
  activeConnections: number | null;
  /** The harness's own judgement that the client, not the server, set the pace (client.boundBy). */
  boundBy: string | null;
}

export interface Series {
  server: string;
  connections: number;
  runs: Record<ClientName, RunFigures[]>;
}

export interface ValidateRun {
  startedAt: string;
  wallMs: number;
  commit: { short: string; dirty: boolean };
  machine: string;
  /** 1-minute load average before and after: other work on the machine shows here. */
  loadAvg: [number, number];
  node: string;
  cc: string;
  command: string;
  settings: { rounds: number; warmupMs: number; durationMs: number; payloadBytes: number; placement: string; taskset: boolean; clientThreads: number; busyPoll?: boolean };
  series: Series[];
  failures: string[];
}

/** The issue's targets: the harness within 10% of the C client on throughput, 25% on p99. */
export const TARGETS = { throughput: 0.1, p99: 0.25, p99co: 0.25 } as const;
export type Metric = keyof typeof TARGETS;
const METRIC_LABEL: Record<Metric, string> = { throughput: 'throughput', p99: 'p99', p99co: 'p99 CO-corrected' };
const pick: Record<Metric, (r: RunFigures) => number | null> = { throughput: (r) => r.throughput, p99: (r) => r.p99Us, p99co: (r) => r.p99CoUs };
const values = (rs: RunFigures[], m: Metric) => rs.flatMap((r) => (pick[m](r) === null ? [] : [pick[m](r)!]));
/** The targets apply to the bare Node echo (the others are reported for context). */
export const TARGET_SERVERS = ['node-net-echo'];

export function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);

export interface Verdict {
  metric: Metric;
  ratio: number | null;
  /** Per-round ratios (harness ÷ C of the same round), min and max; `ratio` is their median. */
  roundRange: [number, number] | null;
  /**
   * A distribution-free interval for that median (bench/ci/stats.ts medianInterval, ≥ 95% where
   * there are 6 rounds or more; `coverage` says what it is) and where it lies against the band
   * 1 ± tolerance: wholly inside, wholly outside, or reaching both (noise too large to say).
   */
  interval: { lo: number; hi: number; coverage: number } | null;
  certainty: 'inside' | 'outside' | 'undecided' | null;
  tolerance: number;
  within: boolean | null;
  /** The target applies to this series (bare Node echo). */
  applies: boolean;
}

/**
 * Client `a` ÷ client `b` on each metric: the median of the per-round ratios (a ÷ b of the same
 * round) and their range. Paired, because the clients of one round run back to back: this VM
 * moves between a fast and a slow phase (c = 1 throughput 22.8k against 36.5k req/s for the same
 * C client and server within one run), and a ratio of medians compares one client's slow phase
 * with the other's fast one (it read the harness 1.15× the C client where the rounds said
 * 0.91–1.15). Without paired rounds: the ratio of medians.
 */
export function compare(s: Series, a: ClientName, b: ClientName): Verdict[] {
  return (Object.keys(TARGETS) as Metric[]).map((metric) => {
    const perRound = s.runs[a].flatMap((h) => {
      const c = s.runs[b].find((x) => x.round === h.round);
      const q = c ? ratio(pick[metric](h), pick[metric](c)) : null;
      return q === null ? [] : [q];
    });
    const r = perRound.length ? median(perRound) : ratio(median(values(s.runs[a], metric)), median(values(s.runs[b], metric)));
    const tolerance = TARGETS[metric];
    const interval = perRound.length > 1 ? medianInterval(perRound) : null;
    const inBand = (x: number) => Math.abs(x - 1) <= tolerance;
    // Both ends in the band: inside (the band is one interval). Neither, on one side of it: outside.
    const certainty = !interval ? null : inBand(interval.lo) && inBand(interval.hi) ? 'inside' : !inBand(interval.lo) && !inBand(interval.hi) && (interval.lo > 1) === (interval.hi > 1) ? 'outside' : 'undecided';
    return {
      metric,
      ratio: r,
      roundRange: perRound.length ? [Math.min(...perRound), Math.max(...perRound)] : null,
      interval,
      certainty,
      tolerance,
      within: r === null ? null : Math.abs(r - 1) <= tolerance,
      applies: a === 'harness' && b === 'c' && TARGET_SERVERS.includes(s.server),
    };
  });
}

/** The targets: the harness against the C client. */
export const verdicts = (s: Series): Verdict[] => compare(s, 'harness', 'c');

/**
 * Where a gap comes from: the bare Node client against the C client (what any Node load
 * generator pays here) and the harness against the bare Node client (what ours adds).
 */
export function floorLine(s: Series): string | null {
  if (!s.runs.node.length) return null;
  const show = (vs: Verdict[]) => vs.map((v) => `${METRIC_LABEL[v.metric]} ${fix(v.ratio)}${v.roundRange ? ` (${fix(v.roundRange[0])}–${fix(v.roundRange[1])})` : ''}`).join(', ');
  return `- ${s.server} c=${s.connections}: bare Node ÷ C: ${show(compare(s, 'node', 'c'))}; harness ÷ bare Node: ${show(compare(s, 'harness', 'node'))}`;
}

const int = (x: number) => Math.round(x).toLocaleString('en-US');
const us = (x: number) => (x >= 100 ? int(x) : x.toFixed(1));
const fix = (x: number | null, d = 2) => (x === null ? '—' : x.toFixed(d));
const pctOff = (r: number) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`;

function cell(xs: number[], fmt: (x: number) => string): string {
  const m = median(xs);
  if (m === null) return '—';
  return xs.length > 1 ? `${fmt(m)} [${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}]` : fmt(m);
}

const CERTAINTY_TEXT = {
  inside: ', the interval inside the band',
  outside: ', the interval outside the band',
  undecided: ' (the interval reaches both sides of the band edge: within noise of it)',
  none: '',
} as const;

export function verdictLine(s: Series, v: Verdict): string {
  const label = `${s.server} c=${s.connections} ${METRIC_LABEL[v.metric]}`;
  if (v.ratio === null) return `- ${label}: no ratio (a client produced no figures)`;
  const range = v.roundRange ? `, per round ${fix(v.roundRange[0])}–${fix(v.roundRange[1])}` : '';
  const ci = v.interval ? `, ${Math.floor(v.interval.coverage * 100)}% interval of the median ${fix(v.interval.lo)}–${fix(v.interval.hi)}` : '';
  const outcome = v.within ? `within ${v.tolerance * 100}%` : `**outside ${v.tolerance * 100}%**`;
  const tag = v.applies ? (v.within ? 'target met' : '**target missed**') : 'reported, no target';
  return `- ${label}: harness ÷ C = ${fix(v.ratio)} (${pctOff(v.ratio)}${range}${ci}) — ${outcome}: ${tag}${CERTAINTY_TEXT[v.certainty ?? 'none']}`;
}

function seriesTable(s: Series, clientThreads: number): string[] {
  const lines = [
    `### ${s.server}, c = ${s.connections}`,
    '',
    '| client | throughput (req/s) | p50 (µs) | p90 (µs) | p99 (µs) | p99.9 (µs) | max (µs) | p99 CO-corr. (µs) | client CPU (cores) | server CPU (cores) | errors | active conns |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const names: [ClientName, string][] = [
    ['harness', `harness (${clientThreads} thread${clientThreads === 1 ? '' : 's'})`],
    ['c', CLIENT_LABEL.c],
    ['node', CLIENT_LABEL.node],
  ];
  for (const [k, name] of names) {
    const rs = s.runs[k];
    if (!rs.length && k === 'node') continue;
    const cores = rs.flatMap((r) => (r.clientCores === null ? [] : [r.clientCores]));
    const active = rs.flatMap((r) => (r.activeConnections === null ? [] : [r.activeConnections]));
    const server = rs.flatMap((r) => (r.serverCores === null ? [] : [r.serverCores]));
    lines.push(
      `| ${name} | ${cell(rs.map((r) => r.throughput), int)} | ${cell(rs.map((r) => r.p50Us), us)} | ${cell(rs.map((r) => r.p90Us), us)} | ${cell(rs.map((r) => r.p99Us), us)} | ${cell(rs.map((r) => r.p999Us), us)} | ${cell(rs.map((r) => r.maxUs), us)} | ${cell(values(rs, 'p99co'), us)} | ${cell(cores, (x) => x.toFixed(2))} | ${server.length ? cell(server, (x) => x.toFixed(2)) : 'n/a'} | ${rs.reduce((a, r) => a + r.errors, 0)} | ${active.length ? cell(active, int) : 'n/a'} |`,
    );
  }
  const [t, p, pc] = verdicts(s);
  const p50 = ratio(median(s.runs.harness.map((r) => r.p50Us)), median(s.runs.c.map((r) => r.p50Us)));
  lines.push(`| **harness ÷ C** | **${fix(t!.ratio)}** | ${fix(p50)} | | **${fix(p!.ratio)}** | | | **${fix(pc!.ratio)}** | | | | |`);
  if (s.runs.node.length) {
    const [nt, np, npc] = compare(s, 'node', 'c');
    const n50 = ratio(median(s.runs.node.map((r) => r.p50Us)), median(s.runs.c.map((r) => r.p50Us)));
    lines.push(`| bare Node ÷ C | ${fix(nt!.ratio)} | ${fix(n50)} | | ${fix(np!.ratio)} | | | ${fix(npc!.ratio)} | | | | |`);
  }
  const bound = s.runs.harness.filter((r) => r.boundBy);
  if (bound.length) lines.push('', `Harness says it was client-bound in ${bound.length} of ${s.runs.harness.length} runs: ${[...new Set(bound.map((r) => r.boundBy))].join('; ')}.`);
  return lines;
}

function floorSection(series: Series[]): string[] {
  const lines = series.map(floorLine).filter((x): x is string => x !== null);
  if (!lines.length) return [];
  return [
    '## Whose gap: the bare Node floor',
    '',
    '`bench/validate/node-client.mjs` does the C client\'s job in the fewest lines of plain Node (same',
    'counting, exact samples, no histogram, no accounting beyond the C client\'s). Bare Node ÷ C is what',
    'any Node load generator pays on this machine; harness ÷ bare Node is what ours adds on top.',
    '',
    ...lines,
    '',
  ];
}

export function renderReport(run: ValidateRun): string {
  const st = run.settings;
  const all = run.series.flatMap((s) => verdicts(s).map((v) => ({ s, v })));
  const targeted = all.filter((x) => x.v.applies);
  const met = targeted.filter((x) => x.v.within).length;
  const count = (c: Verdict['certainty']) => targeted.filter((x) => x.v.certainty === c).length;
  const sure = targeted.some((x) => x.v.certainty) ? ` (intervals: ${count('inside')} inside the band, ${count('outside')} outside, ${count('undecided')} within noise of its edge)` : '';
  const lines = [
    '# Load generator vs an independent C client',
    '',
    'Does the benchmark measure the server or itself? The same servers, each fresh per run, driven in',
    'interleaved rounds by the load generator (`bench/loadgen/`, via `runCell`) and by',
    '`bench/validate/echo-client.c` (one thread, epoll, exact per-request latencies), with the same',
    'CPU placement for both. Closed loop, one 64-byte ECHO in flight per connection.',
    '',
    `- **Date:** ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC (${Math.round(run.wallMs / 1000)} s)`,
    `- **Commit:** \`${run.commit.short || '?'}\`${run.commit.dirty ? ' (working tree dirty)' : ''}`,
    `- **Machine:** ${run.machine}; Node ${run.node}; ${run.cc}; 1-min load average ${run.loadAvg[0].toFixed(2)} before, ${run.loadAvg[1].toFixed(2)} after (this run adds about 1–2)`,
    `- **Command:** \`${run.command}\``,
    `- **Settings:** ${st.rounds} round${st.rounds === 1 ? '' : 's'}, ${st.warmupMs / 1000} s warm-up + ${st.durationMs / 1000} s window per run, ${st.payloadBytes}-byte ECHO`,
    `- **Placement:** \`--cpus ${st.placement}\`${st.placement !== 'none' && !st.taskset ? ' (taskset not found: not applied)' : ''} (server pinned by startTarget, C client by \`taskset -c\`, the harness's process by runCell); **harness client threads:** ${st.clientThreads}; **busy-polling:** ${st.busyPoll ? 'both clients (each on a CPU of its own: neither sleeps in epoll_wait during a run, so no answer waits for a client to be woken; client CPU is then its whole core)' : 'neither (each sleeps in epoll_wait when it has nothing to do)'}`,
    `- **Targets:** harness within ${TARGETS.throughput * 100}% of the C client on throughput and within ${TARGETS.p99 * 100}% on p99 — as measured, and after the coordinated-omission correction \`make bench\` publishes (applied to the C client's exact samples the same way) — for ${TARGET_SERVERS.join(', ')} at every c; the models are reported too.`,
    '',
    `## Verdicts: ${targeted.length ? `${met} of ${targeted.length} targets met${sure}` : 'no targeted series ran'}`,
    '',
    'Each ratio is the median of the per-round ratios (the clients of one round run back to back, so',
    "the machine's drift between rounds cancels), with their range and a distribution-free interval",
    'of that median (order statistics; ≥ 95% from 6 rounds on). A verdict whose interval reaches both',
    "sides of the band's edge is the median's, but the rounds could not settle it.",
    '',
    ...all.map(({ s, v }) => verdictLine(s, v)),
    '',
    ...floorSection(run.series),
    '## Figures',
    '',
    'Median over rounds [min–max]. Throughput counts correct answers to requests sent inside the window.',
    'Client CPU is the client process (user + system) over the window ÷ its length. Sleeping, near 1.0',
    'means the load generator, not the server, sets the pace; busy-polling it is always about 1.0 (the',
    "harness's own busy time, non-idle turns of its loop, is what its client-bound verdict uses).",
    "Server CPU is the server's process tree over the window (/proc): it says whether a client kept the",
    'server busy. Where the C client holds the server near a full core and the harness leaves it',
    'waiting, the throughput gap is the harness\'s: the two clients measured the same server.',
    '',
  ];
  for (const s of run.series) lines.push(...seriesTable(s, st.clientThreads), '');
  lines.push(
    '## How the two clients count',
    '',
    '- Both: a request counts when it is *sent* inside the window and answered correctly (every byte',
    '  checked); latency = answer − send; no new request after the window, answers to in-window',
    '  requests awaited for a grace period.',
    '- The C client keeps every latency and sorts them (nearest-rank percentiles); the harness uses',
    '  HDR histograms (3 significant digits). Both add a request from the warm-up still waiting at',
    '  window end as a sample of its wait, and count connections that got any answer inside the',
    '  window ("active conns").',
    '- "CO-corrected": HdrHistogram\'s closed-loop correction at the raw median as the expected',
    '  interval (each sample v also adds v − i, v − 2i, … ≥ i), what `make bench` reports as latency.',
    '  It multiplies every stall by stall ÷ interval, so a client\'s own pauses weigh far more there.',
    '',
  );
  if (run.failures.length) lines.push('## Runs that failed', '', ...run.failures.map((f) => `- ${f}`), '');
  lines.push('## Per-round figures', '', '| round | server | c | client | req/s | p50 µs | p99 µs | max µs | p99 CO-corr. µs | client cores | server cores |', '|--:|---|--:|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const s of run.series) {
    for (const k of CLIENTS) {
      for (const r of s.runs[k]) {
        lines.push(`| ${r.round} | ${s.server} | ${s.connections} | ${CLIENT_LABEL[k]} | ${int(r.throughput)} | ${us(r.p50Us)} | ${us(r.p99Us)} | ${us(r.maxUs)} | ${r.p99CoUs === null ? '—' : us(r.p99CoUs)} | ${fix(r.clientCores)} | ${fix(r.serverCores)} |`);
      }
    }
  }
  lines.push('', 'Reproduce: `make bench-validate` (flags: `make bench-validate BENCH_VALIDATE_ARGS=--help`).', '');
  return lines.join('\n');
}

/** The report when there is no C compiler: nothing was measured, and it says so. */
export function renderNoCompiler(startedAt: string, command: string): string {
  return [
    '# Load generator vs an independent C client',
    '',
    `- **Date:** ${startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    `- **Command:** \`${command}\``,
    '',
    'Not run: no C compiler (`cc`, `gcc` or `clang`) on this machine, so `bench/validate/echo-client.c`',
    'could not be built. Install one (e.g. `apt-get install gcc`) and run `make bench-validate` again.',
    '',
  ].join('\n');
}
