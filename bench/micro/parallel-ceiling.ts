// The machine's own ceiling for a parallel speed-up, measured next to work-1ms-all-cpus in each
// round: N threads running the WORK op's SHA-256 chain at once, their combined rate ÷ one thread's
// alone. A VM's vCPUs can share a physical core or a busy host: on this 2-core VM two busy CPUs
// have each run at about half speed for minutes at a time with no steal in /proc/stat (make bench
// 2026-12-04: 1.8 ms of server CPU per 1 ms WORK in most all-CPU cells), so "2 CPUs" does not say
// how much faster two threads can be. This says it for the minute the cells ran in.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface ParallelCeilingRow {
  round: number;
  /** Threads run at once (the CPUs the shared cells' server may use). */
  threads: number;
  /** SHA-256 chains per second: one thread alone, then all `threads` together. */
  aloneRate: number;
  togetherRate: number;
  /**
   * togetherRate ÷ aloneRate: what `threads` threads of this work got at once here, just before
   * the cells. Context, not a bound: the host changes within seconds.
   */
  ceiling: number;
}

const WORK_URL = new URL('../../src/shared/builtin-handler.ts', import.meta.url).href;

// Plain CommonJS (an eval worker): loads the built-in handler's workDigest, so the probe runs
// exactly the work the cells' WORK requests run, then counts chains of 50 rounds until `ms` pass.
const BODY = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.url).then(({ workDigest }) => {
  const seed = Buffer.from('switchboard-ceiling');
  workDigest(2000, seed);
  parentPort.once('message', () => {
    const end = performance.now() + workerData.ms;
    let n = 0;
    while (performance.now() < end) { workDigest(50, seed); n++; }
    parentPort.postMessage(n);
  });
  parentPort.postMessage('ready');
});`;

/** Runs `threads` workers at once for `ms`; chains per second over all of them. */
async function rateOf(threads: number, ms: number): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(BODY, { eval: true, workerData: { url: WORK_URL, ms } }));
  try {
    const message = (w: Worker) =>
      new Promise<unknown>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    await Promise.all(workers.map(message)); // every thread loaded and warm before any starts
    const counts = workers.map(message);
    for (const w of workers) w.postMessage('go');
    const total = (await Promise.all(counts)).reduce((a: number, b) => a + (b as number), 0);
    return total / (ms / 1000);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** One thread alone, then `threads` together (default: every CPU), each for `ms`. */
export async function parallelCeiling(round: number, { threads = availableParallelism(), ms = 400 } = {}): Promise<ParallelCeilingRow> {
  const aloneRate = await rateOf(1, ms);
  const togetherRate = await rateOf(threads, ms);
  return { round, threads, aloneRate, togetherRate, ceiling: togetherRate / aloneRate };
}
