// bench-ci's paired A/B design: both servers of a pair (the base build's and this checkout's)
// stay up side by side, and the load alternates between them in short slices — A B, B A, A B, … —
// so the two figures of a pair are a second apart and the machine's drift, which on this shared
// VM moves a cell by 20–30% between runs, is nearly the same for both. No slice pays a server
// start, a fork ramp or (echo, WORK) a connection set-up: those are what made the fresh-server-per-
// cell design's pairs differ by 10–70% here (results/ci-report.md before it: 0–2 of 24 rows could
// see a 10% change). Same-commit runs of this design on this VM: 1.7–6% noise per pair, MDE 5–7%.
//
// Server CPU comes from /proc/<pid>/task/<tid>/schedstat (on-CPU ns, every thread of the tree),
// not from /proc/<pid>/stat's 10 ms ticks: a one-second slice is ~100 ticks, too coarse for 5%.
// A thread or child that exits inside a slice takes its time with it, so CPU is reported only
// where connections are held (echo), never for churn.
//
// Placement is make bench's default (bench/placement.ts): both servers on the server CPUs, this
// process (the load) on the client's. Unpinned, the scheduler settles each server's threads into
// its own pattern next to the client and the other side's idle threads, and keeps it for seconds:
// a same-commit A/A run here gave event-loop work-1ms pairs at 1.30–1.35× four pairs in a row.
// Three same-commit runs of each (event-loop, thread, process-pool): 20 of 36 rows could see 10%
// pinned against 15 of 36 unpinned, median MDE 9.6% against 11.2%. `--no-pin` keeps the old way.
//
// A side is one server process, and run.ts starts `--blocks` fresh pairs of them per model, the
// slices split over them: a process can be persistently faster than another of the same code,
// which no number of slices from the same two processes reveals (bench/ci/paired.ts).
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { descendants } from '../../harness/proc-tree.ts';
import { DEFAULT_PLACEMENT, pinProcess } from '../placement.ts';
import { FrameDecoder, Op, encodeFrame } from '../../src/shared/protocol.ts';
import { startTarget, type RunningServer, type Target } from '../server-proc.ts';

/** The held design's workloads: one connection level each, as the cell design's CI_CELLS. */
export const HELD_WORKLOADS = [
  { key: 'echo', label: 'echo-64B c=32', connections: 32 },
  { key: 'work', label: 'work-1ms c=16', connections: 16 },
  { key: 'churn', label: 'churn c=8 (connect, 1 ECHO, close)', connections: 8 },
] as const;
export type HeldWorkload = (typeof HELD_WORKLOADS)[number]['key'];

/** On-CPU ns of every live thread of the tree rooted at `root` so far. */
export function treeCpuNs(root: number): number {
  let ns = 0;
  for (const pid of [root, ...descendants(root)]) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* exited */
      }
    }
  }
  return ns;
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** What one slice of load did. */
export interface SliceFigures {
  /** Answers (echo, work) or completed connections (churn) per second. */
  perSec: number;
  /** Server tree CPU µs per answer; null for churn. */
  cpuUsPerOp: number | null;
  /** Requests or connections that failed (reset, error frame). */
  failed: number;
}

/**
 * A closed loop over connections held open across slices (echo, work): one request in flight
 * per connection; between slices nothing is sent. Churn opens its own connections per request.
 */
export class HeldLoad {
  readonly #port: number;
  readonly #frame: Buffer;
  readonly #churn: boolean;
  readonly #connections: number;
  readonly #sockets: net.Socket[] = [];
  #until = 0;
  #done = 0;
  #failed = 0;
  #running = 0;
  #onIdle: (() => void) | null = null;

  private constructor(port: number, workload: HeldWorkload, connections: number, workN: number) {
    this.#port = port;
    this.#churn = workload === 'churn';
    this.#connections = connections;
    this.#frame = workload === 'work' ? encodeFrame(Op.WORK, Buffer.concat([u32(workN), Buffer.from('ci')])) : encodeFrame(Op.ECHO, Buffer.alloc(64, 7));
  }

