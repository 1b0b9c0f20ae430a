// A cell's rounds as one (bench/report/aggregate.ts): medians and ranges, the worst round for
// counts, every client-bound reason kept, and results from before rounds read as one round with
// the new figures unknown.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aggregateCells, aggregateRounds, aggregated, isClientBound, isStarved, roundsOfRun, spread } from '../../bench/report/aggregate.ts';
import { latRanged, ranged } from '../../bench/report/format.ts';
import type { RunResults } from '../../bench/results.ts';
import { cell, rounds, syntheticRun } from './fixtures/synthetic-run.ts';

const SCHEMA1: RunResults = JSON.parse(readFileSync(new URL('./fixtures/bench-results.json', import.meta.url), 'utf8'));

describe('three rounds of one cell', () => {
  const three = [
    cell({ server: 'event-loop', round: 1, throughput: 41_000, p50: 120, p99: 900, cpuUsPerRequest: 9, cores: 0.7, rssBytes: 100e6 }),
    cell({ server: 'event-loop', round: 2, throughput: 39_010, p50: 150, p99: 1_400, cpuUsPerRequest: 11, cores: 0.9, rssBytes: 104e6, boundBy: 'client saturated: a load thread used 0.95 cores' }),
    cell({ server: 'event-loop', round: 3, throughput: 43_120, p50: 110, p99: 800, cpuUsPerRequest: 8, cores: 0.6, rssBytes: 102e6, starved: 2, fairness: 0.7 }),
  ];
  const a = aggregateRounds(three);

  it('median and range of throughput, p50, p99, CPU/request, cores and RSS', () => {
    expect(a.rounds.throughput).toEqual({ median: 41_000, min: 39_010, max: 43_120, n: 3 });
    expect(a.rounds.p50).toEqual({ median: 120, min: 110, max: 150, n: 3 });
    expect(a.rounds.p99).toEqual({ median: 900, min: 800, max: 1_400, n: 3 });
    expect(a.rounds.cpuUsPerRequest).toEqual({ median: 9, min: 8, max: 11, n: 3 });
    expect(a.rounds.cores).toEqual({ median: 0.7, min: 0.6, max: 0.9, n: 3 });
    expect(a.rounds.peakRssBytes).toEqual({ median: 102e6, min: 100e6, max: 104e6, n: 3 });
    // The cell itself carries the medians, so every rule that reads a cell reads them.
    expect([a.throughput, a.latencyUs?.p99, a.serverTree?.cpuUsPerRequest, a.serverTree?.cores]).toEqual([41_000, 900, 9, 0.7]);
    expect(a.rounds.ran).toBe(3);
  });

  it('served/starved from the worst round, fairness the median', () => {
    expect(a.rounds.connections).toEqual({ offered: 8, served: 6, starved: 2, round: 3, starvedRounds: 1 });
    expect(isStarved(a)).toBe(true);
    expect(a.rounds.fairness?.median).toBe(1);
    expect(a.fairness).toBe(1);
  });

  it('client-bound if any round was, with each reason and its round', () => {
    expect(isClientBound(a)).toBe(true);
    expect(a.rounds.clientBound).toEqual([{ round: 2, reason: 'client saturated: a load thread used 0.95 cores' }]);
  });

  it('rounds in any order, ids grouped', () => {
    const cells = aggregateCells([three[2]!, cell({ server: 'thread', throughput: 5 }), three[0]!, three[1]!]);
    expect(cells.map((c) => [c.id, c.rounds.ran])).toEqual([
      ['event-loop/echo-64B/c8', 3],
      ['thread/echo-64B/c8', 1],
    ]);
    expect(cells[0]!.rounds.ok.map((c) => c.round)).toEqual([1, 2, 3]);
  });

  it('a failed round is left out of the figures and counted', () => {
    const b = aggregateRounds([...three.slice(0, 2), cell({ server: 'event-loop', round: 3, throughput: 0, ok: false })]);
    expect(b.ok).toBe(true);
    expect(b.rounds.failed.map((c) => c.round)).toEqual([3]);
    expect(b.rounds.throughput).toEqual({ median: 40_005, min: 39_010, max: 41_000, n: 2 });
  });

  it('tables print the median and the range', () => {
    expect(ranged(a.rounds.throughput)).toBe('41,000 (39,010–43,120)');
    expect(latRanged(a.rounds.p99)).toBe('900 µs (800–1400)');
    expect(latRanged({ median: 1_290_000, min: 1_200_000, max: 1_300_000, n: 2 })).toBe('1.29 s (1.20–1.30)');
    expect(ranged({ median: 5, min: 5, max: 5, n: 1 })).toBe('5');
  });
});

describe('spread', () => {
  it('skips rounds without the figure; none → null', () => {
    expect(spread([3, null, 1, undefined, NaN, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1])).toEqual({ median: 2.5, min: 1, max: 4, n: 2 });
    expect(spread([null])).toBeNull();
  });
});

describe('schema 1 results (before rounds)', () => {
  it('every cell is one round; connections, fairness and client checks unknown, not zero', () => {
    const cells = aggregated(SCHEMA1);
    expect(cells.length).toBe(SCHEMA1.cells.length);
    expect(roundsOfRun(SCHEMA1)).toBe(1);
    for (const c of cells) {
      expect(c.rounds.ran).toBe(1);
      expect(c.rounds.connections).toBeNull();
      expect(isStarved(c)).toBe(false);
      expect(isClientBound(c)).toBe(false);
    }
    expect(cells.find((c) => c.ok)!.rounds.throughput?.n).toBe(1);
  });

  it('a run says how many rounds it asked for', () => {
    expect(roundsOfRun(syntheticRun(rounds({ server: 'event-loop', throughput: [1, 2] })))).toBe(2);
  });
});
