// `make bench-switch`: live changes under load, measured. 64 closed-loop sessions whose
// connections carry 25 requests each (harness/sessions.ts) run for 10 s against a real server
// while (a) the model is switched event-loop → process-pool → thread-pool → event-loop →
// process-pool every 2 s, (b) a process-pool and (c) a thread-pool are restarted twice. Each
// scenario runs `--rounds` times, interleaved; results/switch-under-load.md gives answers per
// second, the p99 inside the change windows beside the steady p99 (median and range over rounds),
// each change's start time, and every refusal, loss and ERROR frame (0 is the goal).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { adminUrlOf, startModelServer, type ServerProcess } from '../../harness/server.ts';
import { percentileIn, runSessions, type SessionsResult } from '../../harness/sessions.ts';
import { parseOrUsage, runMain } from '../cli-args.ts';
import { spread } from '../report/aggregate.ts';
import { lat, num, ranged, latRanged } from '../report/format.ts';
import { git } from '../git.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Scenario {
  name: string;
  model: string;
  flags: string[];
  /** At `at` ms into the load: POST `path` with `body`. */
  changes: { at: number; path: '/switch' | '/restart'; body?: Record<string, unknown> }[];
}

const SCENARIOS: Scenario[] = [
  {
    name: 'switch event-loop → process-pool → thread-pool → event-loop → process-pool, every 2 s',
    model: 'event-loop',
    flags: [],
    changes: [
      { at: 2000, path: '/switch', body: { model: 'process-pool', processes: 2 } },
      { at: 4000, path: '/switch', body: { model: 'thread-pool', threads: 2 } },
      { at: 6000, path: '/switch', body: { model: 'event-loop' } },
      { at: 8000, path: '/switch', body: { model: 'process-pool', processes: 2 } },
    ],
  },
  { name: 'process-pool ×2: rolling restart (one child at a time) at 3 s and 6.5 s', model: 'process-pool', flags: ['--processes', '2'], changes: [{ at: 3000, path: '/restart' }, { at: 6500, path: '/restart' }] },
  { name: 'thread-pool ×2: rolling restart (one thread at a time) at 3 s and 6.5 s', model: 'thread-pool', flags: ['--threads', '2'], changes: [{ at: 3000, path: '/restart' }, { at: 6500, path: '/restart' }] },
];

interface Round {
  scenario: string;
  round: number;
  result: Omit<SessionsResult, 'samples'>;
  answersPerSec: number;
  p99ChangeUs: number | null;
  p99SteadyUs: number | null;
  changes: { path: string; status: number; startMs: number | null; from: number; to: number; error?: string }[];
}

async function runScenario(s: Scenario, round: number, o: { sessions: number; durationMs: number }): Promise<Round> {
  const server: ServerProcess = await startModelServer({ model: s.model, flags: s.flags }, ['--admin-port', '0', '--drain-timeout', '30'], { startTimeoutMs: 30_000 });
  try {
    const url = adminUrlOf(server);
    const t0 = performance.now();
    const load = runSessions({ port: server.port, sessions: o.sessions, requestsPerConnection: 25, durationMs: o.durationMs });
    const changes: Round['changes'] = [];
    for (const c of s.changes) {
      const wait = c.at - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const from = performance.now() - t0;
      const res = await fetch(`${url}${c.path}`, { method: 'POST', body: c.body ? JSON.stringify(c.body) : undefined, signal: AbortSignal.timeout(60_000) });
      const json = (await res.json()) as { startMs?: number; ms?: number; error?: string };
      changes.push({ path: c.path, status: res.status, startMs: json.startMs ?? json.ms ?? null, from, to: performance.now() - t0, error: json.error });
    }
    const r = await load;
    const inChange = ([t]: [number, number]) => changes.some((c) => t >= c.from && t < c.to + 1000);
    const during = r.samples.filter(inChange);
    const steady = r.samples.filter((x) => x[0] > 1000 && !inChange(x));
    const { samples, ...rest } = r;
    return { scenario: s.name, round, result: rest, answersPerSec: r.ok / (o.durationMs / 1000), p99ChangeUs: percentileIn(during, 99), p99SteadyUs: percentileIn(steady, 99), changes };
  } finally {
    await server.stop(35_000, { killLeftovers: true });
  }
}

