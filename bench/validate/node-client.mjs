// The floor under any Node load generator: echo-client.c's closed-loop ECHO client, written in
// the fewest lines of plain Node that do the same job, so bench/validate can tell apart what a
// Node client costs (the event loop, libuv, net.Socket's write path) from what the benchmark's
// own load generator (bench/loadgen/) adds on top. Where the harness trails the C client and this
// client trails it as much, the gap is Node's, not the harness's.
//
// Same command line, counting rules and JSON line as echo-client.c (read its header comment):
// one request in flight per connection, every answer byte checked, a request counts when sent
// inside the window, exact latencies sorted at the end, warm-up requests still waiting at window
// end added as samples of their age, in-window requests unanswered after the grace added (and
// counted as errors), and the same coordinated-omission correction on the exact samples.
// What it leaves out is everything the harness does per request beyond that: no HDR histogram,
// no per-kind or per-connection accounting beyond "answered in the window", no loop probe.
// Requests rotate over 4 payloads per connection (the harness's variants) instead of the C
// client's fresh bytes per request: building bytes per request would be the costliest line here.
//
// Exit 0 once it ran, 1 on connect failure, 2 on bad usage.
import net from 'node:net';
import { parseArgs } from 'node:util';

const usage = 'usage: node bench/validate/node-client.mjs --port PORT [--host H] [--connections N] [--payload BYTES] [--warmup S] [--duration S] [--grace S] [--busy-poll]';
let values;
try {
  ({ values } = parseArgs({
    options: {
      host: { type: 'string', short: 'H', default: '127.0.0.1' },
      port: { type: 'string', short: 'p' },
      connections: { type: 'string', short: 'c', default: '1' },
      payload: { type: 'string', short: 'b', default: '64' },
      warmup: { type: 'string', short: 'w', default: '1' },
      duration: { type: 'string', short: 'd', default: '3' },
      grace: { type: 'string', short: 'g' },
      'busy-poll': { type: 'boolean', short: 'B', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  console.error(`node-client: ${err.message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
function num(name, min, max) {
  const v = Number(values[name]);
  if (values[name] === undefined || !Number.isFinite(v) || v < min || v > max) {
    console.error(`node-client: --${name}: expected a number in [${min}, ${max}], got "${values[name]}"\n${usage}`);
    process.exit(2);
  }
  return v;
}
const port = num('port', 1, 65535);
const conns = num('connections', 1, 100_000);
const payloadBytes = num('payload', 1, 1 << 20);
const warmupMs = num('warmup', 0, 3600) * 1000;
const durationMs = num('duration', 0.1, 3600) * 1000;
const graceMs = values.grace === undefined ? Math.min(2000, Math.max(500, durationMs / 4)) : num('grace', 0, 3600) * 1000;

const frameLen = 4 + 1 + payloadBytes;
function frame(conn, variant) {
  const f = Buffer.allocUnsafe(frameLen);
  f.writeUInt32BE(payloadBytes + 1, 0);
  f[4] = 0x01; // ECHO
  for (let i = 0; i < payloadBytes; i++) f[5 + i] = (conn * 131 + variant * 31 + i * 7) & 0xff;
  return f;
}

const READ = Buffer.allocUnsafe(64 * 1024);
// Exact latencies (ns) in a typed array that doubles when full: its backing store lives outside the
// JS heap, so keeping 300,000 samples costs no GC (a plain array of them caused 2–4 ms scavenges).
let samples = new Float64Array(1 << 18);
let n = 0;
function addSample(ns) {
  if (n === samples.length) {
    const bigger = new Float64Array(samples.length * 2);
    bigger.set(samples);
    samples = bigger;
  }
  samples[n++] = Math.round(ns);
}
let requests = 0, errors = 0, mismatches = 0, unanswered = 0, ageSamples = 0;
let measureFrom = Infinity, measureTo = Infinity, ended = false;
const nowNs = () => performance.now() * 1e6;

class Conn {
  constructor(index) {
    this.frames = [0, 1, 2, 3].map((v) => frame(index, v));
    this.next = 0;
    this.sentAt = 0;
    this.got = 0; // bytes of the current answer read so far
    this.outstanding = false;
    this.inWindow = 0;
    this.dead = false;
    this.sock = null;
  }
  send() {
    this.req = this.frames[this.next];
    this.next = (this.next + 1) & 3;
    this.got = 0;
    this.outstanding = true;
    this.sentAt = nowNs();
    this.sock.write(this.req);
  }
  /** `n` bytes of this connection's stream at the start of READ. */
  onBytes(n) {
    if (!this.outstanding || this.got + n > frameLen || READ.compare(this.req, this.got, this.got + n, 0, n) !== 0) {
      mismatches++;
      return this.drop(false);
    }
    this.got += n;
    if (this.got < frameLen) return;
    const t = nowNs();
    this.outstanding = false;
    if (this.sentAt >= measureFrom && this.sentAt < measureTo) {
      requests++;
      addSample(t - this.sentAt);
    }
    if (t >= measureFrom && t < measureTo) this.inWindow++;
    if (!ended && t < measureTo) this.send();
    else maybeDone();
  }
  drop(error) {
    if (this.dead) return;
    this.dead = true;
    if (error) errors++;
    if (this.outstanding && this.sentAt >= measureFrom && this.sentAt < measureTo) unanswered++;
    this.outstanding = false;
    this.sock?.destroy();
    maybeDone();
  }
}

const all = Array.from({ length: conns }, (_, i) => new Conn(i));
try {
  await Promise.all(
    all.map(
      (c) =>
        new Promise((resolve, reject) => {
          const s = net.connect({ host: values.host, port, noDelay: true, onread: { buffer: READ, callback: (n) => (c.onBytes(n), true) } });
          c.sock = s;
          s.once('connect', resolve);
          s.once('error', reject);
        }),
    ),
  );
} catch (err) {
  console.error(`node-client: connect to ${values.host}:${port} failed: ${err.message}`);
  process.exit(1);
}
for (const c of all) {
  c.sock.removeAllListeners('error');
  c.sock.on('error', () => c.drop(true));
  c.sock.on('close', () => c.drop(true));
}

// Busy-polling, as the C client's epoll_wait(0): a chain of setImmediate keeps the poll timeout 0.
let spinning = values['busy-poll'];
const spin = () => spinning && setImmediate(spin);
spin();

const start = nowNs();
measureFrom = start + warmupMs * 1e6;
measureTo = measureFrom + durationMs * 1e6;
let cpu0, cpu1, graceTimer;
setTimeout(() => (cpu0 = process.cpuUsage()), warmupMs);
setTimeout(() => {
  cpu1 = process.cpuUsage(cpu0);
  ended = true;
  for (const c of all) {
    if (!c.dead && c.outstanding && c.sentAt < measureFrom) {
      addSample(measureTo - c.sentAt);
      ageSamples++;
    }
  }
  graceTimer = setTimeout(finish, graceMs);
  maybeDone();
}, warmupMs + durationMs);
for (const c of all) c.send();

function maybeDone() {
  if (!ended) return;
  if (all.some((c) => !c.dead && c.outstanding && c.sentAt >= measureFrom)) return;
  finish();
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(graceTimer);
  spinning = false;
  const end = nowNs();
  let active = 0;
  for (const c of all) {
    if (c.inWindow) active++;
    if (!c.dead && c.outstanding && c.sentAt >= measureFrom && c.sentAt < measureTo) {
      addSample(end - c.sentAt);
      ageSamples++;
      unanswered++;
      errors++;
    }
    c.dead = true;
    c.sock.destroy();
  }
  samples = samples.subarray(0, n).sort();
  const pct = (q) => (n ? samples[Math.min(n, Math.max(1, Math.ceil(q * n - 1e-9))) - 1] / 1000 : 0);
  const interval = n ? pct(0.5) * 1000 : 0;
  // echo-client.c's co_count_le/co_pct_us: corrected samples ≤ x, found by bisection on x.
  const coCountLe = (x) => {
    let count = 0;
    for (const v of samples) {
      if (v <= x) count++;
      const kMax = interval > 0 ? Math.floor(v / interval) - 1 : 0;
      if (kMax < 1) continue;
      const kMin = Math.max(1, v <= x ? 1 : Math.ceil((v - x) / interval));
      if (kMin <= kMax) count += kMax - kMin + 1;
    }
    return count;
  };
  const coPct = (q) => {
    if (!n || interval <= 0) return pct(q);
    const rank = Math.max(1, Math.ceil(q * coCountLe(samples[n - 1]) - 1e-9));
    let lo = 0, hi = samples[n - 1];
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (coCountLe(mid) >= rank) hi = mid;
      else lo = mid + 1;
    }
    return lo / 1000;
  };
  const windowS = durationMs / 1000;
  console.log(JSON.stringify({
    connections: conns, payloadBytes, windowS, requests, throughput: requests / windowS,
    p50Us: pct(0.5), p90Us: pct(0.9), p99Us: pct(0.99), p999Us: pct(0.999), maxUs: n ? samples[n - 1] / 1000 : 0,
    errors, mismatches, activeConnections: active, cpuUserS: (cpu1?.user ?? 0) / 1e6, cpuSysS: (cpu1?.system ?? 0) / 1e6,
    unanswered, ageSamples, graceS: graceMs / 1000,
    coIntervalUs: interval / 1000, p50CoUs: coPct(0.5), p90CoUs: coPct(0.9), p99CoUs: coPct(0.99), p999CoUs: coPct(0.999),
  }));
  process.exit(0);
}
