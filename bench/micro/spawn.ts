// The reference start-up cells, run from bench/run.ts once per round on the server's CPUs: a
// bare `new Worker()` and a bare `fork()` to their first message (bench/micro/spawn-ref.mjs),
// what the thread and process models pay per connection in the churn cell is judged against;
// and the floor under a connection of its own (bench/micro/connection-floor.mjs): a plain
// JavaScript server that starts a bare thread or child per connection, hands it the socket and
// lets it echo, which is the least such a server can pay, and so how low the models can go.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { handlerModuleUrl } from '../../src/models/entries.ts';
import { BUILTIN_HANDLER } from '../../src/shared/handler.ts';
import { pinnedCommand } from '../placement.ts';

const REF = fileURLToPath(new URL('./spawn-ref.mjs', import.meta.url));
const FLOOR = fileURLToPath(new URL('./connection-floor.mjs', import.meta.url));

/**
 * worker, fork: a bare start to its first message (cpuUsPerStart per start).
 * worker-floor, fork-floor: a plain thread or child per connection (connection-floor.mjs): CPU
 * per connection served, one connection at a time; wallMsP50 is then the mean wall time per connection.
 */
export type SpawnKind = 'worker' | 'fork' | 'worker-floor' | 'fork-floor';

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

export async function spawnReference(kind: 'worker' | 'fork', round: number, { n = 20, cpus }: { n?: number; cpus?: string } = {}): Promise<SpawnRefRow> {
  const [cmd, ...args] = pinnedCommand([process.execPath, REF, kind, String(n)], cpus);
  const { stdout } = await promisify(execFile)(cmd!, args, { timeout: 120_000 });
  const row = JSON.parse(stdout.trim().split('\n').pop()!) as Omit<SpawnRefRow, 'round'>;
  return { ...row, round };
}

/**
 * The floor under a thread (`worker-floor`) or a child (`fork-floor`) per connection: the plain
 * server of connection-floor.mjs on the server's CPUs, answering with `handler` (the module the
 * models' threads and children import for the built-in handler), its driver on the client's, n
 * connections one after another; the server's CPU per connection (/proc, reaped children included).
 */
export async function connectionFloor(
  kind: 'worker-floor' | 'fork-floor',
  round: number,
  { n = 20, serverCpus, clientCpus, handler = handlerModuleUrl(BUILTIN_HANDLER) }: { n?: number; serverCpus?: string; clientCpus?: string; handler?: string } = {},
): Promise<SpawnRefRow> {
  const [cmd, ...args] = pinnedCommand([process.execPath, FLOOR, 'serve', kind === 'worker-floor' ? 'thread' : 'fork', handler], serverCpus);
  const server = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connection-floor server did not listen within 10 s')), 10_000);
      server.stdout!.on('data', (d: Buffer) => {
        out += d;
        const m = /port (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      server.once('exit', (code) => reject(new Error(`connection-floor server exited (${code}) before listening`)));
    });
    const [dcmd, ...dargs] = pinnedCommand([process.execPath, FLOOR, 'drive', String(port), String(server.pid), String(n)], clientCpus);
    const { stdout } = await promisify(execFile)(dcmd!, dargs, { timeout: 120_000 });
    const row = JSON.parse(stdout.trim().split('\n').pop()!) as { n: number; cpuMsPerConnection: number; wallMsPerConnection: number };
    return { kind, round, n: row.n, cpuUsPerStart: row.cpuMsPerConnection * 1000, wallMsP50: row.wallMsPerConnection };
  } finally {
    if (server.exitCode === null) {
      server.kill('SIGKILL');
      await once(server, 'exit');
    }
  }
}
