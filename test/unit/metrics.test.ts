// The live metrics plumbing: RequestMetrics' buckets, the main thread's table (latest report per
// worker, stale and final ones retired into totals that never go down) and the Prometheus text.
import { describe, expect, it } from 'vitest';
import { createRegistry, type MetricsSource } from '../../src/admin/metrics.ts';
import { DURATION_BUCKETS_S, RequestMetrics, WorkerMetricsTable } from '../../src/shared/metrics.ts';
import { Op } from '../../src/shared/protocol.ts';

describe('RequestMetrics', () => {
  it('counts requests by op name, errors by code, durations into the right bucket (upper bound inclusive)', () => {
    const m = new RequestMetrics('thread:3');
    m.request(Op.ECHO);
    m.request(Op.ECHO);
    m.request(0x42);
    m.error('E_BUSY');
    m.observe(0.05); // 50 µs: exactly the first bound
    m.observe(0.3); // 300 µs: the 500 µs bucket
    m.observe(20_000); // 20 s: +Inf
    const s = m.snapshot();
    expect(s.requests).toEqual({ ECHO: 2, '0x42': 1 });
    expect(s.errors).toEqual({ E_BUSY: 1 });
    expect(s.duration.count).toBe(3);
    expect(s.duration.counts[0]).toBe(1);
    expect(s.duration.counts[DURATION_BUCKETS_S.indexOf(0.0005)]).toBe(1);
    expect(s.duration.counts[DURATION_BUCKETS_S.length]).toBe(1);
    expect(s.duration.sum).toBeCloseTo(20.00035, 6);
  });
});

describe('WorkerMetricsTable', () => {
  const snap = (worker: string, echo: number, active = 0) => {
    const m = new RequestMetrics(worker);
    for (let i = 0; i < echo; i++) m.request(Op.ECHO);
    m.activeConnections = active;
    return m.snapshot();
  };

  it('keeps the latest report per worker and sums them with the retired ones', () => {
    const t = new WorkerMetricsTable(60_000);
    t.update(snap('pid:1', 3, 1));
    t.update(snap('pid:1', 5, 2)); // a newer report replaces the older
    t.update(snap('pid:2', 4));
    t.update(snap('pid:3', 7), true); // exiting: retired at once
    const { workers, totals } = t.collect();
    expect(workers.map((w) => w.worker).sort()).toEqual(['pid:1', 'pid:2']);
    expect(totals.requests.ECHO).toBe(5 + 4 + 7);
  });

  it('retires a worker that stopped reporting, without losing its counts', async () => {
    const t = new WorkerMetricsTable(20);
    t.update(snap('thread:9', 6));
    await new Promise((r) => setTimeout(r, 40));
    const { workers, totals } = t.collect();
    expect(workers).toEqual([]);
    expect(totals.requests.ECHO).toBe(6);
    expect(t.collect().totals.requests.ECHO).toBe(6); // retired once, not again
  });

  it('a worker retired for silence that reports again is not counted twice', async () => {
    const t = new WorkerMetricsTable(20);
    t.update(snap('pid:7', 4));
    await new Promise((r) => setTimeout(r, 40));
    expect(t.collect().totals.requests.ECHO).toBe(4); // retired, counts kept
    t.update(snap('pid:7', 9)); // it was only slow: its cumulative count is now 9
    const { workers, totals } = t.collect();
    expect(workers.map((w) => w.worker)).toEqual(['pid:7']);
    expect(totals.requests.ECHO).toBe(9);
  });

  it('reads a local RequestMetrics live at every collect', () => {
    const t = new WorkerMetricsTable();
    const local = new RequestMetrics('pid:100');
    t.addLocal(local);
    local.request(Op.INFO);
    expect(t.collect().totals.requests.INFO).toBe(1);
    local.request(Op.INFO);
    expect(t.collect().totals.requests.INFO).toBe(2);
  });
});

describe('Prometheus text', () => {
  it('histogram buckets are cumulative and end in +Inf = count; counters carry their labels', async () => {
    const m = new RequestMetrics('pid:1');
    m.request(Op.ECHO);
    m.observe(0.08);
    m.observe(3);
    const table = new WorkerMetricsTable();
    table.addLocal(m);
    const stats = {
      model: 'event-loop',
      connections: { queued: 0 },
      workers: 1,
      lifecycle: { starts: 0, exits: 0, respawns: 0, recycles: 0, watchdogKills: 0 },
      accept: { accepted: 1, active: 1, refused: 2, refusedBy: { 'per-ip': 2 }, badProxyHeader: 0 },
    };
    const source = {
      stats: () => stats,
      metrics: () => ({ ...table.collect(), queueWait: { counts: new Array(DURATION_BUCKETS_S.length + 1).fill(0), sum: 0, count: 0 } }),
      generation: () => 3,
      draining: () => false,
    } as unknown as MetricsSource;
    const text = await createRegistry(source).metrics();
    expect(text).toMatch(/^switchboard_request_duration_seconds_bucket\{le="0\.00005"\} 0$/m);
    expect(text).toMatch(/^switchboard_request_duration_seconds_bucket\{le="0\.0001"\} 1$/m);
    expect(text).toMatch(/^switchboard_request_duration_seconds_bucket\{le="0\.005"\} 2$/m);
    expect(text).toMatch(/^switchboard_request_duration_seconds_bucket\{le="\+Inf"\} 2$/m);
    expect(text).toMatch(/^switchboard_request_duration_seconds_count 2$/m);
    expect(text).toMatch(/^# TYPE switchboard_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^switchboard_connections_refused_total\{reason="per-ip"\} 2$/m);
    expect(text).toMatch(/^switchboard_connections_refused_total\{reason="queue"\} 0$/m);
    expect(text).toMatch(/^# TYPE switchboard_requests_total counter$/m);
    expect(text).toMatch(/^switchboard_requests_total\{op="ECHO"\} 1$/m);
    expect(text).toMatch(/^switchboard_model_generation\{model="event-loop"\} 3$/m);
  });
});
