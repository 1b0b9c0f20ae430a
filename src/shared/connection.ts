// Serving one connection: socket bytes → FrameDecoder → handler → encoder → socket.
// Every model runs this same code wherever the connection lives (main thread, worker thread,
// child process), so ordering, back-pressure, timeouts and shutdown behave identically.
//
// Responses leave in request order. Synchronous results written while nothing is outstanding
// go straight to the (corked) socket; otherwise each request takes a slot in a FIFO and slots
// are flushed from the head as soon as they are filled.
//
// Back-pressure: we stop reading when the socket's write buffer is full or when `maxInFlight`
// requests are outstanding, so a peer that sends without reading costs us at most one read
// chunk of decoded requests plus one frame in the decoder plus the socket's high-water mark.
import type { Socket } from 'node:net';
import { threadId } from 'node:worker_threads';
import { errorCodeOf, type ErrorCode } from './errors.ts';
import { FrameDecoder, LENGTH_BYTES, encodeError, encodeFrameParts } from './protocol.ts';
import { isHandlerResult, type Handler, type HandlerResult } from './handler.ts';
import type { ConnectionLimits } from './config.ts';
import { MAX_PROXY_HEADER, parseProxyHeader } from './proxy-protocol.ts';
import type { RequestMetrics } from './metrics.ts';
import { formatPeer } from './address.ts';

export type CloseReason =
  | 'eof' // the peer half-closed; we answered everything and closed
  | 'reset' // the peer reset or the socket failed
  | 'idle' // --idle-timeout: no request completed for that long
  | 'bad-frame' // fatal framing error (L = 0, L > max-frame)
  | 'frame-timeout' // --frame-timeout: a started frame did not complete in time
  | 'drained' // graceful shutdown
  | 'bad-proxy' // --proxy-protocol: the header was missing, malformed, oversized or late
  | 'refused' // --proxy-protocol: the client it named is over --max-connections-per-ip
  | 'destroyed'; // forced close

export interface ConnectionSummary {
  requests: number;
  errors: number;
  reason: CloseReason;
  /** --proxy-protocol: the client the header named (address:port), for the accept side's logs. */
  peer?: string;
}

/** Why a client named by a PROXY header was turned away (null: admitted). */
export type Refusal = { code: ErrorCode; message: string } | null;

/** Running totals a model keeps across its connections; serveConnection adds to them live. */
export interface ConnectionCounters {
  requests: number;
  errors: number;
}

export interface ServeOptions {
  handler: Handler;
  /** Model name and server-wide connection number, reported by INFO. */
  model: string;
  connection: number;
  limits: ConnectionLimits;
  counters?: ConnectionCounters;
  /**
   * limits.admitPeer: asks the accept loop whether the client a PROXY header named may be served
   * (its per-address count); reading waits for the answer. In-process it answers at once; a
   * worker or child asks over its channel to the main thread.
   */
  admit?: (address: string) => Refusal | Promise<Refusal>;
  /** This thread's live request metrics (requests by op, errors by code, durations): see metrics.ts. */
  metrics?: RequestMetrics;
}

/**
 * After a graceful drain starts, a connection is still served normally until it has been quiet
 * (nothing read, not paused by back-pressure) for this long: requests that were already in the
 * kernel's buffer at the signal get read and answered however busy the loop is.
 */
export const DRAIN_GRACE_MS = 50;
/** …but a peer that keeps sending is cut off after this: its requests from then on get E_SHUTTING_DOWN. */
export const DRAIN_GRACE_MAX_MS = 500;
/**
 * How long a cut-off connection keeps reading (and refusing) before our FIN. E_SHUTTING_DOWN says
 * "not processed, retry elsewhere", like HTTP/2's GOAWAY: a client that heeds it closes at once
 * and loses nothing. Closing without reading would discard the request already in flight (a
 * closed-loop client always has one), and the client could not tell whether it ran.
 */
export const DRAIN_REFUSE_MS = 500;
/** After we send FIN we read and discard until the peer's FIN, so unread input never turns our close into a reset. */
export const LINGER_MS = 2_000;