function render(rounds: Round[], o: { sessions: number; durationMs: number; rounds: number; commit: string; startedAt: string }): string {
  const L: string[] = [];
  L.push('# Live changes under load');
  L.push('');
  L.push(`Commit \`${o.commit}\`, ${o.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${os.availableParallelism()} CPUs, Node ${process.version}. Command: \`make bench-switch\`.`);
  L.push(`Load: ${o.sessions} closed-loop sessions on 127.0.0.1, each connection carrying 25 ECHO requests of 64 B (every answer checked) then a new`);
  L.push(`connection, for ${o.durationMs / 1000} s (harness/sessions.ts). Changes go through the admin endpoint (POST /switch, POST /restart).`);
  L.push('"During changes" is from each POST until 1 s after it answered; "steady" is the rest after the first second. Median of');
  L.push(`${o.rounds} rounds, range in brackets. The client shares the machine's CPUs with the server, so the figures are the pair's.`);
  L.push('');
  L.push('| scenario | answers/s | p99 during changes | p99 steady | change took (ms: new generation ready, or every child replaced) | refused (E_BUSY) | lost | ERROR frames | failed connects |');
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const name of [...new Set(rounds.map((r) => r.scenario))]) {
    const rs = rounds.filter((r) => r.scenario === name);
    const sum = (f: (r: Round) => number) => rs.reduce((a, r) => a + f(r), 0);
    const errors = sum((r) => Object.values(r.result.errorFrames).reduce((a, b) => a + b, 0));
    const busy = sum((r) => r.result.errorFrames.E_BUSY ?? 0);
    const starts = spread(rs.flatMap((r) => r.changes.map((c) => c.startMs)));
    L.push(`| ${name} | ${ranged(spread(rs.map((r) => r.answersPerSec)))} | ${latRanged(spread(rs.map((r) => r.p99ChangeUs)))} | ${latRanged(spread(rs.map((r) => r.p99SteadyUs)))} | ${ranged(starts)} | ${busy} | ${sum((r) => r.result.lost)} | ${errors} | ${sum((r) => r.result.connectFailed)} |`);
  }
  const failed = rounds.flatMap((r) => r.changes.filter((c) => c.status !== 200).map((c) => `${r.scenario} round ${r.round}: ${c.path} → ${c.status} ${c.error ?? ''}`));
  L.push('');
  if (failed.length) L.push(`Changes that failed: ${failed.join('; ')}.`, '');
  const problems = rounds.map((r) => r.result.firstProblem).filter(Boolean);
  if (problems.length) L.push(`First problems seen: ${[...new Set(problems)].slice(0, 5).join('; ')}.`, '');
  L.push(`Per round (answers, connections, p99 during / steady): ${rounds.map((r) => `${r.scenario.split(':')[0]!.split(' ')[0]} r${r.round} ${num(r.result.ok)} / ${num(r.result.connections)} / ${lat(r.p99ChangeUs)} / ${lat(r.p99SteadyUs)}`).join('; ')}.`);
  return `${L.join('\n')}\n`;
}

async function main(): Promise<number> {
  const a = await parseOrUsage(
    yargs(hideBin(process.argv))
      .scriptName('make bench-switch')
      .usage('make bench-switch [BENCH_SWITCH_ARGS="…"]\n\nLive model switches and rolling restarts under load; writes results/switch-under-load.md (+ .json). About 2 minutes.')
      .option('rounds', { type: 'number', default: 3, describe: 'rounds of every scenario, interleaved' })
      .option('sessions', { type: 'number', default: 64, describe: 'closed-loop sessions' })
      .option('duration', { type: 'number', default: 10, describe: 'seconds of load per round' })
      .option('out', { type: 'string', default: path.join(ROOT, 'results'), describe: 'where the report goes' }),
    'make bench-switch',
  );
  if (!a) return 2;
  const o = { sessions: a.sessions as number, durationMs: (a.duration as number) * 1000, rounds: a.rounds as number, commit: git(['rev-parse', '--short', 'HEAD']), startedAt: new Date().toISOString() };
  const rounds: Round[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const s of SCENARIOS) {
      process.stderr.write(`bench-switch: round ${round}/${o.rounds}: ${s.name}\n`);
      rounds.push(await runScenario(s, round, o));
    }
  }
  mkdirSync(a.out as string, { recursive: true });
  writeFileSync(path.join(a.out as string, 'switch-under-load.json'), `${JSON.stringify({ ...o, rounds }, null, 1)}\n`);
  const md = render(rounds, o);
  writeFileSync(path.join(a.out as string, 'switch-under-load.md'), md);
  process.stdout.write(md);
  const bad = rounds.some((r) => r.result.lost > 0 || Object.keys(r.result.errorFrames).length > 0 || r.changes.some((c) => c.status !== 200));
  return bad ? 1 : 0;
}

if (import.meta.main) await runMain(main, 'make bench-switch');
