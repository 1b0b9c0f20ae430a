// One cell end to end against the real CLI (event-loop): the record is complete and consistent,
// and a server that cannot start gives a failed cell with its error instead of an exception.
import { describe, expect, it } from 'vitest';
import { runCell } from '../../bench/cell.ts';
import { findWorkload, withOverrides } from '../../bench/workloads.ts';

describe('runCell', () => {
  it('measures a fresh event-loop server: throughput, verified answers, server tree CPU, client CPU', async () => {
    const r = await runCell({ target: { name: 'event-loop', kind: 'model' }, workload: findWorkload('echo-64B'), connections: 4, warmupMs: 150, durationMs: 600 });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.errors!.total).toBe(0);
    // Raw samples: every counted request, plus at most one per connection sent during warm-up
    // and answered inside the window (pipeline 1); the corrected histogram holds at least those.
    expect(r.latencyRawUs!.count - r.errors!.ok).toBeGreaterThanOrEqual(0);
    expect(r.latencyRawUs!.count - r.errors!.ok).toBeLessThanOrEqual(4);
    expect(r.latencyUs!.count).toBeGreaterThanOrEqual(r.latencyRawUs!.count);
    expect(r.connections).toMatchObject({ offered: 4, served: 4, starved: 0 });
    expect(r.fairness).toBeGreaterThan(0.8);
    expect(r.perConnection).toHaveLength(4);
    expect(r.client!.perThread).toHaveLength(2);
    expect(r.client!.perThread.every((t) => t.cores > 0 && t.loopDelayP99Us > 0)).toBe(true);
    expect(r.throughput).toBeCloseTo(r.errors!.ok / 0.6, 5);
    expect(r.serverTree!.cpuUs).toBeGreaterThan(0);
    expect(r.serverTree!.cpuUsPerRequest).toBeGreaterThan(0);
    expect(r.serverTree!.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(r.client!.cpuUserUs + r.client!.cpuSystemUs).toBeGreaterThan(0);
    expect(r.histogram).toBeTypeOf('string');
  });

  it('idle connections are held and counted', async () => {
    const w = withOverrides(findWorkload('idle-10k'), { idleConnections: 300 });
    const r = await runCell({ target: { name: 'event-loop', kind: 'model' }, workload: w, connections: 2, warmupMs: 100, durationMs: 300 });
    expect(r.ok).toBe(true);
    expect(r.idle!.held).toBe(300);
    expect(r.idle!.aliveAtEnd).toBe(300);
    expect(r.serverTree!.rssPerIdleConnBytes).toBeGreaterThanOrEqual(0);
  });

  it('a server that does not start is a failed cell, not a crash', async () => {
    const r = await runCell({ target: { name: 'event-loop', kind: 'model' }, workload: findWorkload('echo-64B'), connections: 1, warmupMs: 50, durationMs: 100, serverFlags: ['--max-frame', '0'] });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/exited|listening/);
  });
});
