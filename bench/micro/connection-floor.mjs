// The floor under a thread or a process per connection: the least a Node server can do to serve
// one connection on a thread (or child) of its own with a given handler. Plain JavaScript, nothing
// of ours but the handler module: the main thread accepts, starts a bare `new Worker()` (or
// `fork()`) from a few lines of code, moves the socket to it (postMessage transfer, or IPC); the
// thread imports the handler by URL, as every connection's thread must, and answers each frame
// with it until the peer closes, then exits. bench/micro/spawn-ref.mjs times a bare start to its
// first message; this adds what serving a connection cannot skip (the handler's module load,
// Node's `net` and stream set-up inside the new thread or process, the hand-off, the teardown),
// so it says how far the thread and process models' start-up can go down at all
// (docs/PERFORMANCE.md, "What is left").
//
//   node bench/micro/connection-floor.mjs serve thread|fork [HANDLER_URL] → prints "port N" on stdout
//   node bench/micro/connection-floor.mjs drive PORT PID N               → one JSON line: server CPU per connection
//
// Without HANDLER_URL the thread echoes the frames itself. `drive` opens N connections one after
// another (connect, one 64-byte ECHO frame, its answer, close) against any server speaking the
// wire protocol (this one, or `switchboard serve --model thread`), and reads the server's CPU
// from /proc/PID/stat (utime + stime + reaped children's cutime + cstime) around them. The first 3
// connections warm up and are not counted.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';

// What a thread or child runs: frames are [u32 length][op][payload]; each is answered by the
// handler (HANDLER_URL, its `handle` or default export, with the context fields the built-in one
// reads) or, without one, echoed as it came. The project's protocol code is not loaded on purpose.
const SERVE_BODY = `
const serve = async (sock, url) => {
  const mod = url ? await import(url) : null;
  const handle = mod ? (mod.handle ?? mod.default) : null;
  const ctx = { model: 'floor', pid: process.pid, threadId: 0, connection: 1, requests: 0, maxWork: 1000000, peer: '' };
  let buf = Buffer.alloc(0);
  sock.on('data', async (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const n = 4 + buf.readUInt32BE(0);
      const frame = buf.subarray(0, n);
      buf = buf.subarray(n);
      if (!handle) { sock.write(frame); continue; }
      ctx.requests++;
      const r = await handle(frame[4], frame.subarray(5), ctx);
      const head = Buffer.alloc(5);
      head.writeUInt32BE(1 + r.payload.length, 0);
      head[4] = r.op;
      sock.write(Buffer.concat([head, r.payload]));
    }
  });
  sock.on('error', () => {});
  sock.on('close', () => process.exit(0));
  sock.resume();
};`;
const THREAD_CODE = `${SERVE_BODY}
const { parentPort, workerData } = require('node:worker_threads');
parentPort.once('message', (m) => serve(m.socket, workerData));`;

const [mode, a, b, c] = process.argv.slice(2);
const usage = 'usage: node bench/micro/connection-floor.mjs serve thread|fork [HANDLER_URL] | drive PORT PID N';

if (mode === 'child') {
  eval(SERVE_BODY.replace('const serve', 'globalThis.serve'));
  process.once('message', (_m, socket) => globalThis.serve(socket, a));
  process.send('ready');
} else if (mode === 'serve' && (a === 'thread' || a === 'fork')) {
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    if (a === 'thread') {
      const w = new Worker(THREAD_CODE, { eval: true, workerData: b });
      w.postMessage({ socket }, [socket]);
    } else {
      const child = fork(new URL(import.meta.url).pathname, ['child', ...(b ? [b] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
      child.once('message', () => child.send('socket', socket));
      child.once('exit', () => socket.destroy());
    }
  });
  server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
} else if (mode === 'drive' && Number(a) > 0 && Number(b) > 0 && Number(c) >= 1) {
  const port = Number(a);
  const pid = Number(b);
  const n = Number(c);
  const cpuUs = () => {
    const f = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1e6) / 100; // utime stime cutime cstime, CLK_TCK 100
  };
  const frame = Buffer.alloc(4 + 1 + 64, 7);
  frame.writeUInt32BE(65, 0);
  frame[4] = 0x01;
  const one = () =>
    new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => s.write(frame));
      const got = [];
      let bytes = 0;
      s.on('data', (d) => {
        got.push(d);
        bytes += d.length;
        if (bytes >= frame.length) s.end();
      });
      s.on('error', reject);
      // An ECHO answer is the request's frame, byte for byte.
      s.on('close', () => (Buffer.concat(got).equals(frame) ? resolve() : reject(new Error(`the answer was not the echo (${bytes} bytes, ${frame.length} expected)`))));
    });
  for (let i = 0; i < 3; i++) await one();
  await new Promise((r) => setTimeout(r, 200)); // let the warm-up's threads or children finish exiting
  const t0 = cpuUs();
  const w0 = performance.now();
  for (let i = 0; i < n; i++) await one();
  await new Promise((r) => setTimeout(r, 300)); // the last teardown belongs to the count
  process.stdout.write(`${JSON.stringify({ n, cpuMsPerConnection: (cpuUs() - t0) / 1000 / n, wallMsPerConnection: (performance.now() - w0 - 300) / n })}\n`);
} else {
  console.error(usage);
  process.exit(2);
}
