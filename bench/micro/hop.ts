// The thread-hop floor under offload's unloaded p50, run from bench/run.ts once per round on the
// server's CPUs (bench/micro/thread-hop.mjs: a main event loop to a parked thread and back, with
// nothing else on either side). The hand-off section adds its p50 to event-loop's p50 of the same
// round: the lowest offload's unloaded p50 can be, by the way the answer comes back.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pinnedCommand } from '../placement.ts';

const HOP = fileURLToPath(new URL('./thread-hop.mjs', import.meta.url));

/**
 * port: the answer comes back as a MessagePort message (piscina's way); waitasync: through shared
 * memory (Atomics.waitAsync); piscina: a bare piscina pool's task round trip (its machinery on top of port).
 */
export type HopMode = 'port' | 'waitasync' | 'piscina';

export interface ThreadHopRow {
  mode: HopMode;
  /** The round of the run it belongs to. */
  round: number;
  /** Round trips measured. */
  n: number;
  p50Us: number;
  p99Us: number;
  /** The process's CPU (both threads) per round trip, µs. */
  cpuUsPerTrip: number;
}

export async function threadHop(round: number, { n = 5000, cpus }: { n?: number; cpus?: string } = {}): Promise<ThreadHopRow[]> {
  const [cmd, ...args] = pinnedCommand([process.execPath, HOP, String(n)], cpus);
  const { stdout } = await promisify(execFile)(cmd!, args, { timeout: 60_000 });
  const { rows } = JSON.parse(stdout.trim().split('\n').pop()!) as { rows: Omit<ThreadHopRow, 'round'>[] };
  return rows.map((r) => ({ ...r, round }));
}
