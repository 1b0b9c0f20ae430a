// Winners and claims that respect noise (bench/report/noise.ts, verdicts.ts): a model wins only
// where its range over rounds clears the runner-up's; overlapping ranges are a tie within noise
// naming the tied models; a cell that starved a connection never wins and is called out; a
// client-bound cell's p99 is not used; one round is marked as not tested against noise.
import { describe, expect, it } from 'vitest';
import type { CellResult } from '../../bench/results.ts';
import { aggregateRounds } from '../../bench/report/aggregate.ts';
import { claimVerdict, winnerLine } from '../../bench/report/verdict-text.ts';
import { multiplexes } from '../../bench/report/model-facts.ts';
import { clears, compare, standing } from '../../bench/report/noise.ts';
import { blockingClaim, multiplexClaim, winnerOf, type Winner } from '../../bench/report/verdicts.ts';
import { cell, rounds, syntheticRun } from './fixtures/synthetic-run.ts';

const G = { workload: 'echo-64B', connections: 8 };
const judge = (cells: CellResult[]) => {
  const r = syntheticRun(cells);
  const w = winnerOf(r, G)!;
  return { r, w, line: winnerLine(r, w) };
};
const asThroughput = (w: Winner) => {
  if (w.kind !== 'throughput') throw new Error(`expected a throughput winner, got ${w.kind}`);
  return w;
};

describe('clears', () => {
  it("higher is better: the better's lowest round above the other's highest", () => {
    expect(clears({ median: 10, min: 9, max: 11, n: 3 }, { median: 8, min: 7, max: 8.9, n: 3 }, true)).toBe(true);
    expect(clears({ median: 10, min: 9, max: 11, n: 3 }, { median: 8, min: 7, max: 9, n: 3 }, true)).toBe(false);
    expect(compare({ median: 10, min: 9, max: 11, n: 3 }, { median: 8, min: 7, max: 9.5, n: 3 }, true)).toBe('tie');
  });
  it("lower is better: the better's highest round below the other's lowest", () => {
    expect(clears({ median: 1, min: 0.9, max: 1.1, n: 3 }, { median: 2, min: 1.2, max: 3, n: 3 }, false)).toBe(true);
    expect(compare({ median: 2, min: 1.2, max: 3, n: 3 }, { median: 1, min: 0.9, max: 1.1, n: 3 }, false)).toBe('worse');
  });
});

describe('which model wins where', () => {
  it('ranges that overlap: a tie within noise naming the tied models, not a winner', () => {
    const { w, line } = judge([...rounds({ server: 'event-loop', throughput: [40_000, 42_000, 44_000] }), ...rounds({ server: 'process-pool', throughput: [39_000, 41_000, 43_000] }), ...rounds({ server: 'thread', throughput: [20_000, 21_000, 22_000] })]);
    const t = asThroughput(w);
    expect(t.winner.server).toBe('event-loop');
    expect(t.standing.tiedWith.map((c) => c.server)).toEqual(['process-pool']);
    expect(line).toContain('**tie within noise**: **event-loop** 42,000 (40,000–44,000) req/s, **process-pool** 41,000 (39,000–43,000) req/s');
    expect(line).not.toContain('thread 2');
    expect(line).not.toContain('one round');
  });

  it('ranges that clear: a winner, with the runner-up', () => {
    const { w, line } = judge([...rounds({ server: 'event-loop', throughput: [40_000, 42_000, 44_000] }), ...rounds({ server: 'process-pool', throughput: [36_000, 37_000, 39_999] })]);
    const t = asThroughput(w);
    expect([t.winner.server, t.next?.server, t.standing.tiedWith]).toEqual(['event-loop', 'process-pool', []]);
    expect(line).toMatch(/^- \*\*echo-64B c=8\*\*: \*\*event-loop\*\* 42,000 \(40,000–44,000\) req\/s \(1\.14× process-pool, 37,000 \(36,000–39,999\) req\/s; the ranges clear\) — /);
    expect(line).not.toContain('tie');
  });

  it('a starved cell with the best throughput does not win, and is called out', () => {
    const { w, line } = judge([...rounds({ server: 'thread-pool', throughput: [90_000, 91_000, 92_000], starved: 7 }), ...rounds({ server: 'event-loop', throughput: [40_000, 42_000, 44_000] }), ...rounds({ server: 'thread', throughput: [20_000, 21_000, 22_000] })]);
    const t = asThroughput(w);
    expect(t.winner.server).toBe('event-loop');
    expect(t.next?.server).toBe('thread');
    expect(t.standing.starved.map((c) => c.server)).toEqual(['thread-pool']);
    expect(line).toContain('**never the winner — starved connections**: thread-pool: 7 of 8 connections starved in every round, 91,000 req/s from the connections it served');
  });

  it('every model starved: no winner', () => {
    const { w, line } = judge(rounds({ server: 'thread-pool', throughput: [90_000, 91_000], starved: 1 }));
    expect(w.kind).toBe('none');
    expect(line).toMatch(/^- \*\*echo-64B c=8\*\*: \*\*no winner\*\*: every model starved some connection; \*\*never the winner/);
  });

  it("a client-bound cell's throughput counts with the mark; its p99 is not used", () => {
    const closed = judge([...rounds({ server: 'event-loop', throughput: [40_000, 42_000, 44_000], boundBy: 'client saturated: a load thread used 0.95 cores' }), ...rounds({ server: 'thread', throughput: [20_000, 21_000, 22_000] })]);
    expect(asThroughput(closed.w).winner.server).toBe('event-loop');
    expect(closed.line).toContain('**event-loop** 42,000 (40,000–44,000) req/s ‡');

    // Open loop: the lowest p99 wins, but not a client-bound one, however low.
    const open = { workload: 'echo-64B-open', connections: 32 };
    const cells = [
      ...rounds({ server: 'event-loop', ...open, throughput: [1000, 1000, 1000], ratePerSec: 1000, p99: [100, 110, 120], boundBy: 'client loop delay p99 90 µs is 80% of the measured p99 110 µs' }),
      ...rounds({ server: 'process-pool', ...open, throughput: [1000, 1000, 1000], ratePerSec: 1000, p99: [500, 550, 600] }),
      ...rounds({ server: 'thread', ...open, throughput: [1000, 1000, 1000], ratePerSec: 1000, p99: [900, 950, 1000] }),
    ];
    const r = syntheticRun(cells);
    const w = winnerOf(r, open)!;
    expect(w.kind === 'open' && [w.winner.server, w.next?.server, w.standing.clientBound.map((c) => c.server)]).toEqual(['process-pool', 'thread', ['event-loop']]);
    expect(winnerLine(r, w)).toContain('p99 not judged (‡ client-bound): event-loop');
    expect(winnerLine(r, w)).toContain('**process-pool** (1,000 req/s offered, p99 550 µs (500–600)');
  });

  it('one round: a winner, marked as not tested against noise', () => {
    const { w, line } = judge([cell({ server: 'event-loop', throughput: 42_000 }), cell({ server: 'thread', throughput: 41_900 })]);
    expect(w.standing.untested).toBe(true);
    expect(line).toContain('(1.00× thread, 41,900 req/s)');
    expect(line).not.toContain('the ranges clear');
    expect(line.endsWith('_(one round: not tested against noise)_.')).toBe(true);
  });

  it('standing never ranks a starved cell first, whatever the figure', () => {
    const starved = aggregateRounds(rounds({ server: 'thread-pool', throughput: [1, 1], p99: [1, 1], starved: 3 }));
    const ok = aggregateRounds(rounds({ server: 'event-loop', throughput: [1, 1], p99: [1e6, 1e6] }));
    expect(standing([starved, ok], (c) => c.rounds.p99, { higher: false }).leader?.server).toBe('event-loop');
  });
});

