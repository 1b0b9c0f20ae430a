// One load-generator thread: drives its share of the connections, checks every response, and
// records latency (µs) into its own HDR histogram, which the parent decodes and merges.
//
// Latency is measured from the moment a request was *meant* to be sent:
//   closed loop  the moment it was written (the previous answer arrived),
//   open loop    its slot in the fixed-rate schedule, whether or not the connection could send
//                then (coordinated-omission correction, as wrk2 does): a server that stalls for
//                200 ms shows 200 ms of latency on every request scheduled during the stall,
//   churn        the moment the connection was opened (connect + request + answer).
// A request belongs to the measured window (throughput, error counts) when that start moment
// falls inside it. Latency samples are wider, so that a connection the server starves cannot
// vanish from the figures (closed-loop coordinated omission):
//   - a request sent during warm-up and answered inside the window is a sample of its whole wait;
//   - a request sent during warm-up and still unanswered when the window ends is a sample of its
//     age then (its answer, if it comes later, adds nothing);
//   - a request sent inside the window and still unanswered when the grace period ends is a
//     sample of its age then (and counted as unanswered).
// Per connection it counts the correct answers that arrived inside the window: a connection
// with none was starved (fairness and served/starved are computed from these counts).
// The thread also measures itself over the window: its CPU time, its wait for a CPU, and how
// long its loop takes to come round (LoopTurnProbe), so a client too busy to read answers
// promptly shows in the results instead of in the tail.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { encodeHistogram, newHistogram, recordMs, type Histogram } from '../../harness/histogram.ts';
import { connectSocket } from '../../src/shared/client.ts';
import { FrameDecoder, HEADER_BYTES, LENGTH_BYTES, Op, parseError } from '../../src/shared/protocol.ts';
import { describeRequest, judge, loadChecks } from '../mix/expect.ts';
import { loadMix } from '../mix/parse.ts';
import { MixSource } from '../mix/source.ts';
import type { MixRequest } from '../mix/types.ts';
import { emptyCounters, emptyKindCounters, nowMs, type DoneMsg, type KindCounters, type ReadyMsg, type Schedule, type WorkerConfig } from './types.ts';

const cfg = workerData as WorkerConfig;
const variants = cfg.variants.map((v) => ({ frame: Buffer.from(v.frame), op: v.op, payload: Buffer.from(v.payload) }));
/**
 * A user's traffic mix (--mix) instead of the fixed variants: each connection draws its requests
 * from its own seeded MixSource (the same sequence in every run and under every model), and every
 * answer is judged by the kind's expectation. Counted per kind as well as in total.
 */
const mix = cfg.mixFile ? loadMix(cfg.mixFile) : null;
const checks = mix ? await loadChecks(mix) : {};
const mixSource = (slot: number) => new MixSource(mix!, cfg.connOffset + slot);

/**
 * What a correct answer is recorded into, for one span of time [from, to). There are two, of one
 * shape, made by one function: the measured window's, which is reported, and the warm-up's, which
 * is thrown away. The warm-up records by the same code into its own, so that the recording path
 * (the counters, the histogram's recordValue chain) is compiled and hot when the window opens.
 * Recording nothing before the window, V8 compiled and deoptimized that path at the window's
 * start: `perf record -e sched:sched_switch` showed ≈ 35 ms of V8's compiler threads on the
 * client's CPU in the window's first 200 ms, each a 1–5 ms stall of the load thread, in the very
 * tail being measured (--trace-opt: recordMs, recordValue, … first compiled after the window opened).
 */
interface Tally {
  from: number;
  to: number;
  readonly counters: ReturnType<typeof emptyCounters>;
  readonly histogram: Histogram;
  /** Correct answers that arrived inside [from, to), per connection (or churn loop). */
  readonly perConnection: number[];
  readonly perKind: { counters: KindCounters; histogram: Histogram }[];
}
const newTally = (): Tally => ({
  from: Infinity,
  to: -Infinity,
  counters: emptyCounters(),
  histogram: newHistogram(),
  perConnection: new Array<number>(cfg.connections).fill(0),
  perKind: (mix?.kinds ?? []).map(() => ({ counters: emptyKindCounters(), histogram: newHistogram() })),
});
/** The window's: from/to are set by go() to the schedule's measureFrom/measureTo. */
const measured = newTally();
/**
 * The warm-up's: from halfway through the warm-up to measureFrom, so that it sees answers to
 * requests sent before it starts, as the window does (see record).
 */
