// A bare TCP echo whose answer crosses to a worker thread and back, without switchboard's code:
// the floor under offload's lone request, with the socket in it (thread-hop.mjs has no socket).
// Run by socket-hop.sh against the C client (bench/validate/echo-client.c) at one connection.
//
//   node bench/micro/socket-hop.mjs --mode net|piscina|shared|ring --port N
//
//   net      answers on the main thread (the no-hop reference, like bare-echo);
//   piscina  each read goes to a one-thread piscina pool as a task that returns it
//            (thread-hop-task.mjs) — offload's transport, with none of offload's code;
//   shared   each read is copied into a SharedArrayBuffer, the thread (parked in Atomics.wait)
//            copies it back and notifies; the main loop awaits that with Atomics.waitAsync. This
//            is the transport a shared-memory offload would use, reduced to one slot.
//   ring     the same hop through src/shared/ring.ts, the transport itself: each read goes into
//            the thread's request ring tagged with its connection, the thread echoes it into its
//            answer ring, the main loop drains that ring whenever its waitAsync settles. Any
//            number in flight, so it also runs at more than one connection.
//
// Not a protocol server: it echoes what one read returns, which is one whole request frame when
// the client keeps a single request in flight (the C client at --connections 1). `shared` has one
// slot, so a read that arrives while the slot is busy is refused with a closed connection.
// Prints "listening pid N" once it accepts.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Ring, ringBuffer } from '../../src/shared/ring.ts';

const REQ = 0; // requests posted (the thread waits on it)
const ANS = 1; // answers posted (the main loop waits on it)
const LEN = 2; // request length
const ALEN = 3; // answer length
const SLOT = 65536;
const layout = (sab) => ({ ctrl: new Int32Array(sab, 0, 4), req: new Uint8Array(sab, 16, SLOT), ans: new Uint8Array(sab, 16 + SLOT, SLOT) });

if (!isMainThread && workerData.rings) {
  // The `ring` mode's thread: each message back as it came (its connection tag included).
  const inbox = new Ring(workerData.rings.requests);
  const outbox = new Ring(workerData.rings.answers);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    inbox.wait();
    let m;
    while ((m = inbox.read())) while (!outbox.write(m)) Atomics.wait(nap, 0, 0, 0.05);
  }
} else if (!isMainThread) {
  // The `shared` mode's thread: nothing but the copy back.
  const { ctrl, req, ans } = layout(workerData);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, REQ, seen);
    seen = Atomics.load(ctrl, REQ);
    const n = Atomics.load(ctrl, LEN);
    ans.set(req.subarray(0, n), 0);
    Atomics.store(ctrl, ALEN, n);
    Atomics.add(ctrl, ANS, 1);
    Atomics.notify(ctrl, ANS);
  }
}

const MODES = ['net', 'piscina', 'shared', 'ring'];
function usage(msg) {
  process.stderr.write(`socket-hop: ${msg}\nusage: node bench/micro/socket-hop.mjs --mode ${MODES.join('|')} --port N\n`);
  process.exit(2);
}
let opts;
try {
  opts = parseArgs({ options: { mode: { type: 'string' }, port: { type: 'string' } } }).values;
} catch (err) {
  usage(err.message);
}
if (!MODES.includes(opts.mode)) usage(`--mode must be one of ${MODES.join(', ')}`);
const port = Number(opts.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be an integer 0..65535');

/** (socket, bytes) → the answer is written to the socket. */
let answer;
if (opts.mode === 'net') answer = (s, d) => s.write(d);
else if (opts.mode === 'piscina') {
  const pool = new Piscina({ filename: new URL('./thread-hop-task.mjs', import.meta.url).href, minThreads: 1, maxThreads: 1, idleTimeout: Infinity });
  await pool.run(0); // the thread is up before we listen
  answer = (s, d) => pool.run(new Uint8Array(d)).then((r) => s.write(r));
} else if (opts.mode === 'ring') {
  const rings = { requests: ringBuffer(1 << 20), answers: ringBuffer(1 << 20) };
  new Worker(new URL(import.meta.url), { workerData: { rings } }).unref();
  const out = new Ring(rings.requests);
  const back = new Ring(rings.answers);
  const sockets = new Map();
  let nextId = 0;
  const tag = Buffer.alloc(4);
  const drain = () => {
    let m;
    while ((m = back.read())) sockets.get(m.readUInt32LE(0))?.write(m.subarray(4));
    const p = back.waitAsync();
    if (p) p.then(drain);
    else setImmediate(drain);
  };
  drain();
  answer = (s, d) => {
    s.ringId ??= (sockets.set(nextId, s), s.once('close', () => sockets.delete(s.ringId)), nextId++);
    tag.writeUInt32LE(s.ringId, 0);
    if (!out.write(tag, d)) s.destroy(); // a bench server: a full 1 MiB ring means the thread is gone
  };
} else {
  const sab = new SharedArrayBuffer(16 + 2 * SLOT);
  const { ctrl, req, ans } = layout(sab);
  new Worker(new URL(import.meta.url), { workerData: sab }).unref();
  let waiting = null;
  let seen = 0;
  const onAnswer = () => {
    seen = Atomics.load(ctrl, ANS);
    const s = waiting;
    waiting = null;
    s.write(Buffer.from(ans.subarray(0, Atomics.load(ctrl, ALEN))));
  };
  answer = (s, d) => {
    if (waiting || d.length > SLOT) return s.destroy(); // one slot: one request at a time
    req.set(d, 0);
    Atomics.store(ctrl, LEN, d.length);
    waiting = s;
    const wait = Atomics.waitAsync(ctrl, ANS, seen); // armed before the thread can answer
    Atomics.add(ctrl, REQ, 1);
    Atomics.notify(ctrl, REQ);
    if (wait.async) wait.value.then(onAnswer);
    else onAnswer();
  };
}

const server = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('data', (d) => answer(s, d));
  s.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => console.log(`listening pid ${process.pid} port ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
