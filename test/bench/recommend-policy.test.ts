// recommend's rules on synthetic figures: which models get measured for a given profile, who is
// eligible, and when the data names a winner rather than a tie.
import { describe, expect, it } from 'vitest';
import type { HandlerProfile } from '../../bench/mix/profile.ts';
import { candidates, decide, evidenceSentence, judge } from '../../bench/recommend/policy.ts';
import { aggregateCells } from '../../bench/report/aggregate.ts';
import type { CellResult } from '../../bench/results.ts';
import { cell, type CellFigures } from './fixtures/synthetic-run.ts';

const profile = (syncUs: number): HandlerProfile => ({
  kinds: [],
  weighted: { cpuUsPerRequest: syncUs, wallUsMean: syncUs, syncUsP50: syncUs, syncUsMax: syncUs * 2 },
  memoryPerConnectionBytes: 4096,
  exited: null,
});

/** A mix cell over rounds: one figure set per round. */
function mixCells(server: string, connections: number, rounds: Omit<CellFigures, 'server'>[]): CellResult[] {
  return rounds.map((f, i) => {
    const c = cell({ ...f, server, connections, round: i + 1 });
    return { ...c, workload: 'mix', id: `${server}/mix/c${connections}` };
  });
}

const constraints = { p99Ms: null, memoryMb: null, cores: 2 };

describe('recommend policy', () => {
  it('a light handler: event-loop, thread-pool and process-pool; a heavy one adds offload', () => {
    expect(candidates(profile(10), 2).map((c) => c.model)).toEqual(['event-loop', 'thread-pool', 'process-pool']);
    const heavy = candidates(profile(3000), 4);
    expect(heavy.map((c) => c.model)).toEqual(['event-loop', 'thread-pool', 'process-pool', 'offload']);
    expect(heavy.find((c) => c.model === 'process-pool')!.flags).toEqual(['--processes', '4']);
    expect(heavy[0]!.why).toMatch(/caps near 333 req\/s/);
  });

  it('a clear win: the leader range clears the runner-up', () => {
    const cells = aggregateCells([
      ...mixCells('event-loop', 32, [{ throughput: 300 }, { throughput: 320 }, { throughput: 310 }]),
      ...mixCells('process-pool', 32, [{ throughput: 610 }, { throughput: 640 }, { throughput: 630 }]),
    ]);
    const cands = candidates(profile(3000), 2).filter((c) => ['event-loop', 'process-pool'].includes(c.model));
    const j = judge(cands, cells, constraints, null);
    const d = decide(j);
    expect(d.chosen!.model).toBe('process-pool');
    expect(d.runnerUp!.model).toBe('event-loop');
    expect(d.tiedWith).toEqual([]);
    expect(d.rule).toMatch(/clears event-loop/);
    expect(evidenceSentence(profile(3000), d, j, cands)).toMatch(/holds its thread 3\.0 ms .*caps near 333 req\/s.*process-pool ×2 measured 610–640 req\/s/);
  });

  it('overlapping ranges: a tie, broken by memory, and said so', () => {
    const cells = aggregateCells([
      ...mixCells('thread-pool', 32, [{ throughput: 600, rssBytes: 80e6 }, { throughput: 650, rssBytes: 80e6 }, { throughput: 620, rssBytes: 80e6 }]),
      ...mixCells('process-pool', 32, [{ throughput: 610, rssBytes: 150e6 }, { throughput: 660, rssBytes: 150e6 }, { throughput: 640, rssBytes: 150e6 }]),
    ]);
    const cands = candidates(profile(3000), 2).filter((c) => ['thread-pool', 'process-pool'].includes(c.model));
    const d = decide(judge(cands, cells, constraints, null));
    expect(d.chosen!.model).toBe('thread-pool'); // lower median throughput, but not separable, and less memory
    expect(d.tiedWith.map((x) => x.model)).toEqual(['process-pool']);
    expect(d.rule).toMatch(/tie within noise/);
  });

  it('constraints and faults make a model ineligible, with the reason; none eligible → no choice', () => {
    const cells = aggregateCells([
      ...mixCells('event-loop', 32, [{ throughput: 900, p99: 20_000 }, { throughput: 950, p99: 21_000 }]),
      ...mixCells('thread-pool', 32, [{ throughput: 800, starved: 3 }, { throughput: 810, starved: 3 }]),
      ...mixCells('process-pool', 32, [{ throughput: 700, errors: 5 }, { throughput: 700, errors: 5 }]),
    ]);
    const cands = candidates(profile(10), 2);
    const j = judge(cands, cells, { ...constraints, p99Ms: 5 }, null);
    expect(j.map((x) => x.eligible)).toEqual([false, false, false]);
    expect(j[0]!.reasons.join()).toMatch(/p99 .* > 5 ms/);
    expect(j[1]!.reasons.join()).toMatch(/starved 3 of 32/);
    expect(j[2]!.reasons.join()).toMatch(/5 errors/);
    expect(decide(j).chosen).toBeNull();
  });

  it('a model that answered differently from the others is never chosen', () => {
    const cells = aggregateCells([
      ...mixCells('event-loop', 32, [{ throughput: 100 }, { throughput: 110 }]),
      ...mixCells('thread-pool', 32, [{ throughput: 900 }, { throughput: 950 }]),
    ]);
    const cands = candidates(profile(10), 2).filter((c) => c.model !== 'process-pool');
    const consistency = { requests: 10, reference: 'event-loop', ok: false, models: [{ model: 'event-loop', answered: 10, wrong: 0, differ: 0, examples: [], error: null }, { model: 'thread-pool', answered: 10, wrong: 0, differ: 2, examples: ['request #3 …'], error: null }] };
    const d = decide(judge(cands, cells, constraints, consistency));
    expect(d.chosen!.model).toBe('event-loop');
  });
});