describe('the HOWTO claims use the same rule', () => {
  const muxRun = (muxTp: number[], otherTp: number[]) =>
    syntheticRun([...rounds({ server: 'event-loop', throughput: muxTp }), ...rounds({ server: 'thread', throughput: otherTp }), ...rounds({ server: 'thread-pool', throughput: [1, 1, 1], flags: ['--connections-per-thread', '1'] })]);

  it('held only where the ranges clear; overlap → tie within noise', () => {
    expect(multiplexClaim(muxRun([50, 52, 54], [40, 41, 49])).outcome).toBe('held');
    expect(multiplexClaim(muxRun([50, 52, 54], [40, 45, 51])).outcome).toBe('tie within noise');
    expect(multiplexClaim(muxRun([40, 41, 42], [50, 52, 54])).outcome).toBe('not held');
  });

  it('one round: the verdict says it was not tested against noise', () => {
    const c = multiplexClaim(muxRun([50], [40]));
    expect(c.untested).toBe(true);
    expect(claimVerdict(c)).toBe('held (one round: not tested against noise)');
    expect(claimVerdict(multiplexClaim(muxRun([50, 52], [40, 41])))).toBe('held');
  });

  it('a cell is multiplexing by the options it ran with (thread-pool K > 1)', () => {
    const k4 = cell({ server: 'thread-pool', throughput: 1, flags: ['--connections-per-thread', '4'] });
    const k1 = cell({ server: 'thread-pool', throughput: 1, flags: ['--connections-per-thread', '1'] });
    expect([multiplexes(k4), multiplexes(k1)]).toEqual([true, false]);
    // Recorded before options were: the default of the time, K = 1, whatever today's default is.
    const old = { ...k4, params: { ...k4.params, serverCommand: [], serverOptions: undefined } };
    expect(multiplexes(old)).toBe(false);
    // The best "other" model is thread-pool K = 1 here; with K = 4 it is a multiplexing model.
    const r = syntheticRun([...rounds({ server: 'event-loop', throughput: [10, 10] }), ...rounds({ server: 'thread-pool', throughput: [50, 50], flags: ['--connections-per-thread', '4'] }), ...rounds({ server: 'thread', throughput: [5, 5] })]);
    expect(multiplexClaim(r).rows.map((x) => [x.mux.server, x.other.server, x.outcome])).toEqual([['thread-pool', 'thread', 'held']]);
  });

  it('a starved cell is never "the best" a claim compares with', () => {
    const r = syntheticRun([...rounds({ server: 'thread', throughput: [30, 31, 32] }), ...rounds({ server: 'thread-pool', throughput: [90, 90, 90], starved: 7, flags: ['--connections-per-thread', '1'] }), ...rounds({ server: 'event-loop', throughput: [33, 34, 35] })]);
    const b = blockingClaim(r);
    expect(b.rows.map((x) => [x.best.server, x.outcome])).toEqual([['event-loop', 'held']]);
    expect(b.starved.map((c) => c.server)).toEqual(['thread-pool']);
  });
});
