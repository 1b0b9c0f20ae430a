// A one-way message ring in shared memory: one writer thread, one reader thread, no locks and no
// message through libuv: offload's transport (a pair per pool thread). A bare piscina task cost
// 1.8× event-loop's p50 at one connection where a bare shared-memory hop cost 1.3×
// (docs/PERFORMANCE.md, bench/micro/socket-hop.sh): this is that hop, made a transport — any
// number of messages in flight, each a length-prefixed run of bytes.
//
// Layout of the SharedArrayBuffer: CTRL_BYTES of Int32 control words, then `capacity` bytes of
// data (a power of two, so a position wraps by masking). HEAD and TAIL count bytes written and
// read since the start, modulo 2^32: only the writer moves HEAD, only the reader TAIL, each
// publishes its move with one Atomics.store after the bytes (the data itself is plain memory;
// sequentially consistent atomics order it). Used space is (HEAD − TAIL) mod 2^32.
//
// A reader with nothing to read parks (Atomics.wait in a thread, Atomics.waitAsync on an event
// loop) on BELL, after raising PARKED. The writer rings BELL only when it sees PARKED raised, so
// a busy reader costs the writer no notify at all. No wake-up is lost: the reader raises PARKED
// and then looks at HEAD again; the writer moves HEAD and then looks at PARKED. Sequentially
// consistent, at least one of them sees the other's store.
//
// A full ring refuses (write returns false) instead of blocking: the writer is an event loop
// that must not stall, and it knows when to retry (in offload, when answers come back).
import { SwitchboardError } from './errors.ts';

const HEAD = 0;
const TAIL = 1;
const PARKED = 2;
const BELL = 3;
const CLOSED = 4;
const CTRL_BYTES = 32;
const LEN_BYTES = 4;
export const MIN_RING_BYTES = 64;
export const MAX_RING_BYTES = 1 << 30;

/** Shared memory for a ring of `capacity` data bytes (a power of two): hand it to both threads. */
export function ringBuffer(capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < MIN_RING_BYTES || capacity > MAX_RING_BYTES || (capacity & (capacity - 1)) !== 0) {
    throw new SwitchboardError('ERR_RING_SIZE', `ring capacity must be a power of two from ${MIN_RING_BYTES} to ${MAX_RING_BYTES} bytes, got ${capacity}`);
  }
  return new SharedArrayBuffer(CTRL_BYTES + capacity);
}

export type WaitResult = 'ok' | 'timed-out' | 'closed';

/** One side's view of a ring: use write() on the writing thread only, read()/wait() on the reading one. */
export class Ring {
  readonly capacity: number;
  /** The largest message (payload bytes) this ring can ever carry. */
  readonly maxMessage: number;
  readonly #ctrl: Int32Array;
  readonly #data: Uint8Array;
  readonly #mask: number;
  /** This side's own counter (HEAD for the writer, TAIL for the reader), so it needs no atomic read. */
  #head: number;
  #tail: number;
  /** The reader's armed waitAsync, until the writer rings. */
  #armed: Promise<void> | null = null;

  constructor(sab: SharedArrayBuffer) {
    const capacity = sab.byteLength - CTRL_BYTES;
    if (capacity < MIN_RING_BYTES || (capacity & (capacity - 1)) !== 0) {
      throw new SwitchboardError('ERR_RING_SIZE', `not a ring's shared memory (${sab.byteLength} bytes): make it with ringBuffer()`);
    }
    this.capacity = capacity;
    this.maxMessage = capacity - LEN_BYTES;
    this.#ctrl = new Int32Array(sab, 0, CTRL_BYTES / 4);
    this.#data = new Uint8Array(sab, CTRL_BYTES, capacity);
    this.#mask = capacity - 1;
    this.#head = Atomics.load(this.#ctrl, HEAD);
    this.#tail = Atomics.load(this.#ctrl, TAIL);
  }

