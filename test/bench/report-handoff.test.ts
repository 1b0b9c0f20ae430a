// The "hand-off costs" section on synthetic runs: ratios per round, both sides from the same
// round; met / median-only / not met; start-up goals against the reference rows; speed-up goals
// out of reach when the server had one CPU; nothing printed when nothing was measured.
import { describe, expect, it } from 'vitest';
import { ceilingText, floorText, handoffRows, handoffSection, hopText, serverCpuCount } from '../../bench/report/handoff.ts';
import { handoffTable } from '../../bench/report/tables.ts';
import { cell, syntheticRun } from './fixtures/synthetic-run.ts';

const row = (rows: ReturnType<typeof handoffRows>, start: string) => rows.find((x) => x.goal.what.startsWith(start))!;

describe('hand-off costs', () => {
  it('divides each round by the same round, and judges the range', () => {
    const cells = [1, 2, 3].flatMap((round) => [
      cell({ server: 'offload', workload: 'echo-64B', connections: 32, round, throughput: 1, cpuUsPerRequest: [30, 36, 42][round - 1] }),
      cell({ server: 'event-loop', workload: 'echo-64B', connections: 32, round, throughput: 1, cpuUsPerRequest: [15, 20, 20][round - 1] }),
    ]);
    const r = syntheticRun(cells, { rounds: 3 });
    const x = row(handoffRows(r), 'offload: server CPU per request');
    // Per round: 2.0, 1.8, 2.1 — the median meets ≤ 2, the worst round does not.
    expect(x.ratio).toMatchObject({ median: 2, min: 1.8, max: 2.1, n: 3 });
    expect(x.verdict).toBe('met by the median, not in every round');
    expect(row(handoffRows(r), 'thread: server CPU per connection').verdict).toBe('not measured');
  });

  it('judges start-up against the reference rows of the same round', () => {
    const cells = [1, 2].map((round) => cell({ server: 'thread', workload: 'churn', connections: 8, round, throughput: 10, cpuUsPerRequest: [30_000, 36_000][round - 1] }));
    const r = syntheticRun(cells, { rounds: 2 });
    r.spawnRefs = [
      { kind: 'worker', round: 1, n: 20, cpuUsPerStart: 25_000, wallMsP50: 20 },
      { kind: 'worker', round: 2, n: 20, cpuUsPerStart: 30_000, wallMsP50: 22 },
    ];
    const x = row(handoffRows(r), 'thread: server CPU per connection');
    expect(x.ratio).toMatchObject({ min: 1.2, max: 1.2 });
    expect(x.verdict).toBe('met');
    const text = handoffSection(r).join('\n');
    expect(text).toContain('| thread: server CPU per connection (churn c=8) / a bare new Worker() to first message | 1.20× | ≤ 1.5× | **met** |');
    expect(text).toContain('a bare `new Worker()`: 27.5 ms (25.0–30.0) of CPU per start');
  });

  it('puts the floor under a connection of its own between the bare start and the model, per round', () => {
    const cells = [1, 2].map((round) => cell({ server: 'thread', workload: 'churn', connections: 8, round, throughput: 10, cpuUsPerRequest: [30_000, 33_000][round - 1] }));
    const r = syntheticRun(cells, { rounds: 2 });
    expect(floorText(r)).toBeNull();
    r.spawnRefs = [
      { kind: 'worker', round: 1, n: 20, cpuUsPerStart: 10_000, wallMsP50: 9 },
      { kind: 'worker-floor', round: 1, n: 20, cpuUsPerStart: 15_000, wallMsP50: 15 },
      { kind: 'worker', round: 2, n: 20, cpuUsPerStart: 11_000, wallMsP50: 9 },
      { kind: 'worker-floor', round: 2, n: 20, cpuUsPerStart: 22_000, wallMsP50: 15 },
    ];
    // Per round: floor ÷ bare 1.5 and 2.0; model ÷ floor 2.0 and 1.5.
    const text = floorText(r)!;
    expect(text).toContain('a thread per connection 18.5 ms (15.0–22.0) of CPU per connection, 1.75× (1.50–2.00) the bare `new Worker()` of its round; the thread model\'s churn c=8 1.75× (1.50–2.00) that floor');
    expect(text).not.toContain('child per connection 0');
    expect(handoffSection(r).join('\n')).toContain(text);
    // The floor rows are not bare starts: the start-up goal still divides by the bare row.
    expect(row(handoffRows(r), 'thread: server CPU per connection').ratio).toMatchObject({ min: 3, max: 3 });
  });

  it('puts the thread-hop floor under offload\'s unloaded p50, per round and per way back', () => {
    const cells = [1, 2].flatMap((round) => [
      cell({ server: 'event-loop', workload: 'echo-64B', connections: 1, round, throughput: 1, p50: [20, 25][round - 1] }),
      cell({ server: 'offload', workload: 'echo-64B', connections: 1, round, throughput: 1, p50: [50, 50][round - 1] }),
    ]);
    const r = syntheticRun(cells, { rounds: 2 });
    expect(hopText(r)).toBeNull();
    r.threadHops = [
      { mode: 'port', round: 1, n: 100, p50Us: 10, p99Us: 30, cpuUsPerTrip: 13 },
      { mode: 'waitasync', round: 1, n: 100, p50Us: 5, p99Us: 15, cpuUsPerTrip: 9 },
      { mode: 'port', round: 2, n: 100, p50Us: 15, p99Us: 30, cpuUsPerTrip: 15 },
      { mode: 'waitasync', round: 2, n: 100, p50Us: 5, p99Us: 15, cpuUsPerTrip: 9 },
    ];
    // Floors per round: port (20+10)/20 = 1.5 and (25+15)/25 = 1.6; waitasync 1.25 and 1.2.
    const text = hopText(r)!;
    expect(text).toContain("MessagePort, piscina’s way: 12.5 µs (10.0–15.0) p50 per round trip, 14.0 µs (13.0–15.0) of CPU, so offload's p50 ≥ 1.55× (1.50–1.60) event-loop's");
    expect(text).toContain("Atomics.waitAsync on the main loop: 5.0 µs p50 per round trip, 9.0 µs of CPU, so offload's p50 ≥ 1.23× (1.20–1.25) event-loop's");
    // offload's own ratio, per round: 2.5 and 2.0.
    expect(text).toContain('offload measured 2.25× (2.00–2.50)');
    expect(handoffSection(r).join('\n')).toContain(text);
  });

  it('a speed-up goal on one server CPU is out of reach, not failed; on two it is judged', () => {
    const at = (cpus: string) =>
      [cell({ server: 'thread-pool', workload: 'work-1ms-all-cpus', connections: 16, throughput: 1300 }), cell({ server: 'event-loop', workload: 'work-1ms-all-cpus', connections: 16, throughput: 1000 })].map((c) => ({ ...c, params: { ...c.params, cpus } }));
    const goal = 'thread-pool: requests/s / event-loop’s, work-1ms c=16, server on every CPU';
    const one = syntheticRun(at('server=1,client=0'));
    expect(row(handoffRows(one), goal).verdict).toBe('out of reach: the server ran on 1 CPU');
    const two = syntheticRun(at('server=1-2,client=0'));
    expect(row(handoffRows(two), goal).verdict).toBe('not met');
    // The shared workload's cells ran unpinned ("none": every CPU of the machine, 2 here) while
    // the run's placement pinned the others: the cells' own placement decides.
    const shared = syntheticRun(at('none'));
    shared.run.flags.cpus = 'server=1,client=0';
    expect(row(handoffRows(shared), goal).verdict).toBe('not met');
    // The pools' echo c=256 goal needs CPUs beyond the bare echo's one.
    const echo = syntheticRun([cell({ server: 'process-pool', connections: 256, throughput: 900 }), cell({ server: 'node-net-echo', connections: 256, throughput: 1000 })].map((c) => ({ ...c, params: { ...c.params, cpus: 'server=1,client=0' } })));
    expect(row(handoffRows(echo), 'process-pool: requests/s / the bare Node echo').verdict).toBe('out of reach: the server ran on 1 CPU');
    expect([serverCpuCount('server=1,client=0'), serverCpuCount('server=0,2-3,client=1'), serverCpuCount('none')]).toEqual([1, 3, null]);
  });

  it("shows the machine's parallel ceiling per round next to each speed-up of that round", () => {
    const cells = [1, 2].flatMap((round) => [
      cell({ server: 'event-loop', workload: 'work-1ms-all-cpus', connections: 16, round, throughput: 1000 }),
      cell({ server: 'process-pool', workload: 'work-1ms-all-cpus', connections: 16, round, throughput: [1950, 1050][round - 1] }),
    ]);
    const r = syntheticRun(cells, { rounds: 2 });
    expect(ceilingText(r)).toBeNull();
    r.parallelCeiling = [
      { round: 1, threads: 2, aloneRate: 100, togetherRate: 196, ceiling: 1.96 },
      { round: 2, threads: 2, aloneRate: 100, togetherRate: 104, ceiling: 1.04 },
    ];
    const text = ceilingText(r)!;
    expect(text).toContain('round 1: **1.96×** (process-pool 1.95×) · round 2: **1.04×** (process-pool 1.05×)');
    expect(text).toContain('In 1 of 2 round(s) the machine itself measured below 1.8×.');
    expect(handoffSection(r).join('\n')).toContain(text);
  });

  it('prints nothing when no goal could be measured', () => {
    expect(handoffSection(syntheticRun([cell({ server: 'thread', throughput: 5 })]))).toEqual([]);
  });

  it('the micro-benchmark table takes the TCP connect out of the socket rows only', () => {
    const t = handoffTable([
      { name: 'TCP connect + accept', mean: 120, p50: 100, p99: 300, samples: 50 },
      { name: 'socket → worker thread', mean: 400, p50: 350, p99: 900, samples: 40 },
      { name: '64 B request → piscina pool and back (one task)', mean: 60, p50: 50, p99: 90, samples: 99 },
    ]);
    expect(t).toContain('| socket → worker thread | 350 µs | 250 µs |');
    expect(t).toContain('| 64 B request → piscina pool and back (one task) | 50 µs |  |');
  });
});
