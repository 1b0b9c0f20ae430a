// The report's rules on a recorded run: who wins each workload, what the HOWTO claims come to,
// and that every label with a concurrency level follows the cells (a run with --connections 4
// must say "c=4", never the defaults' c=16 or c=8).
//
// fixtures/bench-results.json is results/2026-11-30-0003-cf4f380/results.json cut down: no
// histograms or server command lines, echo-64B c=256 dropped. The other runs here are derived
// from it as the runner would have recorded them with other flags.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CellResult, RunResults } from '../../bench/results.ts';
import { groupName, shortName } from '../../bench/report/cells.ts';
import { renderMarkdown } from '../../bench/report/markdown.ts';
import { FORK_PER_CONNECTION, MULTIPLEXING, PROCESS_MODELS, THREAD_MODELS, THREAD_PER_CONNECTION } from '../../bench/report/model-facts.ts';
import { claimEvidence, claimVerdict, winnerLine } from '../../bench/report/verdict-text.ts';
import { claims, overall, winners, type Claim, type Winner } from '../../bench/report/verdicts.ts';
import { MODEL_NAMES } from '../../src/models/registry.ts';

const FIXTURE: RunResults = JSON.parse(readFileSync(new URL('./fixtures/bench-results.json', import.meta.url), 'utf8'));
const run = (): RunResults => structuredClone(FIXTURE);

/** The run `--workloads <names> --connections <to>` would have recorded, with the same figures. */
function atLevel(r: RunResults, names: string[], to: number): RunResults {
  r.cells = r.cells.filter((c) => names.includes(c.workload)).map((c) => ({ ...c, id: `${c.server}/${c.workload}/c${to}`, params: { ...c.params, connections: to } }));
  r.workloads = r.workloads.filter((w) => names.includes(w.name)).map((w) => ({ ...w, connections: [to] }));
  r.run.flags.connections = [to];
  return r;
}

const byGroup = (ws: Winner[]) => Object.fromEntries(ws.map((w) => [groupName(w.group), w]));
const claim = <K extends Claim['id']>(r: RunResults, id: K) => claims(r).find((c) => c.id === id) as Extract<Claim, { id: K }>;
const serversOf = (cells: CellResult[]) => cells.map((c) => c.server);

describe('model facts come from the registry', () => {
  it('families and per-connection start-up sort the models', () => {
    expect(THREAD_MODELS).toEqual(['thread', 'thread-pool', 'offload']);
    expect(PROCESS_MODELS).toEqual(['process', 'process-pool']);
    expect(FORK_PER_CONNECTION).toEqual(['process']);
    expect(THREAD_PER_CONNECTION).toEqual(['thread']);
    for (const m of MULTIPLEXING) expect(MODEL_NAMES).toContain(m);
  });
});

describe('winners on the recorded run', () => {
  const w = byGroup(winners(run()));

  it('one winner per group of model cells, with the rule of its workload', () => {
    expect(Object.keys(w)).toEqual(['echo-64B c=1', 'echo-64B c=32', 'echo-64KiB c=16', 'work-1ms c=16', 'sleep-10ms c=512', 'churn c=8', 'idle-10k c=16', 'echo-64B-open c=32']);
    expect(Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.kind === 'none' ? null : v.winner.server]))).toEqual({
      'echo-64B c=1': 'process',
      'echo-64B c=32': 'process-pool',
      'echo-64KiB c=16': 'process-pool',
      'work-1ms c=16': 'process-pool',
      'sleep-10ms c=512': 'process-pool',
      'churn c=8': 'event-loop',
      'idle-10k c=16': 'event-loop',
      'echo-64B-open c=32': 'event-loop',
    });
  });

  it('explains each win with data, not text', () => {
    // One round: the leader by a hair, marked as not tested against noise.
    const c1 = w['echo-64B c=1']!;
    expect(c1.kind === 'throughput' && c1.standing.untested && c1.next?.server).toBe('event-loop');
    const work = w['work-1ms c=16']!;
    expect(work.kind === 'throughput' && work.reason.kind).toBe('parallel');
    const churn = w['churn c=8']!;
    expect(churn.kind === 'throughput' && churn.reason.kind === 'connect-cost' && serversOf(churn.reason.slower)).toEqual(['process', 'process-pool', 'thread', 'thread-pool', 'offload']);
    const sleep = w['sleep-10ms c=512']!;
    expect(sleep.kind === 'throughput' && sleep.reason.kind === 'sleep' && sleep.reason.ideal).toBe(51_200);
    const idle = w['idle-10k c=16']!;
    expect(idle.kind === 'idle' && [idle.mostExpensive?.server, serversOf(idle.refusers)]).toEqual(['process', ['process', 'thread', 'thread-pool']]);
    const open = w['echo-64B-open c=32']!;
    expect(open.kind === 'open' && [open.offered, open.next?.server, serversOf(open.behind)]).toEqual([{ capacityShare: 0.5 }, 'process-pool', ['thread-pool']]);
  });
});