const warm = newTally();
/** Indexed, not chosen by a branch: a branch the warm-up never took would deoptimize record when the window opens. */
const tallies: readonly [Tally, Tally] = [warm, measured];
const { counters, histogram, perConnection, perKind } = measured;
/** Churn: start of the request each loop has in flight (null when none). */
const churnStarts: (number | null)[] = new Array(cfg.connections).fill(null);
const churnReqs: (MixRequest | null)[] = new Array(cfg.connections).fill(null);
/**
 * How long this thread's loop takes to come round: every ~5 ms a timer schedules a setImmediate
 * and records how long it waited to run — the I/O callbacks (answers arriving, requests sent)
 * and any GC pause the loop went through in between. That is how long an answer that has
 * arrived can wait before the client reads it. (perf_hooks.monitorEventLoopDelay cannot see this:
 * it times libuv timers, which run on a millisecond clock — on an idle loop its p99 is ≈ 1.2 ms
 * at resolution 1 ms — so it cannot resolve the sub-millisecond delays that matter here.)
 */
/**
 * Probe cadence: at 1 ms the probe itself cost the load thread 0.07–0.15 cores at c = 1; 5 ms gives
 * 600 samples in a 3 s window. Only for a thread that sleeps: a spinning one times its own turns
 * (Spinner.turns), because the probe's timer, even every 5 ms, doubled the harness's p99.9 at
 * c = 1 against the bare Node echo (≈ 600 against ≈ 300 µs, 3 interleaved runs each) and took its
 * coordinated-omission-corrected p99 from ≈ 0.9 to ≈ 1.4 ms.
 */
const PROBE_EVERY_MS = 5;

