// Micro-benchmark: unloaded round-trip time per model over one connection (tinybench): one
// ECHO of 64 B at a time, nothing else running against the server.
//   node bench/micro/rtt.ts [model …]
import { Bench } from 'tinybench';
import { FrameClient } from '../../src/shared/client.ts';
import { MODEL_NAMES } from '../../src/models/registry.ts';
import { REFERENCE_TARGET, startTarget, type Target } from '../server-proc.ts';

export interface RttRow {
  server: string;
  ok: boolean;
  error: string | null;
  /** µs */
  p50: number;
  p99: number;
  mean: number;
  samples: number;
}

export async function rttBench(targets: Target[], { timeMs = 500 } = {}): Promise<RttRow[]> {
  const rows: RttRow[] = [];
  const payload = Buffer.alloc(64, 1);
  for (const target of targets) {
    let srv;
    try {
      srv = await startTarget(target);
      const client = await FrameClient.connect(srv.port, srv.host);
      try {
        for (let i = 0; i < 200; i++) await client.send(1, payload); // warm both ends
        const bench = new Bench({ time: timeMs, warmupTime: 50 });
        bench.add('rtt', async () => {
          await client.send(1, payload);
        });
        await bench.run();
        const lat = (bench.tasks[0]!.result as { latency?: { p50: number; p99: number; mean: number; samplesCount: number } }).latency;
        if (!lat) throw new Error('tinybench produced no latency statistics');
        rows.push({ server: target.name, ok: true, error: null, p50: lat.p50 * 1000, p99: lat.p99 * 1000, mean: lat.mean * 1000, samples: lat.samplesCount });
      } finally {
        await client.close();
      }
    } catch (err) {
      rows.push({ server: target.name, ok: false, error: (err as Error).message, p50: 0, p99: 0, mean: 0, samples: 0 });
    } finally {
      await srv?.stop();
    }
  }
  return rows;
}

if (import.meta.main) {
  const names = process.argv.slice(2);
  const targets: Target[] = [REFERENCE_TARGET, ...(names.length ? names : MODEL_NAMES).map((name) => ({ name, kind: 'model' as const }))];
  console.table(await rttBench(targets));
}