  /** Bytes written and not yet read. */
  get used(): number {
    return (Atomics.load(this.#ctrl, HEAD) - Atomics.load(this.#ctrl, TAIL)) >>> 0;
  }

  /** Writer: the largest message that fits now. */
  get free(): number {
    return Math.max(0, this.capacity - ((this.#head - Atomics.load(this.#ctrl, TAIL)) >>> 0) - LEN_BYTES);
  }

  /** Whether the reader is parked now, waiting for the writer to ring. */
  get readerParked(): boolean {
    return Atomics.load(this.#ctrl, PARKED) !== 0;
  }

  get closed(): boolean {
    return Atomics.load(this.#ctrl, CLOSED) !== 0;
  }

  /**
   * Writer: appends one message, the bytes of `a` then of `b` (a header and a payload need no
   * concatenation first). False when it does not fit now (nothing was written: retry once the
   * reader has caught up) or the ring is closed (see closed). Throws ERR_RING_SIZE for a message
   * larger than maxMessage. With `wake` false a parked reader is not rung: call wake() after.
   */
  write(a: Uint8Array, b?: Uint8Array, wake = true): boolean {
    const n = a.byteLength + (b ? b.byteLength : 0);
    if (n > this.maxMessage) throw new SwitchboardError('ERR_RING_SIZE', `a ${n}-byte message cannot fit a ${this.capacity}-byte ring (at most ${this.maxMessage})`);
    const head = this.#head;
    if (Atomics.load(this.#ctrl, CLOSED) !== 0) return false;
    if (this.capacity - ((head - Atomics.load(this.#ctrl, TAIL)) >>> 0) < LEN_BYTES + n) return false;
    const data = this.#data;
    const m = this.#mask;
    data[head & m] = n & 0xff;
    data[(head + 1) & m] = (n >>> 8) & 0xff;
    data[(head + 2) & m] = (n >>> 16) & 0xff;
    data[(head + 3) & m] = n >>> 24;
    this.#copyIn(head + LEN_BYTES, a);
    if (b) this.#copyIn(head + LEN_BYTES + a.byteLength, b);
    this.#head = (head + LEN_BYTES + n) | 0;
    Atomics.store(this.#ctrl, HEAD, this.#head);
    if (wake) this.wake();
    return true;
  }

  /**
   * Writer: rings a parked reader. write() does it unless told not to (`wake` false), so a writer
   * with several messages to send rings once, after the last: one wake-up for all of them.
   */
  wake(): void {
    if (Atomics.load(this.#ctrl, PARKED) !== 0) this.#ring();
  }

  /** Reader: the oldest message, copied out (the ring's bytes are reused at once), or null when there is none. */
  read(): Buffer | null {
    const tail = this.#tail;
    if (Atomics.load(this.#ctrl, HEAD) === tail) return null;
    const data = this.#data;
    const m = this.#mask;
    const n = (data[tail & m]! | (data[(tail + 1) & m]! << 8) | (data[(tail + 2) & m]! << 16) | (data[(tail + 3) & m]! << 24)) >>> 0;
    const out = Buffer.allocUnsafe(n);
    const from = (tail + LEN_BYTES) & m;
    const first = Math.min(n, this.capacity - from);
    out.set(data.subarray(from, from + first), 0);
    if (first < n) out.set(data.subarray(0, n - first), first);
    this.#tail = (tail + LEN_BYTES + n) | 0;
    Atomics.store(this.#ctrl, TAIL, this.#tail);
    return out;
  }

  /**
   * Reader, on a thread that may block: returns 'ok' once a message is there, 'closed' once the
   * ring is closed and drained, 'timed-out' after `timeoutMs` with neither.
   */
  wait(timeoutMs = Infinity): WaitResult {
    const ctrl = this.#ctrl;
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      if (Atomics.load(ctrl, HEAD) !== this.#tail) return 'ok';
      if (Atomics.load(ctrl, CLOSED) !== 0) return 'closed';
      const left = deadline - performance.now();
      if (left <= 0) return 'timed-out';
      const bell = this.#park();
      if (bell === null) continue;
      Atomics.wait(ctrl, BELL, bell, left);
      Atomics.store(ctrl, PARKED, 0);
    }
  }

  /**
   * Reader, on an event loop: null when a message (or the close) is there already; otherwise a
   * promise that settles, on this thread's loop, once the writer rings. Read until read() gives
   * null, then call this again. Calls while one is armed get that same promise: a second waiter
   * would clear PARKED when the first settled, under the second's feet, and the writer would
   * then never ring for it. (So a reader uses wait() or waitAsync(), not both.)
   */
  waitAsync(): Promise<void> | null {
    if (this.#ready()) return null;
    if (this.#armed) return this.#armed;
    const bell = this.#park();
    if (bell === null) return null;
    const w = Atomics.waitAsync(this.#ctrl, BELL, bell);
    if (!w.async) {
      Atomics.store(this.#ctrl, PARKED, 0);
      return null;
    }
    this.#armed = w.value.then(this.#unpark);
    return this.#armed;
  }

  /**
   * Reader on an event loop: runs `fn` as a reader that is awake — PARKED lowered, so what the
   * writer writes meanwhile is not rung for — then parks again, on the waitAsync already armed (if
   * one is). Returns whether there is something to read now: read it with read(), as after a ring.
   * For a reader about to cause the writer's answer itself: offload rings a pool thread inside
   * `fn`, and on a shared CPU that thread runs, answers and parks before the notify returns; its
   * ring to us would cost both threads V8's futex and platform mutexes, an eventfd and a turn of
   * our loop, for an answer we can read straight away. `fn` must not wait on this ring.
   */
  awake(fn: () => void): boolean {
    if (!this.#armed) {
      fn();
      return this.#ready();
    }
    Atomics.store(this.#ctrl, PARKED, 0);
    try {
      fn();
    } finally {
      // Raised, then HEAD looked at again (#ready): the no-lost-wake-up order of #park.
      Atomics.store(this.#ctrl, PARKED, 1);
    }
    return this.#ready();
  }

  /** Reader: something to act on, a message or the close. */
  #ready(): boolean {
    return Atomics.load(this.#ctrl, HEAD) !== this.#tail || Atomics.load(this.#ctrl, CLOSED) !== 0;
  }

  /**
   * The reader's half of the no-lost-wake-up protocol (see the header): reads BELL, raises PARKED,
   * then looks again. Returns the BELL value to wait on, or null, with PARKED lowered again, when a
   * message or the close came meanwhile.
   */
  #park(): number | null {
    const bell = Atomics.load(this.#ctrl, BELL);
    Atomics.store(this.#ctrl, PARKED, 1);
    if (!this.#ready()) return bell;
    Atomics.store(this.#ctrl, PARKED, 0);
    return null;
  }

  /** Either side: no more messages. A parked reader wakes and, once it has read what is left, sees 'closed'. */
  close(): void {
    Atomics.store(this.#ctrl, CLOSED, 1);
    this.#ring();
  }

  #unpark = (): void => {
    this.#armed = null;
    Atomics.store(this.#ctrl, PARKED, 0);
  };

  #ring(): void {
    Atomics.add(this.#ctrl, BELL, 1);
    Atomics.notify(this.#ctrl, BELL);
  }

  #copyIn(at: number, src: Uint8Array): void {
    const i = at & this.#mask;
    const first = Math.min(src.byteLength, this.capacity - i);
    if (first === src.byteLength) this.#data.set(src, i);
    else {
      this.#data.set(src.subarray(0, first), i);
      this.#data.set(src.subarray(first), 0);
    }
  }
}
