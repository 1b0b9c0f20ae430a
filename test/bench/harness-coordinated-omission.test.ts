// Coordinated omission: a server that stalls for 200 ms. The open loop measures each request from
// its scheduled send time, so every request scheduled during the stall shows it; a closed loop at
// c=1 sends nothing while it waits and so records the stall once — the raw samples hide it, and
// the corrected figures (harness/histogram.ts correctClosedLoop) show it.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { runLoad, type LoadSpec } from '../../bench/loadgen/load.ts';

const STALL_MS = 200;
/** An echo server that, 500 ms after its first byte, holds every answer for STALL_MS once. */
function stallingServer(): Promise<{ port: number; close(): Promise<void>; stalls: () => number }> {
  let first = 0;
  let stallStart = 0;
  let stalls = 0;
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    const queue: Buffer[] = [];
    let flushTimer: NodeJS.Timeout | null = null;
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      const now = performance.now();
      first ||= now;
      if (!stallStart && now - first > 500) {
        stallStart = now;
        stalls++;
      }
      const until = stallStart + STALL_MS;
      if (stallStart && now < until) {
        queue.push(d);
        flushTimer ??= setTimeout(() => {
          for (const q of queue.splice(0)) sock.write(q);
          flushTimer = null;
        }, until - now);
      } else if (queue.length) queue.push(d);
      else sock.write(d);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        stalls: () => stalls,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

const countAtLeast = (b64: string, us: number): number => {
  const h = hdr.decodeFromCompressedBase64(b64);
  let n = 0;
  for (let p = 0; p <= 100; p += 0.1) if (h.getValueAtPercentile(p) >= us) n++;
  h.destroy();
  return n; // in 0.1-percentile steps: ≥ 1 means at least ~0.1% of samples
};

describe('coordinated-omission correction', () => {
  let open: Awaited<ReturnType<typeof stallingServer>>;
  let closed: Awaited<ReturnType<typeof stallingServer>>;
  beforeAll(async () => {
    open = await stallingServer();
    closed = await stallingServer();
  });
  afterAll(async () => {
    await open.close();
    await closed.close();
  });
  const base: Omit<LoadSpec, 'port' | 'mode'> = { host: '127.0.0.1', op: 'echo', payloadBytes: 64, connections: 1, warmupMs: 200, durationMs: 1200, threads: 1, graceMs: 1000 };

  it('open loop shows the stall on every request scheduled during it; the closed loop shows it once corrected', async () => {
    const o = await runLoad({ ...base, port: open.port, mode: 'open', ratePerSec: 1000 });
    const c = await runLoad({ ...base, port: closed.port, mode: 'closed' });
    expect(open.stalls()).toBe(1);
    expect(closed.stalls()).toBe(1);
    expect(o.errors.total).toBe(0);
    expect(c.errors.total).toBe(0);
    // ≈200 of ≈1200 requests were scheduled inside the stall, waiting 0–200 ms: well over 1%
    // of the samples are ≥ 100 ms, so p99 shows the stall.
    expect(o.latencyUs.max).toBeGreaterThanOrEqual(150_000);
    expect(o.latencyUs.p99).toBeGreaterThanOrEqual(100_000);
    expect(countAtLeast(o.histogram, 100_000)).toBeGreaterThanOrEqual(20); // ≥ ~2% of samples
    // The closed loop had one request in flight when the stall hit: it saw the stall once…
    expect(c.latencyUs.max).toBeGreaterThanOrEqual(150_000);
    // …and since it sent nothing meanwhile, its raw percentiles below the max look healthy…
    expect(c.latencyRawUs!.p99).toBeLessThan(100_000);
    // …while the correction counts the requests it would have sent during the stall.
    expect(c.latencyUs.p99).toBeGreaterThanOrEqual(100_000);
    expect(c.coIntervalUs).toBeGreaterThan(0);
    expect(o.latencyRawUs).toBeNull();
    expect(c.requests).toBeGreaterThan(o.requests); // it also ran flat out, far above 1000/s
  });
});