type Out = Buffer | [Buffer, Uint8Array];
interface Slot {
  out: Out | null;
  /** An awaited answer's --request-timeout deadline (performance.now() ms); 0 for none. */
  deadline: number;
  /** performance.now() when the request was handed to the handler (metrics), 0 without metrics. */
  t0: number;
}
/** A request-timeout wake-up this close to a deadline times it out rather than re-arming for the rest. */
const DEADLINE_SLACK_MS = 1;
/** INFO's pid, read once: `process.pid` is a global lookup and a getter on every request. */
const PID = process.pid;

export function serveConnection(socket: Socket, options: ServeOptions): Connection {
  return new Connection(socket, options);
}

export class Connection {
  /** Settles once the socket has closed, with what happened on it. Never rejects. */
  readonly done: Promise<ConnectionSummary>;

  readonly #socket: Socket;
  readonly #handler: Handler;
  readonly #decoder: FrameDecoder;
  readonly #limits: ConnectionLimits;
  readonly #counters: ConnectionCounters;
  readonly #model: string;
  readonly #connection: number;
  readonly #admit: ServeOptions['admit'];
  readonly #metrics: RequestMetrics | null;
  /** INFO's `peer`: the TCP peer, or the client a PROXY header named. */
  #peer: string;
  /** --proxy-protocol: header bytes received so far (null once the header is read, or when off). */
  #proxy: Buffer | null;
  /** Waiting for the accept loop to admit the client the header named: not reading. */
  #admitting = false;
  #held: Buffer[] = [];
  #closed = false;

  #queue: Slot[] = [];
  #head = 0;
  #requests = 0;
  #errors = 0;
  #framesThisPush = 0;

  #reading = false;
  #writeBlocked = false;
  #peerEnded = false;
  #closing = false; // no more reading; end once the queue is flushed
  #finished = false; // we sent FIN
  #refusing = false; // drain grace over: new frames get E_SHUTTING_DOWN
  #draining = false;
  #readAt = 0; // performance.now() of the last chunk read (drain: quiet detection)
  #reason: CloseReason | null = null;

  #idleTimer: NodeJS.Timeout | null = null;
  #frameTimer: NodeJS.Timeout | null = null;
  #otherTimer: NodeJS.Timeout | null = null; // drain grace, then linger
  /** One --request-timeout timer for the whole connection, due at its oldest awaited answer's deadline. */
  #deadlineTimer: NodeJS.Timeout | null = null;
  #resolve!: (s: ConnectionSummary) => void;

