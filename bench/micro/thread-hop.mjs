// The floor under offload's unloaded latency: one request's round trip from a main thread that is
// an event loop (it sleeps in epoll_wait between requests, as a server does) to a thread parked in
// Atomics.wait and back, with nothing else on either side — no task object, no clone, no handler.
// offload's lone request pays event-loop's path plus at least one such round trip, so
// (event-loop's p50 + this p50) ÷ event-loop's p50 is the lowest its p50 ratio can be.
//
//   node bench/micro/thread-hop.mjs [N]   → one JSON line on stdout: { rows: [ … ] }
//
// Three ways back, each N round trips after N/10 not counted (warmUp):
//   port        piscina's own: the thread answers with a MessagePort message, which wakes the
//               main loop through libuv (what offload's pool does today, per task);
//   waitasync   shared memory both ways: the main thread waits with Atomics.waitAsync, which V8
//               settles on the main loop when the thread notifies (no message, no clone);
//   piscina     a bare piscina pool of one thread running a task that returns its 64-byte input
//               (thread-hop-task.mjs): the port way plus piscina's own task machinery, which is
//               what offload builds on, so offload's p50 above this one is ours.
// Between round trips the main thread goes back to its loop (setImmediate), so every trip starts
// from a loop turn, as a request decoded from a socket does. CPU = this process (every thread).
// Plain JavaScript on purpose: it must cost what Node costs, not what our code costs. Run it on
// the server's CPUs (bench/micro/hop.ts does): on one CPU a wake is a context switch, on two an
// inter-processor wake-up, and the two differ several-fold on a VM.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';

const MODES = ['port', 'waitasync', 'piscina'];
/** Round trips run before the measured ones: the first wakes of a new thread are not the steady state. */
const warmUp = (n) => Math.ceil(n / 10);

if (!isMainThread) {
  const { mode, sab } = workerData;
  const flag = new Int32Array(sab); // [0]: 1 = request posted, 0 = answered; [1]: 1 = stop
  parentPort.postMessage('ready');
  for (;;) {
    Atomics.wait(flag, 0, 0);
    if (Atomics.load(flag, 1) === 1) break;
    Atomics.store(flag, 0, 0);
    if (mode === 'waitasync') Atomics.notify(flag, 0);
    else parentPort.postMessage(0);
  }
  parentPort.close();
} else {
  const n = Number(process.argv[2] ?? 5000);
  if (!Number.isInteger(n) || n < 10 || n > 10_000_000) {
    console.error('usage: node bench/micro/thread-hop.mjs [N]   (N round trips per mode, 10 … 10,000,000; default 5000)');
    process.exit(2);
  }
  const rows = [];
  for (const mode of MODES) rows.push(await measure(mode, n));
  console.log(JSON.stringify({ rows }));
}

async function measure(mode, n) {
  if (mode === 'piscina') return measurePiscina(n);
  const sab = new SharedArrayBuffer(8);
  const flag = new Int32Array(sab);
  const worker = new Worker(new URL(import.meta.url), { workerData: { mode, sab } });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const lat = new Float64Array(n);
  let i = -warmUp(n);
  let sentAt = 0;
  let cpu0 = null;
  await new Promise((done) => {
    const answered = () => {
      if (i >= 0) lat[i] = performance.now() - sentAt;
      if (++i === 0) cpu0 = process.cpuUsage();
      if (i === n) return done();
      setImmediate(send);
    };
    const send = () => {
      sentAt = performance.now();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      if (mode === 'waitasync') {
        const w = Atomics.waitAsync(flag, 0, 1);
        if (w.async) w.value.then(answered);
        else answered(); // the thread answered before we waited (it ran on another CPU)
      }
    };
    if (mode === 'port') worker.on('message', answered);
    send();
  });
  const cpu = process.cpuUsage(cpu0);
  Atomics.store(flag, 1, 1);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  await new Promise((resolve) => worker.once('exit', resolve));
  return row(mode, lat, cpu);
}

async function measurePiscina(n) {
  const pool = new Piscina({ filename: new URL('./thread-hop-task.mjs', import.meta.url).href, minThreads: 1, maxThreads: 1, idleTimeout: Infinity });
  const task = new Uint8Array(64);
  const lat = new Float64Array(n);
  let cpu0 = null;
  for (let i = -warmUp(n); i < n; i++) {
    if (i === 0) cpu0 = process.cpuUsage();
    await new Promise((resolve) => setImmediate(resolve)); // each task from a fresh loop turn
    const sentAt = performance.now();
    await pool.run(task);
    if (i >= 0) lat[i] = performance.now() - sentAt;
  }
  const cpu = process.cpuUsage(cpu0);
  await pool.destroy();
  return row('piscina', lat, cpu);
}

/** One mode's row: latencies (ms, sorted here) → p50 and p99 in µs; CPU over the measured trips. */
function row(mode, lat, cpu) {
  const n = lat.length;
  lat.sort();
  const q = (p) => lat[Math.min(n - 1, Math.floor(n * p))] * 1000;
  return { mode, n, p50Us: q(0.5), p99Us: q(0.99), cpuUsPerTrip: (cpu.user + cpu.system) / n };
}