describe('the HOWTO claims on the recorded run', () => {
  const r = run();

  it('outcomes', () => {
    // One round: no range, so echo-64B c=1's 1% is taken as it stands (and the verdicts say so).
    expect(Object.fromEntries(claims(r).map((c) => [c.id, c.outcome]))).toEqual({ multiplex: 'depends', 'threads-for-work': 'depends', 'fork-overhead': 'held', 'blocking-ok': 'depends' });
    expect(claims(r).map(claimVerdict)).toEqual(['depends', 'depends', 'held', 'depends'].map((o) => `${o} (one round: not tested against noise)`));
  });

  it('the cells that decided them', () => {
    const mux = claim(r, 'multiplex');
    // thread-pool ran with one connection per thread then: not a multiplexing model in this run.
    expect(mux.rows.map((x) => [groupName(x.group), x.mux.server, x.other.server, x.outcome])).toEqual([
      ['echo-64B c=1', 'event-loop', 'process', 'not held'],
      ['echo-64B c=32', 'process-pool', 'thread-pool', 'held'],
      ['echo-64KiB c=16', 'process-pool', 'thread-pool', 'held'],
    ]);
    const threads = claim(r, 'threads-for-work');
    expect(threads.rows.map((x) => [x.bestThread.server, x.top.server, x.note])).toEqual([['thread-pool', 'process-pool', 'processes-too']]);
    const fork = claim(r, 'fork-overhead');
    expect(fork.rows[0]!.cpuRatio).toBeGreaterThan(900);
    expect(fork.idle.map((x) => groupName(x.group))).toEqual(['idle-10k c=16']);
    const blocking = claim(r, 'blocking-ok');
    expect(blocking.rows.map((x) => [groupName(x.group), x.outcome])).toEqual([
      ['echo-64B c=1', 'held'],
      ['echo-64B c=32', 'not held'],
      ['work-1ms c=16', 'not held'],
      ['sleep-10ms c=512', 'not held'],
    ]);
  });

  it('evidence names the levels the cells ran at', () => {
    const text = Object.fromEntries(claims(r).map((c) => [c.id, claimEvidence(r, c)]));
    expect(text['threads-for-work']).toMatch(/^work-1ms c=16: best thread model thread-pool 1,644 req\/s/);
    expect(text['fork-overhead']).toMatch(/^churn c=8: process 34 conn\/s .* idle-10k: process held 1,072 /);
    expect(text['blocking-ok']).toContain('echo-64B c=1: thread 97% of the best (process); echo-64B c=32: thread 39% of the best (process-pool); work-1ms: thread 45%');
  });

  it('a claim whose cells are missing is not tested, and says what is missing', () => {
    const noThread = run();
    noThread.cells = noThread.cells.filter((c) => c.server !== 'thread');
    expect(claimVerdict(claim(noThread, 'blocking-ok'))).toBe('not tested (the thread model is missing from this run)');
    const noEcho = atLevel(run(), ['churn'], 8);
    expect(claimVerdict(claim(noEcho, 'multiplex'))).toBe(`not tested (needs ${MULTIPLEXING.join(' or ')} and one other model)`);
  });
});

