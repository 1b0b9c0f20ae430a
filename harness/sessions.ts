// Closed-loop sessions that come and go: each of `sessions` clients connects, sends
// `requestsPerConnection` ECHO requests one after another (each answer checked byte for byte),
// closes, and connects again, until `durationMs` has passed. Unlike the benchmark's load
// generator, connections turn over all the time, so a server that changes what serves new
// connections (a live switch, a rolling restart) is exercised by new and old ones at once.
// Every outcome is counted: answers, ERROR frames by code, requests lost to a close, failed
// connects; every answer's latency is kept with its time, to compare windows.
import type { Socket } from 'node:net';
import { connectSocket } from '../src/shared/client.ts';
import { newHistogram, recordMs } from './histogram.ts';
import { FrameDecoder, Op, encodeFrame, parseError } from '../src/shared/protocol.ts';

export interface SessionsOptions {
  host?: string;
  port: number;
  sessions: number;
  requestsPerConnection: number;
  durationMs: number;
  payloadBytes?: number;
}

export interface SessionsResult {
  ok: number;
  /** Answers that were not the echo sent. */
  wrong: number;
  errorFrames: Record<string, number>;
  /** Requests sent and never answered: the connection closed first. */
  lost: number;
  connectFailed: number;
  connections: number;
  /** [ms since start, latency µs] of every correct answer. */
  samples: [number, number][];
  firstProblem: string | null;
}

export async function runSessions(o: SessionsOptions): Promise<SessionsResult> {
  const r: SessionsResult = { ok: 0, wrong: 0, errorFrames: {}, lost: 0, connectFailed: 0, connections: 0, samples: [], firstProblem: null };
  const t0 = performance.now();
  const until = t0 + o.durationMs;
  const note = (s: string) => (r.firstProblem ??= s);

  const oneConnection = async (session: number): Promise<void> => {
    let sock: Socket;
    try {
      sock = await connectSocket({ host: o.host ?? '127.0.0.1', port: o.port, timeoutMs: 5000 });
    } catch (err) {
      r.connectFailed++;
      note(`connect failed: ${(err as Error).message}`);
      await new Promise((res) => setTimeout(res, 50));
      return;
    }
    r.connections++;
    sock.setNoDelay(true);
    // A server that stops answering must show up as lost requests, not a run that never ends.
    sock.setTimeout(10_000, () => {
      note('no answer for 10 s: connection dropped');
      sock.destroy();
    });
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    await new Promise<void>((done) => {
      let sent = 0;
      let outstanding: { payload: Buffer; at: number } | null = null;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        sock.end();
      };
      const next = () => {
        if (sent >= o.requestsPerConnection || performance.now() >= until) return finish();
        const payload = Buffer.alloc(o.payloadBytes ?? 64, (session + sent) & 0xff);
        payload.writeUInt32BE(sent, 0);
        outstanding = { payload, at: performance.now() };
        sent++;
        sock.write(encodeFrame(Op.ECHO, payload));
      };
      sock.on('data', (chunk: Buffer) => {
        const err = decoder.push(chunk, (op, payload) => {
          const req = outstanding;
          outstanding = null;
          if (!req) {
            r.wrong++;
            note('an answer with no request outstanding');
            return;
          }
          const now = performance.now();
          if (op === Op.ECHO && payload.equals(req.payload)) {
            r.ok++;
            r.samples.push([now - t0, (now - req.at) * 1000]);
            next();
          } else if (op === Op.ERROR) {
            const { code, message } = parseError(Buffer.from(payload));
            r.errorFrames[code] = (r.errorFrames[code] ?? 0) + 1;
            note(`ERROR ${code} ${message}`);
            finish(); // like a client told to go away: this connection is done
          } else {
            r.wrong++;
            note(`wrong answer: op ${op}, ${payload.length} bytes`);
            finish();
          }
        });
        if (err) {
          note(`undecodable answer: ${err.message}`);
          sock.destroy();
        }
      });
      sock.on('error', (e) => note(`socket error: ${e.message}`));
      sock.on('close', () => {
        if (outstanding) {
          r.lost++;
          note('connection closed with a request unanswered');
        }
        done();
      });
      next();
    });
  };

  await Promise.all(
    Array.from({ length: o.sessions }, async (_, session) => {
      while (performance.now() < until) await oneConnection(session);
    }),
  );
  return r;
}

/**
 * p-th percentile (0..100), µs, of the latencies sampled with from ≤ t < to (ms since start),
 * from the same HDR histogram as every other latency figure (harness/histogram.ts). The raw
 * samples are kept because the window is chosen afterwards (during a switch, steady).
 */
export function percentileIn(samples: readonly [number, number][], p: number, from = 0, to = Infinity): number | null {
  const h = newHistogram();
  for (const [t, us] of samples) if (t >= from && t < to) recordMs(h, us / 1000);
  return h.totalCount ? h.getValueAtPercentile(p) : null;
}
