// A closed-loop client in this process, for `make reliability` and the tests: each client
// sends one request, awaits and checks the answer, repeats. It is a probe of a server's
// behaviour under load (lost requests, wrong answers, latency under a fault), not the
// benchmark's instrument — that is bench/loadgen (worker threads, open loop, coordinated
// omission), which records into the same kind of histogram (./histogram.ts).
import { FrameClient } from '../src/shared/client.ts';
import { Op, parseError } from '../src/shared/protocol.ts';
import { newHistogram, recordMs, summarize, type Percentiles } from './histogram.ts';
import { sleep, withTimeout } from './time.ts';

export interface LoadResult {
  ok: number;
  /** Requests that got a wrong answer or an ERROR frame. */
  errors: number;
  /** Requests sent whose connection failed before the answer. */
  lost: number;
  /** Connections that failed (reset/closed under a client). */
  connFailures: number;
  /** Latency of every answered request, µs. */
  latencyUs: Percentiles;
  errorCodes: Record<string, number>;
}

export interface LoadOptions {
  port: number;
  clients: number;
  /** Stop after this long… */
  durationMs?: number;
  /** …or once this many requests have been answered per client. */
  requestsPerClient?: number;
  /** Builds request i of client c: [op, payload, expected payload or null to accept any non-error]. */
  request?: (c: number, i: number) => [number, Buffer, Buffer | null];
  /** Pause between requests per client (ms), for a paced (open-ish) load. */
  pauseMs?: number;
  /** Stop early when this returns true (checked between requests). */
  stop?: () => boolean;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Reconnect after a failure (true) or end that client (false). */
  reconnect?: boolean;
  /** Close and reopen the connection every n requests (churn). */
  churnEvery?: number;
  /** Called with each answered request's latency (ms). */
  onLatency?: (ms: number) => void;
}

const defaultRequest = (c: number, i: number): [number, Buffer, Buffer | null] => {
  const p = Buffer.from(`${c}:${i}:${'x'.repeat(48)}`);
  return [Op.ECHO, p, p];
};

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const res = { ok: 0, errors: 0, lost: 0, connFailures: 0, errorCodes: {} as Record<string, number> };
  const latency = newHistogram();
  const deadline = o.durationMs ? performance.now() + o.durationMs : Infinity;
  const build = o.request ?? defaultRequest;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const one = async (c: number) => {
    let i = 0;
    let client: FrameClient | null = null;
    let sinceConnect = 0;
    while (performance.now() < deadline && !(o.requestsPerClient && i >= o.requestsPerClient) && !o.stop?.()) {
      try {
        if (!client || (o.churnEvery && sinceConnect >= o.churnEvery)) {
          client?.socket.destroy();
          client = null;
          client = await FrameClient.connect(o.port, '127.0.0.1', { timeoutMs });
          sinceConnect = 0;
        }
      } catch {
        res.connFailures++;
        await sleep(20);
        if (o.reconnect === false) return;
        continue;
      }
      const [op, payload, expected] = build(c, i++);
      sinceConnect++;
      const t0 = performance.now();
      try {
        const f = await withTimeout(client.send(op, payload), timeoutMs, 'request');
        const ms = performance.now() - t0;
        recordMs(latency, ms);
        o.onLatency?.(ms);
        if (f.op === Op.ERROR) {
          res.errors++;
          const code = parseError(f.payload).code;
          res.errorCodes[code] = (res.errorCodes[code] ?? 0) + 1;
        } else if (f.op !== op || (expected && !f.payload.equals(expected))) {
          res.errors++;
          res.errorCodes.WRONG_ANSWER = (res.errorCodes.WRONG_ANSWER ?? 0) + 1;
        } else res.ok++;
      } catch {
        res.lost++;
        res.connFailures++;
        client.socket.destroy();
        client = null;
        if (o.reconnect === false) return;
      }
      if (o.pauseMs) await sleep(o.pauseMs);
    }
    client?.socket.destroy();
  };
  try {
    await Promise.all(Array.from({ length: o.clients }, (_, c) => one(c)));
    return { ...res, latencyUs: summarize(latency) };
  } finally {
    latency.destroy();
  }
}