describe('--connections other than the defaults: labels follow the cells', () => {
  const r = atLevel(run(), ['work-1ms', 'churn', 'idle-10k', 'sleep-10ms'], 4);

  it('verdict lines and claims say c=4', () => {
    const lines = winners(r).map((w) => winnerLine(r, w));
    expect(lines.map((l) => /^- \*\*([^*]+)\*\*/.exec(l)![1])).toEqual(['work-1ms c=4', 'sleep-10ms c=4', 'churn c=4', 'idle-10k c=4']);
    const text = claims(r).map((c) => claimEvidence(r, c)).join('\n');
    expect(text).toContain('work-1ms c=4: best thread model');
    expect(text).toContain('churn c=4: process');
    expect(text).toContain('idle-10k c=4: process held');
    expect(text).toContain('sleep-10ms c=4: thread');
    expect(text).not.toMatch(/c=(16|8|512)\b/);
    // sleep-10ms's ceiling is 4 connections × 10 ms, not 512 × 10 ms.
    const sleep = winners(r).find((w) => w.group.workload === 'sleep-10ms')!;
    expect(sleep.kind === 'throughput' && sleep.reason.kind === 'sleep' && sleep.reason.ideal).toBe(400);
  });

  it('the standard single level keeps the short name; any other level shows it', () => {
    expect(shortName(run(), { workload: 'work-1ms', connections: 16 })).toBe('work-1ms');
    expect(shortName(r, { workload: 'work-1ms', connections: 4 })).toBe('work-1ms c=4');
    expect(shortName(run(), { workload: 'echo-64B', connections: 32 })).toBe('echo-64B c=32');
  });

  it('two levels are judged level by level, never one against the other', () => {
    const two = atLevel(run(), ['work-1ms'], 4);
    const hi = two.cells.map((c) => ({ ...c, id: c.id.replace('/c4', '/c64'), params: { ...c.params, connections: 64 }, throughput: (c.throughput ?? 0) * (c.server === 'event-loop' ? 1 : 0.5) }));
    two.cells.push(...hi);
    two.workloads[0]!.connections = [4, 64];
    const t = claim(two, 'threads-for-work');
    expect(t.rows.map((x) => [groupName(x.group), x.outcome, x.eventLoop.params.connections])).toEqual([
      ['work-1ms c=4', 'depends', 4],
      ['work-1ms c=64', 'not held', 64],
    ]);
    expect(t.outcome).toBe('depends');
  });

  it('--rate: the open loop was offered a fixed rate, not half of each capacity', () => {
    const fixed = run();
    fixed.run.flags.rate = 20_000;
    for (const c of fixed.cells) if (c.workload === 'echo-64B-open') c.params.ratePerSec = 20_000;
    const open = winners(fixed).find((w) => w.kind === 'open')!;
    expect(open.kind === 'open' && open.offered).toEqual({ fixedRate: 20_000 });
    expect(winnerLine(fixed, open)).toContain('each model offered 20,000 req/s (--rate)');
    expect(winnerLine(fixed, open)).not.toContain('half');
  });
});

describe('overall', () => {
  it('all alike → that outcome; mixed → depends; none → not tested', () => {
    expect(overall(['held', 'held'])).toBe('held');
    expect(overall(['not held'])).toBe('not held');
    expect(overall(['held', 'not held'])).toBe('depends');
    expect(overall([])).toBeNull();
  });
});

describe('the rendered Markdown (smoke)', () => {
  const md = renderMarkdown(run(), [{ file: 'throughput.svg', title: 'Throughput by model, per workload' }], 'run/');

  it('has every section and the table headers of the fixture', () => {
    for (const h of ['# switchboard benchmark — 2026-11-30-0003-cf4f380', '## Which model wins where, and why', '## Results by workload', "## The HOWTO's claims, tested", '## Charts', '## Micro-benchmarks (tinybench)', '## Validation (closing note)'])
      expect(md.split('\n')).toContain(h);
    expect(md).toContain('### echo-64B, c=1 — overhead and unloaded latency');
    expect(md).toContain('### idle-10k, c=16 + 10,000 idle — ');
    expect(md).toContain('| server | req/s | vs ref | p50 | p99 | p99.9 | max | CPU µs/req | server cores | client cores | peak RSS | served / offered | fairness | errors |');
    expect(md).toContain('| server | req/s | MB/s | vs ref | p50 |');
    expect(md).toContain('| server | conn/s | vs ref |');
    expect(md).toContain('| peak RSS | served / offered | fairness | idle held / refused | RSS per idle conn | errors |');
    expect(md).toContain('| server | offered → done req/s | vs ref |');
    expect(md).toContain('| claim | verdict | deciding cells |');
    expect(md).toContain('| codec case | frame bytes | frames/s | MB/s |');
    expect(md).toContain('"threads" are worker threads (thread, thread-pool, offload) and "a process per connection" is the `process` model.');
    expect(md).toContain('- [Throughput by model, per workload](run/throughput.svg)');
    expect(md).not.toContain('## Failed cells');
  });
});
