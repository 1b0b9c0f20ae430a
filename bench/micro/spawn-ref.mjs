// The reference start-up cells of `make bench` (issue: hand-off costs): a bare `new Worker()` and a
// bare `fork()`, each to its first message, N in a row, as cheap as Node makes them — no
// TypeScript, no module graph, no handler. What the thread and process models pay per connection
// in the churn cell is judged against these, measured in the same run on the same CPU.
//
//   node bench/micro/spawn-ref.mjs worker|fork N   → one JSON line on stdout
//
// CPU per start = this process's CPU over the N starts (every thread: getrusage via
// process.cpuUsage) + the CPU of the children it reaped (/proc/self/stat cutime + cstime), / N.
// Plain JavaScript on purpose: this file must cost what Node costs, not what our loader costs.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

if (process.argv[2] === '--child') {
  process.send('ready');
  process.on('message', () => process.exit(0));
} else {
  const kind = process.argv[2];
  const n = Number(process.argv[3] ?? 20);
  if (!['worker', 'fork'].includes(kind) || !(n >= 1)) {
    console.error('usage: node bench/micro/spawn-ref.mjs worker|fork N');
    process.exit(2);
  }
  const ticks = 100; // CLK_TCK on Linux
  const reaped = () => {
    try {
      const f = readFileSync('/proc/self/stat', 'latin1').split(') ')[1].split(' ');
      return ((Number(f[13]) + Number(f[14])) * 1e6) / ticks; // cutime, cstime (fields 16, 17)
    } catch {
      return 0;
    }
  };
  const self = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const one = async () => {
    const t = performance.now();
    if (kind === 'worker') {
      const w = new Worker("require('node:worker_threads').parentPort.postMessage(1)", { eval: true });
      await new Promise((resolve) => w.once('message', resolve));
      const ms = performance.now() - t;
      await w.terminate();
      return ms;
    }
    const c = fork(new URL(import.meta.url).pathname, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    await new Promise((resolve) => c.once('message', resolve));
    const ms = performance.now() - t;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.send('exit');
    await exited;
    return ms;
  };
  for (let i = 0; i < 2; i++) await one(); // warm: the first start pays for loading this code
  const cpu0 = self() + reaped();
  const wall = [];
  for (let i = 0; i < n; i++) wall.push(await one());
  const cpuUs = self() + reaped() - cpu0;
  wall.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ kind, n, cpuUsPerStart: cpuUs / n, wallMsP50: wall[n >> 1] })}\n`);
}
