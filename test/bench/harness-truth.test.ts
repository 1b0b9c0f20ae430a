// Figures that describe the server, not the load generator or the luck of the window: a server
// that starves connections, or stops answering, shows it; a client short of CPU is named.
import net from 'node:net';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { accountConnections, clientBoundReason, jainIndex } from '../../bench/loadgen/accounting.ts';
import { runLoad } from '../../bench/loadgen/load.ts';
import { runCell } from '../../bench/cell.ts';
import { tasksetAvailable } from '../../bench/placement.ts';
import { findWorkload } from '../../bench/workloads.ts';

describe('per-connection accounting rules', () => {
  it("Jain's index: 1 when equal, 1/n when one connection gets everything, 0 when none", () => {
    expect(jainIndex([5, 5, 5, 5])).toBe(1);
    expect(jainIndex([8, 0, 0, 0, 0, 0, 0, 0])).toBeCloseTo(1 / 8, 10);
    expect(jainIndex([0, 0])).toBe(0);
    expect(jainIndex([])).toBeNull();
    expect(jainIndex([3, 1])).toBeCloseTo(16 / 20, 10);
  });
  it('served = at least one answer inside the window', () => {
    expect(accountConnections([3, 0, 1, 0])).toEqual({ offered: 4, served: 2, starved: 2 });
  });
  it('client-bound: a saturated thread, or its own loop delay ≥ 25% of the measured p99', () => {
    expect(clientBoundReason([{ cores: 0.95, waitShare: 0, loopDelayP99Us: 10 }], 10_000)).toMatch(/saturated/);
    expect(clientBoundReason([{ cores: 0.3, waitShare: 0.4, loopDelayP99Us: 10 }], 10_000)).toMatch(/short of CPU/);
    expect(clientBoundReason([{ cores: 0.5, waitShare: null, loopDelayP99Us: 300 }], 1000)).toMatch(/loop delay/);
    expect(clientBoundReason([{ cores: 0.5, waitShare: 0.1, loopDelayP99Us: 200 }], 1000)).toBeNull();
  });
});

describe('benchmark truth against real servers', () => {
  it('a starving server: thread-pool --threads 1 --connections-per-thread 1 at c=8 serves one connection; the others show as starved, unfair, and in the tail', async () => {
    const windowMs = 1000;
    const r = await runCell({
      target: { name: 'thread-pool', kind: 'model' },
      workload: findWorkload('echo-64B'),
      connections: 8,
      warmupMs: 300,
      durationMs: windowMs,
      serverFlags: ['--threads', '1', '--connections-per-thread', '1'],
    });
    expect(r.error).toBeNull();
    expect(r.connections!.offered).toBe(8);
    expect(r.connections!.starved).toBeGreaterThanOrEqual(6);
    expect(r.fairness!).toBeLessThan(0.3);
    // Each starved connection's one request aged through the whole window; corrected for the
    // requests it never got to send, the tail is at least the window.
    expect(r.latencyUs!.p99).toBeGreaterThanOrEqual(windowMs * 1000);
    expect(r.latencyRawUs!.p99).toBeLessThan(windowMs * 1000); // what the raw samples would have said
  });

  it('a server that stops answering mid-window shows the stall in the closed-loop tail', async () => {
    let stopAt = Infinity;
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (d) => {
        stopAt = Math.min(stopAt, performance.now() + 700); // silent from 700 ms after the first request on
        if (performance.now() < stopAt) s.write(d);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    // Warm-up 200 ms, window 1000 ms: the server goes silent about 500 ms into the window.
    const r = await runLoad({ host: '127.0.0.1', port, mode: 'closed', op: 'echo', payloadBytes: 64, connections: 4, warmupMs: 200, durationMs: 1000, threads: 1, graceMs: 300 });
    expect(r.errors.unanswered).toBe(4);
    expect(r.connections.served).toBe(4); // every connection was answered before the stall
    expect(r.latencyUs.p99).toBeGreaterThanOrEqual(300_000);
    expect(r.latencyUs.max).toBeGreaterThanOrEqual(500_000);
  });

  it('answers split at every byte, or many to one read, or larger than a read, are all decoded and checked', async () => {
    // The load generator decodes whole frames in place in one shared read buffer and copies only
    // a partial frame out: this server makes every case happen. Per request (in arrival order) it
    // either dribbles the answer one byte per write or holds it and sends it with the next one
    // (flushed alone after 5 ms when no next request comes).
    let n = 0;
    const server = net.createServer((s) => {
      s.setNoDelay(true);
      s.on('error', () => {});
      const held: Buffer[] = [];
      let pending = Buffer.alloc(0);
      // Answers go out one after another: each write of the chain waits for the one before.
      let chain = Promise.resolve();
      const dribble = (out: Buffer) =>
        new Promise<void>((done) => {
          // one byte per write, each on its own turn of the loop, so each lands in its own read
          let i = 0;
          const step = () => {
            if (s.destroyed) return done();
            if (i >= 12) {
              s.write(out.subarray(i));
              return done();
            }
            s.write(out.subarray(i, ++i));
            setImmediate(step);
          };
          step();
        });
      const flush = (extra: Buffer[] = []) => {
        const out = Buffer.concat([...held.splice(0), ...extra]);
        if (out.length) chain = chain.then(() => dribble(out));
      };
      s.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
          const frame = Buffer.from(pending.subarray(0, 4 + pending.readUInt32BE(0)));
          pending = pending.subarray(frame.length);
          if (n++ % 2 === 0) {
            // goes out joined with the next answer (or alone, if no next request comes soon)
            held.push(frame);
            setTimeout(() => flush(), 5);
          } else flush([frame]);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    for (const payloadBytes of [64, 200_000]) {
      const r = await runLoad({ host: '127.0.0.1', port, mode: 'closed', op: 'echo', payloadBytes, connections: 2, pipeline: 2, warmupMs: 100, durationMs: 400, threads: 1, graceMs: 300 });
      expect(r.errors.total, `${payloadBytes} B: ${r.firstError} ${JSON.stringify(r.errors)}`).toBe(0);
      expect(r.requests, `${payloadBytes} B`).toBeGreaterThan(10);
    }
  });

  it.runIf(tasksetAvailable && os.availableParallelism() >= 2)('a client short of CPU (sharing its core with a spinner) is marked client-bound', async () => {
    // A busy loop pinned to the client's CPU: the load thread gets part of the core and waits for it.
    const hog = spawn('taskset', ['-c', '0', process.execPath, '-e', 'const end = Date.now() + 15000; while (Date.now() < end);'], { stdio: 'ignore' });
    onTestFinished(() => {
      hog.kill('SIGKILL');
    });
    const r = await runCell({
      target: { name: 'node-net-echo', kind: 'reference' },
      workload: findWorkload('echo-64B'),
      connections: 32,
      warmupMs: 300,
      durationMs: 1500,
      clientThreads: 2,
      cpus: { server: '1', client: '0' },
    });
    expect(r.error).toBeNull();
    expect(r.client!.boundBy ?? JSON.stringify({ client: r.client, raw: r.latencyRawUs })).toMatch(/loop delay|saturated|short of CPU/);
  });
});