  static async open(port: number, workload: HeldWorkload, connections: number, workN: number): Promise<HeldLoad> {
    const load = new HeldLoad(port, workload, connections, workN);
    if (!load.#churn) await Promise.all(Array.from({ length: connections }, () => load.#hold()));
    return load;
  }

  #hold(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port: this.#port, host: '127.0.0.1', noDelay: true }, () => resolve());
      s.once('error', reject);
      const decoder = new FrameDecoder(1 << 20);
      s.on('data', (chunk: Buffer) =>
        decoder.push(chunk, (op) => {
          if (op === Op.ERROR) this.#failed++;
          else this.#done++;
          if (performance.now() < this.#until) s.write(this.#frame);
          else this.#idle();
        }),
      );
      this.#sockets.push(s);
    });
  }

  #idle(): void {
    if (--this.#running === 0) this.#onIdle?.();
  }

  /** One churn loop: connect, one request, close, again until the slice ends. */
  #churnOnce(): void {
    if (performance.now() >= this.#until) return this.#idle();
    let answered = false;
    const s = net.connect({ port: this.#port, host: '127.0.0.1', noDelay: true }, () => s.write(this.#frame));
    const decoder = new FrameDecoder(1 << 20);
    s.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (op) => {
        if (answered) return;
        answered = true;
        if (op === Op.ERROR) this.#failed++;
        else this.#done++;
        s.end();
      }),
    );
    s.on('error', () => {});
    s.once('close', () => {
      if (!answered) this.#failed++;
      this.#churnOnce();
    });
  }

  /** Runs the loop for `ms`; resolves once the requests (or connections) in flight have ended. */
  run(ms: number): Promise<{ done: number; failed: number; wallMs: number }> {
    this.#done = this.#failed = 0;
    const t0 = performance.now();
    this.#until = t0 + ms;
    this.#running = this.#connections;
    const idle = new Promise<void>((resolve) => (this.#onIdle = resolve));
    if (this.#churn) for (let i = 0; i < this.#connections; i++) this.#churnOnce();
    else for (const s of this.#sockets) s.write(this.#frame);
    return idle.then(() => ({ done: this.#done, failed: this.#failed, wallMs: performance.now() - t0 }));
  }

  close(): void {
    for (const s of this.#sockets) s.destroy();
  }
}

let loadPinned = false;
function pinLoadOnce(): void {
  if (loadPinned) return;
  loadPinned = true;
  pinProcess(process.pid, DEFAULT_PLACEMENT.client);
}

/** One side of a pair: a server and, per workload, its load. */
export class HeldSide {
  readonly server: RunningServer;
  readonly #loads = new Map<HeldWorkload, HeldLoad>();

  private constructor(server: RunningServer) {
    this.server = server;
  }

  /**
   * Starts the server. `pinned`: on the server CPUs, and the first pinned start also pins this
   * process (the load) to the client's.
   */
  static async start(target: Target, flags: string[], { pinned = false } = {}): Promise<HeldSide> {
    if (pinned) pinLoadOnce();
    return new HeldSide(await startTarget(target, ['--drain-timeout', '1', ...flags], { cpus: pinned ? DEFAULT_PLACEMENT.server : undefined }));
  }

  /** Opens the workload's connections and warms them up (JIT, threads and children started). */
  async prepare(workload: HeldWorkload, connections: number, workN: number, warmupMs: number): Promise<void> {
    const load = await HeldLoad.open(this.server.port, workload, connections, workN);
    this.#loads.set(workload, load);
    await load.run(warmupMs);
  }

  async slice(workload: HeldWorkload, ms: number): Promise<SliceFigures> {
    const load = this.#loads.get(workload)!;
    const pid = this.server.pid!;
    const c0 = workload === 'churn' ? 0 : treeCpuNs(pid);
    const r = await load.run(ms);
    const cpu = workload === 'churn' ? null : treeCpuNs(pid) - c0;
    return { perSec: (r.done * 1000) / r.wallMs, cpuUsPerOp: cpu === null || r.done === 0 ? null : cpu / 1000 / r.done, failed: r.failed };
  }

  /** Closes the workload's held connections (before the next workload, so they do not pile up). */
  release(workload: HeldWorkload): void {
    this.#loads.get(workload)?.close();
    this.#loads.delete(workload);
  }

  async stop(): Promise<void> {
    for (const l of this.#loads.values()) l.close();
    await this.server.stop();
  }
}