class LoopTurnProbe {
  readonly h = newHistogram();
  #on = false;
  #timer: NodeJS.Timeout | null = null;
  start(): void {
    this.#on = true;
    this.#tick();
  }
  stop(): void {
    this.#on = false;
    if (this.#timer) clearTimeout(this.#timer);
  }
  #tick = (): void => {
    if (!this.#on) return;
    const t0 = performance.now();
    setImmediate(() => {
      if (!this.#on) return;
      recordMs(this.h, performance.now() - t0);
      this.#timer = setTimeout(this.#tick, PROBE_EVERY_MS);
    });
  };
}

/**
 * Busy-polling (cfg.spin): a chain of setImmediate keeps the loop turning with a zero poll
 * timeout, so this thread never sleeps in epoll_wait while a run is on. A sleeping client must be
 * woken by the kernel for every answer; on this VM that cost the server as much as the client
 * (the C client, same server, c = 32: 62–63k req/s sleeping, 79k busy-polling), and its wake-up
 * time was inside every latency sample. Only where the thread has a CPU of its own (see
 * bench/placement.ts clientSpins): two spinners on one core would take turns by time slice.
 *
 * A spinning thread's CPU time is always its whole core, so it measures its own load instead: a
 * turn of the loop in which no I/O happened is idle, and the thread's busy time is the window
 * minus those turns.
 */
class Spinner {
  #on = false;
  #last = 0;
  /** Set by every I/O callback; cleared by each turn of the spinner. */
  io = false;
  idleMs = 0;
  /**
   * While set, every turn's length goes here: spinning, one turn of the loop is how long an answer
   * that has arrived can wait to be read, the figure LoopTurnProbe samples for a sleeping thread.
   */
  turns: Histogram | null = null;
  start(): void {
    if (this.#on) return;
    this.#on = true;
    this.#last = performance.now();
    setImmediate(this.#turn);
  }
  stop(): void {
    this.#on = false;
  }
  #turn = (): void => {
    if (!this.#on) return;
    const t = performance.now();
    if (!this.io) this.idleMs += t - this.#last;
    if (this.turns) recordMs(this.turns, t - this.#last);
    this.io = false;
    this.#last = t;
    setImmediate(this.#turn);
  };
}
const spinner = new Spinner();

const selfMeasure = { cpu0: null as NodeJS.CpuUsage | null, t0: 0, cpuUs: 0, busyUs: null as number | null, wait0: null as number | null, runqueueWaitUs: null as number | null, loop: new LoopTurnProbe() };

/**
 * Nanoseconds this thread has spent runnable but waiting for a CPU (the kernel's schedstat,
 * field 2), or null where it is not available: the direct measure of a client that was given
 * less CPU than it wanted.
 */
function runqueueWaitNs(): number | null {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[1]);
  } catch {
    return null;
  }
}
const MAX_FRAME = 64 * 1024 * 1024;
/** Every active connection of this thread reads into this one buffer; see Active.onBytes. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/** Open loop: requests queued on one connection beyond this wait client-side (and stay late). */
const MAX_OUTSTANDING = 1024;
let firstError: string | undefined;
let schedule: Schedule | null = null;
let stopping = false;
const note = (msg: string) => {
  firstError ??= msg;
};

/** Whether moment `x` falls inside tally `t`'s span [from, to). */
const within = (t: Tally, x: number): boolean => x >= t.from && x < t.to;

/** The measured window (empty until go() sets it from the schedule). */
const inWindow = (x: number): boolean => within(measured, x);

const sample = (ms: number) => recordMs(histogram, ms);

/**
 * A correct answer on connection `slot` to a request (of mix kind `kind`) started at `start`,
 * arriving at `end`: into the warm-up's tally before the window, else the window's.
 */
function record(start: number, end: number, bytes: number, slot: number, kind = -1): void {
  const t = tallies[+(end >= warm.to)]!;
  const endIn = within(t, end);
  const counted = within(t, start); // sent inside the span: counted in throughput
  if (endIn) t.perConnection[slot]!++;
  if (counted || endIn) recordMs(t.histogram, end - start); // sent before the span, answered inside it: its whole wait is a sample
  if (counted) {
    t.counters.ok++;
    t.counters.bytes += bytes;
    const k = kind >= 0 ? t.perKind[kind] : undefined;
    if (k) {
      k.counters.ok++;
      recordMs(k.histogram, end - start);
    }
  }
}

/** Judges an answer to a mix request; true when correct. Wrong answers are counted per kind. */
function checkMix(req: MixRequest, op: number, payload: Buffer, start: number): boolean {
  let why: string | null;
  try {
    why = judge(mix!, checks, req, { op, payload });
  } catch (err) {
    why = `the check threw: ${(err as Error).message}`;
  }
  if (why === null) return true;
  const k = perKind[req.kind]!.counters;
  if (inWindow(start)) {
    if (op === Op.ERROR) {
      const { code } = parseError(payload);
      counters.errorFrames[code] = (counters.errorFrames[code] ?? 0) + 1;
      k.errorFrames[code] = (k.errorFrames[code] ?? 0) + 1;
    } else {
      counters.mismatch++;
      k.mismatch++;
    }
  }
  const text = `${describeRequest(mix!, req)}: ${why}`;
  k.firstError ??= text;
  note(text);
  return false;
}

/** An in-window mix request lost (connection closed, or never answered): counted for its kind. */
function lostMix(req: MixRequest | undefined, what: 'closed' | 'unanswered'): void {
  if (!req) return;
  const k = perKind[req.kind]!.counters;
  k[what]++;
  k.firstError ??= `${describeRequest(mix!, req)}: ${what === 'closed' ? 'the connection closed before the answer' : 'no answer within the grace period'}`;
}

/** At the window's end: requests sent before it and still unanswered are samples of their age. */
function ageAtWindowEnd(measureFrom: number, measureTo: number): void {
  const starts = cfg.mode === 'churn' ? churnStarts.filter((s): s is number => s !== null) : actives.flatMap((c) => c.starts);
  for (const s of starts) {
    if (s >= measureFrom) continue; // inside the window: judged at the end of the grace period
    sample(measureTo - s);
    counters.agedAtWindowEnd++;
  }
}

/** From go(): the loop's turns are timed through the warm-up too (the same code hot when the window opens, see Tally); measureStart starts the count afresh. */
function timeTurns(): void {
  // Spinning, the spinner times every turn itself; a timer-driven probe would disturb it (see PROBE_EVERY_MS).
  if (cfg.spin) spinner.turns = selfMeasure.loop.h;
  else selfMeasure.loop.start();
}

function measureStart(): void {
  spinner.idleMs = 0;
  selfMeasure.t0 = performance.now();
  selfMeasure.cpu0 = process.threadCpuUsage();
  selfMeasure.wait0 = runqueueWaitNs();
  selfMeasure.loop.h.reset();
}

function measureEnd(): void {
  if (!selfMeasure.cpu0) return;
  const d = process.threadCpuUsage(selfMeasure.cpu0);
  selfMeasure.cpuUs = d.user + d.system;
  // Spinning, the CPU time is the whole window; what the load needed is the non-idle part.
  if (cfg.spin) selfMeasure.busyUs = Math.max(0, performance.now() - selfMeasure.t0 - spinner.idleMs) * 1000;
  const wait1 = runqueueWaitNs();
  if (selfMeasure.wait0 !== null && wait1 !== null) selfMeasure.runqueueWaitUs = (wait1 - selfMeasure.wait0) / 1000;
  selfMeasure.loop.stop();
  spinner.turns = null;
  selfMeasure.cpu0 = null;
}

/** Checks one response against the request variant; returns true when correct. */
function check(op: number, payload: Buffer, variant: number, start: number): boolean {
  const v = variants[variant]!;
  if (op === Op.ERROR) {
    if (inWindow(start)) {
      const { code } = parseError(payload);
      counters.errorFrames[code] = (counters.errorFrames[code] ?? 0) + 1;
      note(`ERROR frame: ${payload.toString('utf8').slice(0, 120)}`);
    }
    return false;
  }
  if (op !== v.op || !payload.equals(v.payload)) {
    if (inWindow(start)) counters.mismatch++;
    note(`response mismatch: op 0x${op.toString(16)}, ${payload.length} bytes (expected op 0x${v.op.toString(16)}, ${v.payload.length} bytes)`);
    return false;
  }
  return true;
}

function connect(onError: (err: Error) => void, onread?: net.OnReadOpts): Promise<net.Socket | null> {
  return connectSocket({ host: cfg.host, port: cfg.port, timeoutMs: cfg.connectTimeoutMs, ...(onread ? { onread } : {}) }).catch((err: Error) => {
    onError(err);
    return null;
  });
}

// ── active connections (closed and open loop) ────────────────────────────────────────────

class Active {
  sock: net.Socket | null = null;
  decoder = new FrameDecoder(MAX_FRAME);
  /** Start moments and variants of the requests sent and not yet answered, oldest first. */
  starts: number[] = [];
  kinds: number[] = [];
  /** Mix runs: the requests outstanding, in step with starts. */
  reqs: MixRequest[] = [];
  source: MixSource | null = null;
  next = 0; // rotating variant index
  /** Open loop: the next slot in the schedule. */
  due = 0;
  interval = 0;
  reconnecting = false;
  /** The server answered E_SHUTTING_DOWN (draining): send nothing more here, close, reconnect. */
  goingAway = false;
  readonly index: number;

  constructor(index: number) {
    this.index = index;
    this.next = variants.length ? index % variants.length : 0;
    if (mix) this.source = mixSource(index);
  }

  /** Reads go straight into the thread's one READ_BUFFER (see onBytes). */
  readonly onread: net.OnReadOpts = {
    buffer: READ_BUFFER,
    callback: (n) => {
      spinner.io = true;
      this.onBytes(n);
      return true; // keep reading
    },
  };

  attach(sock: net.Socket): void {
    this.sock = sock;
    this.decoder = new FrameDecoder(MAX_FRAME);
    sock.on('error', (err) => note(`connection error: ${err.message}`));
    sock.on('close', () => this.onClose(sock));
  }

  /**
   * `n` bytes of this connection's stream sit at the start of READ_BUFFER, which the next read on
   * any connection overwrites. Whole frames are handled in place (no copy, no allocation: at c = 1
   * the per-chunk Buffer of a 'data' event and the garbage it makes were a measurable part of the
   * client's cost per request). A partial frame is copied out and handed to the decoder, which
   * owns the stream until it is back on a frame boundary.
   */
  onBytes(n: number): void {
    if (this.decoder.pendingBytes > 0) return this.#decode(Buffer.from(READ_BUFFER.subarray(0, n)));
    let offset = 0;
    while (n - offset >= HEADER_BYTES) {
      const length = READ_BUFFER.readUInt32BE(offset);
      if (length === 0 || length > MAX_FRAME || n - offset - LENGTH_BYTES < length) break;
      const start = offset + LENGTH_BYTES;
      offset = start + length;
      this.onFrame(READ_BUFFER[start]!, READ_BUFFER.subarray(start + 1, offset));
    }
    if (offset < n) this.#decode(Buffer.from(READ_BUFFER.subarray(offset, n)));
  }

  #decode(chunk: Buffer): void {
    const err = this.decoder.push(chunk, (op, payload) => this.onFrame(op, payload));
    if (err) {
      note(`undecodable response stream: ${err.message}`);
      this.sock?.destroy();
    }
  }

  send(start: number): void {
    if (this.source) {
      const r = this.source.next();
      this.starts.push(start);
      this.reqs.push(r);
      this.sock!.write(r.frame);
      return;
    }
    const k = this.next;
    this.next = (this.next + 1) % variants.length;
    this.starts.push(start);
    this.kinds.push(k);
    this.sock!.write(variants[k]!.frame);
  }

  onFrame(op: number, payload: Buffer): void {
    const start = this.starts.shift();
    const req = this.source ? this.reqs.shift() : undefined;
    const kind = this.source ? req?.kind : this.kinds.shift();
    if (start === undefined || kind === undefined) {
      counters.mismatch++;
      note('response with no request outstanding');
      return;
    }
    const end = nowMs();
    if (req ? checkMix(req, op, payload, start) : check(op, payload, kind, start)) record(start, end, payload.length, this.index, req ? kind : -1);
    // E_SHUTTING_DOWN is the server's "go away": the request was not processed and this
    // connection will close. Like an HTTP/2 client after GOAWAY, stop sending on it, close it once
    // nothing is outstanding, and carry on over a new connection (onClose reconnects).
    if (op === 0xff && !this.goingAway && isShuttingDown(payload)) this.goingAway = true;
    if (this.goingAway) {
      if (this.starts.length === 0) this.sock?.end();
      if (stopping && this.starts.length === 0) checkDrained();
      return;
    }
    if (cfg.mode === 'closed') {
      if (!stopping && end < schedule!.measureTo) this.send(nowMs());
    } else {
      pumpOpen(this);
    }
    if (stopping && this.starts.length === 0) checkDrained();
  }

  onClose(sock: net.Socket): void {
    if (this.sock !== sock) return;
    this.sock = null;
    this.starts.forEach((s, i) => {
      if (!inWindow(s)) return;
      counters.closed++;
      lostMix(this.reqs[i], 'closed');
    });
    this.starts = [];
    this.kinds = [];
    this.reqs = [];
    if (stopping) {
      checkDrained();
      return;
    }
    // The server dropped us (limit, recycle, crash): reconnect after a pause, inside the run only.
    if (schedule && nowMs() < schedule.measureTo && !this.reconnecting) {
      this.reconnecting = true;
      // Told to go away: the server is fine, only this connection ends, so reconnect at once.
      const pauseMs = this.goingAway ? 0 : 100;
      this.goingAway = false;
      setTimeout(async () => {
        const s = await connect((err) => {
          counters.connectFailed++;
          note(`reconnect failed: ${err.message}`);
        }, this.onread);
        this.reconnecting = false;
        if (!s) return this.onClose(sock); // try again later
        if (stopping) return void s.destroy();
        counters.reconnects++;
        this.attach(s);
        if (cfg.mode === 'closed') for (let i = 0; i < cfg.pipeline; i++) this.send(nowMs());
        else pumpOpen(this);
      }, pauseMs).unref();
    }
  }
}

const actives: Active[] = [];

function pumpOpen(c: Active): void {
  if (!c.sock || !schedule) return;
  spinner.io = true;
  const now = nowMs();
  while (c.due <= now && c.due < schedule.measureTo && c.starts.length < MAX_OUTSTANDING) {
    c.send(c.due); // latency counts from the slot, not from when we got round to it
    c.due += c.interval;
  }
}

let openTimer: NodeJS.Timeout | null = null;
function openTick(): void {
  if (!schedule || stopping) return;
  let soonest = Infinity;
  for (const c of actives) {
    pumpOpen(c);
    if (c.due < schedule.measureTo) soonest = Math.min(soonest, c.due);
  }
  if (soonest === Infinity) return;
  openTimer = setTimeout(openTick, Math.max(0, soonest - nowMs()));
}

// ── churn: a new connection per request ──────────────────────────────────────────────────

let churnLive = 0;
async function churnLoop(slot: number): Promise<void> {
  churnLive++;
  let k = variants.length ? slot % variants.length : 0;
  const source = mix ? mixSource(slot) : null;
  while (!stopping && nowMs() < schedule!.measureTo) {
    const start = nowMs();
    const variant = k;
    const req = source?.next();
    if (!req) k = (k + 1) % variants.length;
    churnStarts[slot] = start;
    churnReqs[slot] = req ?? null;
    const ok = await new Promise<boolean>((resolve) => {
      let answered = false;
      const decoder = new FrameDecoder(MAX_FRAME);
      const sock = net.connect({ host: cfg.host, port: cfg.port });
      const timer = setTimeout(() => sock.destroy(new Error('churn request timed out')), Math.max(cfg.connectTimeoutMs, cfg.graceMs));
      sock.setNoDelay(true);
      sock.once('connect', () => {
        spinner.io = true;
        sock.write(req ? req.frame : variants[variant]!.frame);
      });
      sock.on('data', (chunk: Buffer) => {
        spinner.io = true;
        decoder.push(chunk, (op, payload) => {
          if (answered) return;
          answered = true;
          if (req ? checkMix(req, op, payload, start) : check(op, payload, variant, start)) record(start, nowMs(), payload.length, slot, req ? req.kind : -1);
          sock.end(); // we close first, as an HTTP/1.0 client would after reading its answer
        });
      });
      sock.on('error', (err) => {
        if (!answered) {
          if (inWindow(start)) counters.connectFailed++;
          note(`churn connection: ${err.message}`);
        }
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (!answered && req && inWindow(start)) lostMix(req, 'closed');
        churnStarts[slot] = null;
        churnReqs[slot] = null;
        resolve(answered);
      });
    });
    if (!ok) await new Promise((r) => setTimeout(r, 10)); // do not spin on a refusing server
  }
  churnLive--;
  checkDrained();
}

// ── idle connections (idle-10k) ──────────────────────────────────────────────────────────

const idleSockets = new Set<net.Socket>();
let idleRefused = 0;
let idleFailed = 0;

async function openIdle(n: number): Promise<void> {
  const BATCH = 200; // keeps the server's listen backlog from overflowing
  for (let done = 0; done < n; done += BATCH) {
    const batch = Math.min(BATCH, n - done);
    await Promise.all(
      Array.from({ length: batch }, async () => {
        const sock = await connect((err) => {
          idleFailed++;
          note(`idle connect failed: ${err.message}`);
        });
        if (!sock) return;
        idleSockets.add(sock);
        sock.on('data', (chunk: Buffer) => {
          if (chunk.length > 4 && chunk[4] === Op.ERROR) note(`idle connection refused: ${chunk.subarray(5).toString('utf8').slice(0, 120)}`);
        });
        sock.on('error', () => {});
        sock.on('close', () => {
          if (idleSockets.delete(sock)) idleRefused++;
        });
      }),
    );
  }
  // Give the server a moment to refuse what it will not hold.
  await new Promise((r) => setTimeout(r, Math.min(1000, 200 + n / 20)));
}

// ── lifecycle ────────────────────────────────────────────────────────────────────────────

let doneSent = false;
let graceTimer: NodeJS.Timeout | null = null;

function checkDrained(): void {
  if (!stopping || doneSent) return;
  if (cfg.mode === 'churn' ? churnLive > 0 : actives.some((c) => c.starts.length > 0 && c.sock)) return;
  finish();
}

function finish(): void {
  if (doneSent) return;
  doneSent = true;
  if (graceTimer) clearTimeout(graceTimer);
  if (openTimer) clearTimeout(openTimer);
  spinner.stop();
  // Requests sent inside the window and never answered: counted, and a latency sample of their age.
  const now = nowMs();
  const unanswered = (s: number, req?: MixRequest | null) => {
    if (!inWindow(s)) return;
    counters.unanswered++;
    sample(now - s);
    lostMix(req ?? undefined, 'unanswered');
  };
  churnStarts.forEach((s, i) => {
    if (s !== null) unanswered(s, churnReqs[i]);
  });
  for (const c of actives) {
    c.starts.forEach((s, i) => unanswered(s, c.reqs[i]));
    c.starts = [];
    const sock = c.sock;
    c.sock = null;
    sock?.destroy();
  }
  const idleAliveAtEnd = idleSockets.size;
  for (const s of idleSockets) s.destroy();
  idleSockets.clear();
  measureEnd(); // if the window never ended (abort)
  const msg: DoneMsg = {
    type: 'done',
    counters,
    histogram: encodeHistogram(histogram),
    idleAliveAtEnd,
    firstError,
    perConnection,
    perKind: mix ? perKind.map((k) => ({ counters: k.counters, histogram: encodeHistogram(k.histogram) })) : undefined,
    self: { cpuUs: selfMeasure.cpuUs, busyUs: selfMeasure.busyUs, runqueueWaitUs: selfMeasure.runqueueWaitUs, loopDelayP99Us: selfMeasure.loop.h.getValueAtPercentile(99), loopDelayMaxUs: selfMeasure.loop.h.maxValue },
  };
  parentPort!.postMessage(msg);
  setTimeout(() => process.exit(0), 50).unref();
}

async function prepare(): Promise<void> {
  let connectFailed = 0;
  if (cfg.mode !== 'churn') {
    for (let i = 0; i < cfg.connections; i++) actives.push(new Active(i));
    await Promise.all(
      actives.map(async (c) => {
        const sock = await connect((err) => {
          connectFailed++;
          note(`connect failed: ${err.message}`);
        }, c.onread);
        if (sock) c.attach(sock);
      }),
    );
  }
  if (cfg.idle > 0) await openIdle(cfg.idle);
  const msg: ReadyMsg = {
    type: 'ready',
    connected: actives.filter((c) => c.sock).length,
    connectFailed,
    idleHeld: idleSockets.size,
    idleRefused,
    idleFailed,
    firstError,
  };
  parentPort!.postMessage(msg);
}

function go(s: Schedule): void {
  schedule = s;
  warm.from = s.startAt + (s.measureFrom - s.startAt) / 2;
  warm.to = measured.from = s.measureFrom;
  measured.to = s.measureTo;
  if (cfg.spin) spinner.start();
  timeTurns();
  const delay = Math.max(0, s.startAt - nowMs());
  setTimeout(() => {
    if (cfg.mode === 'closed') {
      for (const c of actives) if (c.sock) for (let i = 0; i < cfg.pipeline; i++) c.send(nowMs());
    } else if (cfg.mode === 'open') {
      const perConn = cfg.ratePerSec / Math.max(1, actives.length);
      actives.forEach((c, i) => {
        c.interval = 1000 / perConn;
        c.due = s.startAt + (c.interval * i) / actives.length; // stagger the connections
      });
      openTick();
    } else {
      for (let i = 0; i < cfg.connections; i++) void churnLoop(i);
    }
  }, delay);
  setTimeout(measureStart, Math.max(0, s.measureFrom - nowMs()));
  setTimeout(() => {
    measureEnd();
    ageAtWindowEnd(s.measureFrom, s.measureTo);
    stopping = true;
    graceTimer = setTimeout(finish, cfg.graceMs);
    checkDrained();
  }, Math.max(0, s.measureTo - nowMs()));
}

parentPort!.on('message', (m: { type: string; schedule?: Schedule }) => {
  if (m.type === 'go') go(m.schedule!);
  else if (m.type === 'abort') finish();
});
void prepare().catch((err: Error) => {
  note(`worker failed: ${err.stack ?? err.message}`);
  finish();
});

const SHUTTING_DOWN = Buffer.from('E_SHUTTING_DOWN');
/** An ERROR payload whose code (up to the first space) is E_SHUTTING_DOWN; no copy of the payload. */
function isShuttingDown(payload: Uint8Array): boolean {
  const n = SHUTTING_DOWN.length;
  return payload.length >= n && SHUTTING_DOWN.equals(payload.subarray(0, n)) && (payload.length === n || payload[n] === 0x20);
}
