#!/usr/bin/env node
// Experiment for the CI gate's sensitivity (issue 18): instead of a fresh server per cell, both
// servers of a pair (A and B) stay up with their connections held open, and the load alternates
// between them in short slices (A B, B A, …), so each pair of slices is a second or two apart
// and no slice pays a start-up, a fork ramp or a connection set-up. Per slice: requests answered
// and the server tree's on-CPU time from /proc/<pid>/task/<tid>/schedstat (ns, not 10 ms ticks).
// Prints, per model and metric, the paired noise and the minimum detectable effect.
//
//   node bench/ci/slices.ts --models event-loop,thread-pool --slices 20 --slice 1 [--slowdown-us N]
//
// A and B run this checkout; with --slowdown-us N, B runs the built-in handler slowed by N µs.
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { descendants } from '../../harness/proc-tree.ts';
import { FrameDecoder, Op, encodeFrame } from '../../src/shared/protocol.ts';
import { slowedHandler } from '../handlers/slowed.ts';
import { startTarget, type RunningServer } from '../server-proc.ts';
import { comparePaired } from './paired.ts';

/** On-CPU ns of every live thread of the tree rooted at `root` (exited threads are not counted). */
export function treeCpuNs(root: number): number {
  let ns = 0;
  for (const pid of [root, ...descendants(root)]) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* gone */
      }
    }
  }
  return ns;
}

/** Closed loop over connections held open across slices: one 64-byte ECHO in flight per connection. */
class HeldLoad {
  readonly #sockets: net.Socket[] = [];
  #until = 0;
  #answered = 0;
  #inFlight = 0;
  #onIdle: (() => void) | null = null;
  readonly #frame = encodeFrame(Op.ECHO, Buffer.alloc(64, 7));

  static async open(port: number, connections: number): Promise<HeldLoad> {
    const load = new HeldLoad();
    await Promise.all(
      Array.from({ length: connections }, () =>
        new Promise<void>((resolve, reject) => {
          const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve());
          s.once('error', reject);
          const decoder = new FrameDecoder(1 << 20);
          s.on('data', (chunk: Buffer) => decoder.push(chunk, () => load.#answer(s)));
          load.#sockets.push(s);
        }),
      ),
    );
    return load;
  }

  #answer(s: net.Socket): void {
    this.#answered++;
    if (performance.now() < this.#until) s.write(this.#frame);
    else if (--this.#inFlight === 0) this.#onIdle?.();
  }

  /** Runs the loop for `ms`, then lets the requests in flight finish; resolves with the answers. */
  slice(ms: number): Promise<number> {
    this.#answered = 0;
    this.#until = performance.now() + ms;
    this.#inFlight = this.#sockets.length;
    for (const s of this.#sockets) s.write(this.#frame);
    return new Promise((resolve) => (this.#onIdle = () => resolve(this.#answered)));
  }

  close(): void {
    for (const s of this.#sockets) s.destroy();
  }
}

interface Side {
  server: RunningServer;
  load: HeldLoad;
}

async function side(model: string, flags: string[], connections: number): Promise<Side> {
  const server = await startTarget({ name: model, kind: 'model' }, ['--drain-timeout', '1', ...flags]);
  const load = await HeldLoad.open(server.port, connections);
  await load.slice(500); // warm-up: JIT, children and threads started, connections served
  return { server, load };
}

async function measure(s: Side, ms: number): Promise<{ rps: number; cpuUsPerReq: number }> {
  const c0 = treeCpuNs(s.server.pid!);
  const t0 = performance.now();
  const answered = await s.load.slice(ms);
  const wall = performance.now() - t0;
  const cpu = treeCpuNs(s.server.pid!) - c0;
  return { rps: (answered * 1000) / wall, cpuUsPerReq: cpu / 1000 / Math.max(1, answered) };
}

async function main(): Promise<void> {
  const args = await yargs(hideBin(process.argv))
    .option('models', { type: 'string', default: 'event-loop,thread-pool,process-pool,offload,thread,process' })
    .option('slices', { type: 'number', default: 20 })
    .option('slice', { type: 'number', default: 1, describe: 'seconds per slice' })
    .option('connections', { type: 'number', default: 32 })
    .option('slowdown-us', { type: 'number', default: 0 })
    .option('rows', { type: 'number', default: 12, describe: 'Bonferroni family for the MDE' })
    .strict()
    .parse();
  const started = Date.now();
  for (const model of args.models.split(',')) {
    const a = await side(model, [], args.connections);
    const b = await side(model, args.slowdownUs > 0 ? ['--handler', slowedHandler(args.slowdownUs)] : [], args.connections);
    const cpu: [number, number][] = [];
    const rps: [number, number][] = [];
    for (let i = 0; i < args.slices; i++) {
      const order = i % 2 ? [b, a] : [a, b];
      const [first, second] = [await measure(order[0]!, args.slice * 1000), await measure(order[1]!, args.slice * 1000)];
      const [ma, mb] = i % 2 ? [second, first] : [first, second];
      cpu.push([ma.cpuUsPerReq, mb.cpuUsPerReq]);
      rps.push([ma.rps, mb.rps]);
    }
    for (const x of [a, b]) {
      x.load.close();
      await x.server.stop();
    }
    const c = comparePaired(cpu, { direction: 'lower-is-better', rows: args.rows });
    const r = comparePaired(rps, { direction: 'higher-is-better', rows: args.rows });
    const f = (x: number) => `${(x * 100).toFixed(1)}%`;
    console.log(
      `${model.padEnd(13)} cpu/req A ${c.baseMedian.toFixed(2)} µs B ${c.headMedian.toFixed(2)} µs change ${f(c.change)} noise ${f(c.noise)} MDE ${f(c.mde)} p ${c.p.toFixed(4)} ${c.verdict} | req/s A ${r.baseMedian.toFixed(0)} change ${f(r.change)} noise ${f(r.noise)} MDE ${f(r.mde)} ${r.verdict}`,
    );
  }
  console.log(`(${args.slices} slice pairs of ${args.slice} s, c=${args.connections}, slowdown ${args.slowdownUs} µs; ${Math.round((Date.now() - started) / 1000)} s)`);
}

await main();