  constructor(socket: Socket, options: ServeOptions) {
    this.#socket = socket;
    this.#handler = options.handler;
    this.#limits = options.limits;
    this.#decoder = new FrameDecoder(options.limits.maxFrame);
    this.#counters = options.counters ?? { requests: 0, errors: 0 };
    this.#model = options.model;
    this.#connection = options.connection;
    this.#admit = options.limits.admitPeer ? options.admit : undefined;
    this.#metrics = options.metrics ?? null;
    if (this.#metrics) {
      this.#metrics.connections++;
      this.#metrics.activeConnections++;
    }
    this.#peer = formatPeer(socket.remoteAddress, socket.remotePort);
    this.#proxy = options.limits.proxyProtocol ? Buffer.alloc(0) : null;
    this.done = new Promise((resolve) => (this.#resolve = resolve));

    // Half-close support: when the peer shuts down its side we still owe it answers.
    socket.allowHalfOpen = true;
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('drain', this.#onDrain);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    if (socket.destroyed) {
      queueMicrotask(this.#onClose);
      return;
    }
    if (this.#limits.idleTimeoutMs > 0) {
      this.#idleTimer = setTimeout(this.#onIdle, this.#limits.idleTimeoutMs).unref();
    }
    // The header is bounded in time like a frame: a peer that connects and says nothing (or
    // dribbles) cannot hold the slot past --frame-timeout.
    if (this.#proxy && this.#limits.frameTimeoutMs > 0) {
      this.#frameTimer = setTimeout(this.#onHeaderTimeout, this.#limits.frameTimeoutMs).unref();
    }
    this.#updateReading();
  }

  get requests(): number {
    return this.#requests;
  }

  /**
   * Graceful shutdown: keep serving until the connection is quiet (requests already in the
   * kernel's buffer when the signal came are read and answered), then stop reading, answer what
   * is outstanding, and close our side.
   */
  drain(graceMs = DRAIN_GRACE_MS): void {
    if (this.#draining || this.#closing || this.#finished) return;
    this.#draining = true;
    const started = performance.now();
    let refusingSince = 0;
    const check = () => {
      this.#otherTimer = null;
      // Decide after the loop's poll phase: whatever the kernel holds for this socket now is
      // read first, so a busy loop (timers fire late) cannot make a full buffer look quiet.
      setImmediate(() => {
        if (this.#closing || this.#finished) return;
        const now = performance.now();
        // Nothing read since the drain began (#readAt is set only while draining): the request
        // of a connection just handed to a freshly started child may still be in the kernel's
        // buffer, and on a loaded machine that child's first read can come later than the grace
        // (fresh-clone CI: a process-model connection closed unread 50 ms in). Such a connection
        // gets DRAIN_GRACE_MAX_MS to show a first byte; an idle one closes that much later.
        const unheard = this.#readAt === 0 && now - started < DRAIN_GRACE_MAX_MS;
        const quiet = now - this.#readAt >= graceMs && (this.#reading || this.#peerEnded) && !unheard;
        if (quiet || (this.#refusing && now - refusingSince >= DRAIN_REFUSE_MS)) {
          this.#refusing = true;
          this.#closeAfterFlush('drained');
          return;
        }
        if (!this.#refusing && now - started >= DRAIN_GRACE_MAX_MS) {
          // Cut off: from here every request gets E_SHUTTING_DOWN, until the peer goes quiet or
          // closes (it heeded the refusal) or DRAIN_REFUSE_MS pass.
          this.#refusing = true;
          this.#reason ??= 'drained';
          refusingSince = now;
        }
        this.#otherTimer = setTimeout(check, graceMs).unref();
      });
    };
    this.#otherTimer = setTimeout(check, graceMs).unref();
  }

  /** Forced close: outstanding responses are dropped. */
  destroy(): void {
    this.#reason ??= 'destroyed';
    this.#socket.destroy();
  }

  // ── reading ────────────────────────────────────────────────────────────────────────────

  #onData = (input: Buffer): void => {
    // Lingering after our FIN: discard. (While closing we have paused, so nothing arrives.)
    if (this.#finished || this.#closing) return;
    if (this.#admitting) {
      this.#held.push(input); // a chunk the stream had already read when we paused
      return;
    }
    if (this.#draining) this.#readAt = performance.now();
    const chunk = this.#proxy ? this.#readProxyHeader(input) : input;
    if (!chunk || chunk.length === 0) return;
    const socket = this.#socket;
    // Answers to the frames of one chunk leave in one write (cork). Not for a chunk that is
    // exactly one whole frame, the closed-loop case: a corked single write goes through the
    // stream's buffer (an entry per write, then clearBuffer) for nothing.
    const cork = !isOneFrame(chunk) || this.#decoder.pendingBytes > 0;
    if (cork) socket.cork();
    this.#framesThisPush = 0;
    const err = this.#decoder.push(chunk, this.#onFrame);
    if (err) {
      this.#respondError(err.code, err.message);
      this.#closeAfterFlush('bad-frame');
    } else {
      this.#armFrameTimer();
    }
    if (cork) socket.uncork();
    this.#updateReading();
  };

  /**
   * --proxy-protocol: collects the header (re-parsing what has arrived; it is at most
   * MAX_PROXY_HEADER bytes) and returns the bytes after it, or null while it is incomplete, bad,
   * or its client is being admitted. Nothing reaches the decoder, let alone the handler, before
   * a whole valid header.
   */
  #readProxyHeader(chunk: Buffer): Buffer | null {
    const bytes = this.#proxy!.length === 0 ? chunk : Buffer.concat([this.#proxy!, chunk]);
    const parsed = parseProxyHeader(bytes, MAX_PROXY_HEADER);
    if (parsed.state === 'incomplete') {
      this.#proxy = bytes === chunk ? Buffer.from(chunk) : bytes;
      return null;
    }
    this.#proxy = null;
    this.#clearFrameTimer();
    if (parsed.state === 'error') {
      this.#failHeader('E_BAD_FRAME', `bad PROXY protocol header: ${parsed.reason}`);
      return null;
    }
    const { source } = parsed.header;
    // LOCAL (the proxy's own health check) and UNKNOWN name no client: the TCP peer stands.
    if (source) this.#peer = formatPeer(source.address, source.port);
    const rest = bytes.subarray(parsed.header.length);
    if (!this.#admit || !source) return rest;
    this.#admitting = true;
    this.#updateReading();
    const decided = (refusal: Refusal): void => {
      this.#admitting = false;
      if (this.#finished || this.#closing || this.#socket.destroyed) return;
      if (refusal) {
        this.#respondError(refusal.code, refusal.message);
        this.#closeAfterFlush('refused');
        return;
      }
      const held = this.#held;
      this.#held = [];
      for (const b of [rest, ...held]) if (b.length) this.#onData(b);
      this.#updateReading();
    };
    let answer: Refusal | Promise<Refusal>;
    try {
      answer = this.#admit(source.address);
    } catch {
      answer = { code: 'E_INTERNAL', message: 'could not admit the connection' };
    }
    if (answer && typeof (answer as Promise<Refusal>).then === 'function') {
      (answer as Promise<Refusal>).then(decided, () => decided({ code: 'E_SHUTTING_DOWN', message: 'server is shutting down' }));
    } else decided(answer as Refusal);
    return null;
  }

  #failHeader(code: ErrorCode, message: string): void {
    this.#proxy = null;
    this.#respondError(code, message);
    this.#closeAfterFlush('bad-proxy');
  }

  #onHeaderTimeout = (): void => {
    this.#frameTimer = null;
    if (this.#proxy) this.#failHeader('E_TIMEOUT', `no whole PROXY protocol header within ${this.#limits.frameTimeoutMs} ms`);
  };

  #onFrame = (op: number, payload: Buffer): void => {
    if (this.#refusing) {
      this.#respondError('E_SHUTTING_DOWN', 'server is shutting down; request not processed');
      return;
    }
    this.#framesThisPush++;
    const requests = ++this.#requests;
    this.#counters.requests++;
    const metrics = this.#metrics;
    const t0 = metrics ? (metrics.request(op), performance.now()) : 0;
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = this.#handler(op, payload, {
        model: this.#model,
        pid: PID,
        threadId,
        connection: this.#connection,
        requests,
        maxWork: this.#limits.maxWork,
        peer: this.#peer,
      });
    } catch (err) {
      this.#respondFailure(err);
      metrics?.observe(performance.now() - t0);
      return;
    }
    if (typeof (result as Promise<HandlerResult>)?.then === 'function') {
      this.#awaitResult(result as Promise<HandlerResult>, t0);
    } else {
      this.#respond(this.#toFrame(result as HandlerResult));
      metrics?.observe(performance.now() - t0);
    }
  };

  /**
   * A handler that answers with a promise. The answer keeps its place in the queue (answers go out
   * in request order) and is bounded by --request-timeout. That bound is one timer per connection,
   * not one per request: deadlines rise in queue order, so the timer only has to be due at the
   * oldest unanswered one (#onDeadline re-arms it for the next). A timer per request cost
   * setTimeout + unref + clearTimeout on every async answer, most of which come in microseconds.
   */
  #awaitResult(promise: Promise<HandlerResult>, t0: number): void {
    const timeoutMs = this.#limits.requestTimeoutMs;
    const slot: Slot = { out: null, deadline: timeoutMs > 0 ? performance.now() + timeoutMs : 0, t0 };
    this.#queue.push(slot);
    if (timeoutMs > 0) this.#deadlineTimer ??= setTimeout(this.#onDeadline, timeoutMs).unref();
    const settle = (out: Out): void => {
      if (slot.out) return; // already answered (timed out)
      slot.out = out;
      this.#metrics?.observe(performance.now() - t0);
      this.#flush();
    };
    promise.then(
      (r) => settle(this.#toFrame(r)),
      (e) => settle(this.#failureFrame(e)),
    );
  }

  /** Times out every awaited answer past its deadline, then re-arms for the oldest still waiting. */
  #onDeadline = (): void => {
    this.#deadlineTimer = null;
    const now = performance.now();
    const queue = this.#queue;
    let expired = false;
    for (let i = this.#head; i < queue.length; i++) {
      const slot = queue[i]!;
      if (slot.out || slot.deadline === 0) continue;
      if (slot.deadline > now + DEADLINE_SLACK_MS) {
        this.#deadlineTimer = setTimeout(this.#onDeadline, slot.deadline - now).unref();
        break;
      }
      slot.out = this.#errorFrame('E_TIMEOUT', `handler did not answer within ${this.#limits.requestTimeoutMs} ms`);
      this.#metrics?.observe(now - slot.t0);
      expired = true;
    }
    if (expired) this.#flush();
  };

  #onEnd = (): void => {
    // An incomplete trailing frame is dropped; every complete request still gets its answer.
    this.#peerEnded = true;
    this.#clearFrameTimer();
    if (this.#proxy && !this.#finished) this.#failHeader('E_BAD_FRAME', 'connection ended before a whole PROXY protocol header');
    else if (!this.#finished) this.#closeAfterFlush('eof');
  };

  #onDrain = (): void => {
    this.#writeBlocked = false;
    this.#updateReading();
  };

  #updateReading(): void {
    const want =
      !this.#closing &&
      !this.#peerEnded &&
      !this.#admitting &&
      !this.#writeBlocked &&
      this.#queue.length - this.#head < this.#limits.maxInFlight;
    if (want === this.#reading) return;
    this.#reading = want;
    // --frame-timeout bounds how long the *peer* takes to finish a frame: while we are not
    // reading (back-pressure), the rest may sit in our kernel buffer, so the clock stops and
    // starts again, in full, when we read again.
    if (want) {
      this.#socket.resume();
      this.#armFrameTimer();
    } else {
      this.#socket.pause();
      this.#clearFrameTimer();
    }
  }

  // ── writing ────────────────────────────────────────────────────────────────────────────

  #respond(out: Out): void {
    if (this.#head === this.#queue.length) this.#write(out);
    else this.#queue.push({ out, deadline: 0, t0: 0 });
  }

  #respondError(code: ErrorCode, message: string): void {
    this.#respond(this.#errorFrame(code, message));
  }

  #respondFailure(err: unknown): void {
    this.#respond(this.#failureFrame(err));
  }

  #errorFrame(code: ErrorCode, message: string): Buffer {
    this.#errors++;
    this.#counters.errors++;
    this.#metrics?.error(code);
    return encodeError(code, message);
  }

