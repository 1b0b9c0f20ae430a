// The reference start-up cells, run from bench/run.ts once per round on the server's CPUs: a
// bare `new Worker()` and a bare `fork()` to their first message (bench/micro/spawn-ref.mjs),
// the floor under what the thread and process models pay per connection in the churn cell.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pinnedCommand } from '../placement.ts';

const REF = fileURLToPath(new URL('./spawn-ref.mjs', import.meta.url));

export type SpawnKind = 'worker' | 'fork';

export interface SpawnRefRow {
  kind: SpawnKind;
  /** The round of the run it belongs to (interleaved with the cells, like them). */
  round: number;
  n: number;
  /** CPU µs per start, the starting process's and its reaped children's, start to first message to exit. */
  cpuUsPerStart: number;
  /** Median wall time, start to first message, ms. */
  wallMsP50: number;
}

export async function spawnReference(kind: SpawnKind, round: number, { n = 20, cpus }: { n?: number; cpus?: string } = {}): Promise<SpawnRefRow> {
  const [cmd, ...args] = pinnedCommand([process.execPath, REF, kind, String(n)], cpus);
  const { stdout } = await promisify(execFile)(cmd!, args, { timeout: 120_000 });
  const row = JSON.parse(stdout.trim().split('\n').pop()!) as Omit<SpawnRefRow, 'round'>;
  return { ...row, round };
}
