// Shared by the unit tests that need real sockets but no spawned server: a listening socket on
// 127.0.0.1:0 set up like the accept loop's (pauseOnConnect, allowHalfOpen), connected pairs
// from it, a frame-reading client, a handler whose answers the test releases by hand, and a
// ConnectionTicket stand-in that records what it is told. Everything opened here is destroyed
// when the current test finishes (onTestFinished), whether it passed or not.
import net, { type AddressInfo, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import type { ConnectionTicket } from '../../src/shared/accept-loop.ts';
import { refuseConnection, type ConnectionSummary, type Refusal } from '../../src/shared/connection.ts';
import type { ErrorCode } from '../../src/shared/errors.ts';
import type { Handler, HandlerContext, HandlerResult } from '../../src/shared/handler.ts';
import { FrameDecoder, Op, encodeFrame, parseError, type Frame } from '../../src/shared/protocol.ts';

// Captured at load, so waiting keeps working while a test fakes the timers.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realNow = performance.now.bind(performance);

export const sleep = (ms: number): Promise<void> => new Promise((r) => realSetTimeout(r, ms));

/** Polls `pred` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = realNow() + timeoutMs;
  while (!pred()) {
    if (realNow() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Rejects with `what` if `p` has not settled within `timeoutMs`. */
export function within<T>(p: Promise<T>, what: string, timeoutMs = 3_000): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([p, timeout]).finally(() => realClearTimeout(timer));
}

/** The client end of a pair: decodes whatever the server sends and remembers how the socket ended. */
export class Peer {
  readonly socket: Socket;
  readonly frames: Frame[] = [];
  readonly errors: Error[] = [];
  ended = false;
  closed = false;
  /** Called with each frame as it arrives (after it is in `frames`): a client that reacts. */
  onFrame: ((frame: Frame) => void) | null = null;
  readonly #decoder = new FrameDecoder(0xffff_ffff);

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      const err = this.#decoder.push(chunk, (op, payload) => {
        const frame = { op, payload: Buffer.from(payload) };
        this.frames.push(frame);
        this.onFrame?.(frame);
      });
      if (err) this.errors.push(err);
    });
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.closed = true));
    socket.on('error', (err) => this.errors.push(err));
  }

  send(op: number, payload: Uint8Array | string = Buffer.alloc(0)): void {
    this.socket.write(encodeFrame(op, typeof payload === 'string' ? Buffer.from(payload) : payload));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves with the first `n` frames once they are here; fails if the socket closes first. */
  async frameCount(n: number, timeoutMs = 3_000): Promise<Frame[]> {
    await waitFor(() => this.frames.length >= n || this.closed, `${n} frame(s) (have ${this.frames.length})`, timeoutMs);
    if (this.frames.length < n) throw new Error(`socket closed after ${this.frames.length} of ${n} frames`);
    return this.frames.slice(0, n);
  }

  untilEnded(timeoutMs = 3_000): Promise<void> {
    return waitFor(() => this.ended || this.closed, 'the server to close the connection', timeoutMs);
  }

  untilClosed(timeoutMs = 3_000): Promise<void> {
    return waitFor(() => this.closed, 'the socket to close', timeoutMs);
  }
}

export interface Pair {
  peer: Peer;
  /** The accepted socket, unread (pauseOnConnect), as the accept loop hands it to a model. */
  server: Socket;
}

export interface LocalServer {
  port: number;
  connect(options?: { allowHalfOpen?: boolean }): Promise<Pair>;
}

export async function localServer(): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  const arrived = new Map<number, Socket>();
  const expected = new Map<number, (s: Socket) => void>();
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {}); // a test that resets its peer must not crash the file
    const port = s.remotePort!;
    const take = expected.get(port);
    if (take) {
      expected.delete(port);
      take(s);
    } else arrived.set(port, s);
  });
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    async connect({ allowHalfOpen = false } = {}) {
      const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen });
      sockets.add(client);
      const peer = new Peer(client);
      client.setNoDelay(true);
      await within(new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
      }), 'connect');
      const local = client.localPort!;
      const server = await within(
        new Promise<Socket>((resolve) => {
          const s = arrived.get(local);
          if (s) {
            arrived.delete(local);
            resolve(s);
          } else expected.set(local, resolve);
        }),
        'accept',
      );
      return { peer, server };
    },
  };
}

// ── handlers ────────────────────────────────────────────────────────────────────────────────

export interface Call {
  op: number;
  payload: Buffer;
  ctx: HandlerContext;
  resolve(result?: HandlerResult): void;
  reject(err: unknown): void;
}

/**
 * A handler whose every request stays unanswered until the test settles its Call (resolve()
 * with no argument echoes). ECHO requests with `syncEcho` are answered at once instead.
 */
export function controlledHandler({ syncEcho = false } = {}): { handler: Handler; calls: Call[] } {
  const calls: Call[] = [];
  const handler: Handler = (op, payload, ctx) => {
    if (syncEcho && op === Op.ECHO) return { op, payload: Buffer.from(payload) };
    const copy = Buffer.from(payload);
    return new Promise<HandlerResult>((resolve, reject) => {
      calls.push({ op, payload: copy, ctx, resolve: (r) => resolve(r ?? { op, payload: copy }), reject });
    });
  };
  return { handler, calls };
}

export const text = (f: Frame | undefined): string => (f ? f.payload.toString('utf8') : '<no frame>');
/** `OP:payload` for data frames, `ERR:CODE` for errors: compact to compare whole answer lists. */
export const describeFrame = (f: Frame): string => (f.op === Op.ERROR ? `ERR:${parseError(f.payload).code}` : `${f.op}:${text(f)}`);

// ── tickets ─────────────────────────────────────────────────────────────────────────────────

export type TicketCall =
  | { type: 'closed'; summary: Partial<ConnectionSummary> | undefined }
  | { type: 'refuse'; socket: Socket; code: ErrorCode; message: string };

/**
 * A ConnectionTicket that records its calls. With `forward`, refuse() also does what the accept
 * loop's does (refuseConnection), so the peer really receives the ERROR frame.
 */
export class FakeTicket implements ConnectionTicket {
  readonly id: number;
  readonly remoteAddress = '127.0.0.1';
  readonly calls: TicketCall[] = [];
  readonly #forward: boolean;

  constructor(id = 1, { forward = false } = {}) {
    this.id = id;
    this.#forward = forward;
  }

  closed = (summary?: Partial<ConnectionSummary>): void => {
    this.calls.push({ type: 'closed', summary });
  };

  /** Admits every address (the accept loop's per-address count is tested on the real loop). */
  admit = (): Refusal => null;

  refuse = (socket: Socket, code: ErrorCode, message: string): void => {
    this.calls.push({ type: 'refuse', socket, code, message });
    if (this.#forward) refuseConnection(socket, code, message);
  };

  get closes(): number {
    return this.calls.filter((c) => c.type === 'closed').length;
  }

  get refusals(): Extract<TicketCall, { type: 'refuse' }>[] {
    return this.calls.filter((c): c is Extract<TicketCall, { type: 'refuse' }> => c.type === 'refuse');
  }
}