  #failureFrame(err: unknown): Buffer {
    const code = errorCodeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    return this.#errorFrame(code, code === 'E_INTERNAL' ? `handler failed: ${message}` : message);
  }

  #toFrame(result: HandlerResult): Out {
    if (!isHandlerResult(result)) {
      return this.#errorFrame('E_INTERNAL', 'handler returned something other than {op: 0..255, payload: Uint8Array}');
    }
    return encodeFrameParts(result.op, result.payload);
  }

  #write(out: Out): void {
    const socket = this.#socket;
    if (socket.destroyed || this.#finished) return;
    let ok: boolean;
    if (Buffer.isBuffer(out)) ok = socket.write(out);
    else {
      // Header and payload in one writev, also where the chunk's write was not corked.
      socket.cork();
      socket.write(out[0]);
      ok = socket.write(out[1]);
      socket.uncork();
    }
    if (this.#idleTimer) this.#idleTimer.refresh();
    if (!ok) this.#writeBlocked = true;
  }

  #flush(): void {
    const queue = this.#queue;
    if (this.#head < queue.length && queue[this.#head]!.out) {
      this.#socket.cork();
      while (this.#head < queue.length) {
        const out = queue[this.#head]!.out;
        if (!out) break;
        this.#write(out);
        this.#head++;
      }
      this.#socket.uncork();
      if (this.#head === queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
    }
    if (this.#closing && this.#head === this.#queue.length) this.#finish();
    else this.#updateReading();
  }

  // ── closing ────────────────────────────────────────────────────────────────────────────

  #closeAfterFlush(reason: CloseReason): void {
    this.#reason ??= reason;
    this.#closing = true;
    this.#updateReading();
    if (this.#head === this.#queue.length) this.#finish();
  }

  /** Everything is written: send FIN, then linger until the peer's FIN (or LINGER_MS). */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearTimers();
    const socket = this.#socket;
    socket.end();
    if (!this.#peerEnded) {
      // Closing with unread input makes the kernel send RST, which can destroy responses the
      // peer has not read yet. So keep reading (and discarding) until the peer closes too.
      socket.resume();
      this.#otherTimer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    }
  }

  #onIdle = (): void => {
    if (this.#head < this.#queue.length) {
      this.#idleTimer!.refresh(); // a request is still being worked on: not idle
      return;
    }
    this.#closeAfterFlush('idle');
  };

  #armFrameTimer(): void {
    const limit = this.#limits.frameTimeoutMs;
    if (limit <= 0 || this.#proxy) return; // the header's own timer runs until it is read
    if (this.#decoder.pendingBytes === 0) {
      this.#clearFrameTimer();
    } else if (!this.#frameTimer) {
      this.#frameTimer = setTimeout(this.#onFrameTimeout, limit).unref();
    } else if (this.#framesThisPush > 0) {
      this.#frameTimer.refresh(); // the partial frame now held is a new one
    }
  }

  #onFrameTimeout = (): void => {
    this.#frameTimer = null;
    this.#respondError('E_TIMEOUT', `frame not completed within ${this.#limits.frameTimeoutMs} ms`);
    this.#closeAfterFlush('frame-timeout');
  };

  #clearFrameTimer(): void {
    if (this.#frameTimer) clearTimeout(this.#frameTimer);
    this.#frameTimer = null;
  }

  #clearTimers(): void {
    this.#clearFrameTimer();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#otherTimer) clearTimeout(this.#otherTimer);
    if (this.#deadlineTimer) clearTimeout(this.#deadlineTimer);
    this.#idleTimer = this.#otherTimer = this.#deadlineTimer = null;
  }

  #onError = (): void => {
    this.#reason ??= 'reset';
  };

  #onClose = (): void => {
    if (this.#closed) return; // 'close' and the already-destroyed path in the constructor
    this.#closed = true;
    this.#clearTimers();
    if (this.#metrics) this.#metrics.activeConnections--;
    this.#reason ??= this.#peerEnded ? 'eof' : 'reset';
    const summary: ConnectionSummary = { requests: this.#requests, errors: this.#errors, reason: this.#reason };
    if (this.#limits.proxyProtocol) summary.peer = this.#peer;
    this.#resolve(summary);
  };
}


/** True when `chunk` is one whole frame, its length prefix covering exactly the rest. */
function isOneFrame(chunk: Buffer): boolean {
  return chunk.length > LENGTH_BYTES && chunk.readUInt32BE(0) === chunk.length - LENGTH_BYTES;
}

/**
 * Turns a connection away before serving it (over a limit, or shutting down): one ERROR frame,
 * then a lingering close. The socket must not have been read from.
 */
export function refuseConnection(socket: Socket, code: ErrorCode, message: string): void {
  socket.on('error', () => {}); // a peer that already left must not crash us
  if (socket.destroyed) return;
  socket.end(encodeError(code, message));
  socket.resume(); // discard whatever the peer sent; keeps our close from becoming a reset
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(timer));
}
