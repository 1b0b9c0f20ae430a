// Micro-benchmarks of each hand-off the models make (tinybench), one operation at a time, with
// nothing else running: moving an accepted socket to a worker thread (thread, thread-pool) or to a
// child over IPC (process, process-pool), a request to a pool thread through its shared-memory
// rings and back (offload's way), alone and as one of 32 written in one turn, and the same to a
// piscina pool (the transport offload used before its rings; thread-pool's pool). The socket rows include making the TCP connection, so the
// first row times that alone: a hand-off costs its row minus the first.
//   node bench/micro/handoff.ts
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Bench } from 'tinybench';
import { Ring, ringBuffer } from '../../src/shared/ring.ts';

const PEER = fileURLToPath(new URL('./handoff-peer.mjs', import.meta.url));
const TASK = fileURLToPath(new URL('./handoff-task.mjs', import.meta.url));

export interface HandoffRow {
  name: string;
  /** µs per operation (a batch row: per request). */
  mean: number;
  p50: number;
  p99: number;
  samples: number;
}

type Latency = { p50: number; p99: number; mean: number; samplesCount: number };

export async function handoffBench({ timeMs = 500 } = {}): Promise<HandoffRow[]> {
  const server = net.createServer();
  const accepted: net.Socket[] = [];
  const waiting: ((s: net.Socket) => void)[] = [];
  server.on('connection', (s) => (waiting.length ? waiting.shift()!(s) : accepted.push(s)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const nextAccepted = () => (accepted.length ? Promise.resolve(accepted.shift()!) : new Promise<net.Socket>((resolve) => waiting.push(resolve)));
  /** A fresh TCP connection: the client end, and the server end as accepted. */
  const pair = async (): Promise<[net.Socket, net.Socket]> => {
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => {});
    const [, s] = await Promise.all([new Promise((r) => client.once('connect', r)), nextAccepted()]);
    return [client, s];
  };

  const worker = new Worker(PEER, { workerData: { role: 'thread' } });
  const fromWorker = () => new Promise((resolve) => worker.once('message', resolve));
  const child = fork(PEER, ['child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  await new Promise((resolve) => child.once('message', resolve));
  const fromChild = () => new Promise((resolve) => child.once('message', resolve));
  const pool = new Piscina({ filename: TASK, minThreads: 1, maxThreads: 1 });
  await pool.run(new Uint8Array(64));
  const rings = { requests: ringBuffer(1 << 16), answers: ringBuffer(1 << 16) };
  const ringPeer = new Worker(PEER, { workerData: { role: 'ring', ...rings } });
  await new Promise((resolve) => ringPeer.once('message', resolve));
  const toRing = new Ring(rings.requests);
  const fromRing = new Ring(rings.answers);
  /** Waits for `n` answers on the answer ring, as offload's main loop does (Atomics.waitAsync). */
  const ringAnswers = async (n: number) => {
    for (let got = 0; ; ) {
      while (fromRing.read()) got++;
      if (got >= n) return;
      await (fromRing.waitAsync() ?? Promise.resolve());
    }
  };

  const bench = new Bench({ time: timeMs, warmupTime: 100 });
  const batch = 32;
  bench
    .add('TCP connect + accept (what the socket rows below include)', async () => {
      const [c, s] = await pair();
      s.destroy();
      c.destroy();
    })
    .add('socket → worker thread (postMessage transfer), destroyed there, ack back', async () => {
      const [c, s] = await pair();
      const ack = fromWorker();
      worker.postMessage({ socket: s }, [s as never]);
      await ack;
      c.destroy();
    })
    .add('socket → child process (IPC, SCM_RIGHTS), destroyed there, ack back', async () => {
      const [c, s] = await pair();
      const ack = fromChild();
      child.send('socket', s);
      await ack;
      c.destroy();
    })
    .add('64 B request → worker thread over its port and back (postMessage, moved)', async () => {
      const answer = fromWorker();
      const payload = new Uint8Array(64);
      worker.postMessage({ payload }, [payload.buffer]);
      await answer;
    })
    .add('64 B request → pool thread through its rings and back (offload’s way)', async () => {
      toRing.write(new Uint8Array(64));
      await ringAnswers(1);
    })
    .add(`64 B requests → pool thread through its rings and back, ${batch} in one turn (per request)`, async () => {
      for (let i = 0; i < batch; i++) toRing.write(new Uint8Array(64), undefined, false);
      toRing.wake();
      await ringAnswers(batch);
    })
    .add('64 B request → piscina pool and back (one task)', async () => {
      await pool.run(new Uint8Array(64));
    })
    .add(`64 B requests → piscina pool and back, ${batch} per task (per request)`, async () => {
      await pool.run(Array.from({ length: batch }, () => new Uint8Array(64)));
    });
  try {
    await bench.run();
  } finally {
    await pool.destroy();
    toRing.close();
    await ringPeer.terminate();
    await worker.terminate();
    child.kill();
    for (const s of accepted) s.destroy();
    server.close();
  }
  return bench.tasks.map((t) => {
    const lat = (t.result as { latency?: Latency }).latency;
    if (!lat) throw new Error(`tinybench produced no latency statistics for "${t.name}"`);
    const per = t.name.includes('(per request)') ? batch : 1;
    return { name: t.name, mean: (lat.mean * 1000) / per, p50: (lat.p50 * 1000) / per, p99: (lat.p99 * 1000) / per, samples: lat.samplesCount };
  });
}

if (import.meta.main) console.table(await handoffBench());
