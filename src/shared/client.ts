// A small client for the wire protocol: one connection, requests answered in order.
// Used by `switchboard client`, the tests and the load generator's checks.
import net from 'node:net';
import { FrameDecoder, encodeFrame, Op, parseError, type Frame } from './protocol.ts';

export class ServerError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code} ${message}`);
    this.name = 'ServerError';
    this.code = code;
  }
}

export interface ConnectOptions {
  port: number;
  host?: string;
  /** Connect from this local address (e.g. 127.0.0.2, to look like another client). */
  localAddress?: string;
  /** Give up (destroying the socket) if the handshake has not completed by then. */
  timeoutMs?: number;
  /** Keep our side writable after the peer's FIN (default false: end when the peer ends). */
  allowHalfOpen?: boolean;
  /**
   * Read into this caller-owned buffer instead of a fresh Buffer per chunk (net's `onread`):
   * no 'data' events are emitted; the callback must consume the bytes before it returns.
   */
  onread?: net.OnReadOpts;
}

/**
 * Opens a TCP connection with a deadline: resolves with the connected socket (Nagle off),
 * rejects with the socket's error or a timeout. The one connect-with-timeout of the project:
 * the CLI client, the load generator and the test/reliability harness all use it.
 */
export function connectSocket(o: ConnectOptions): Promise<net.Socket> {
  const { port, host = '127.0.0.1', localAddress, timeoutMs = 5000, allowHalfOpen = false, onread } = o;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, allowHalfOpen, ...(localAddress ? { localAddress } : {}), ...(onread ? { onread } : {}) });
    const timer = setTimeout(() => socket.destroy(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

interface Waiter {
  resolve(frame: Frame): void;
  reject(err: Error): void;
}

export class FrameClient {
  readonly socket: net.Socket;
  readonly #decoder: FrameDecoder;
  readonly #waiters: Waiter[] = [];
  #closedError: Error | null = null;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket, maxFrame: number) {
    this.socket = socket;
    this.#decoder = new FrameDecoder(maxFrame);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const err = this.#decoder.push(chunk, (op, payload) => {
        this.#waiters.shift()?.resolve({ op, payload: Buffer.from(payload) });
      });
      if (err) socket.destroy(err);
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#closedError ??= new Error('connection closed before the response arrived');
        for (const w of this.#waiters.splice(0)) w.reject(this.#closedError);
        resolve();
      });
    });
    socket.on('error', (err) => {
      this.#closedError = err;
    });
  }

  static async connect(port: number, host = '127.0.0.1', { maxFrame = 0xffff_ffff, timeoutMs = 5000 } = {}): Promise<FrameClient> {
    return new FrameClient(await connectSocket({ port, host, timeoutMs }), maxFrame);
  }

  /** Sends one frame; resolves with the response frame (ERROR frames included). */
  send(op: number, payload: Uint8Array = Buffer.alloc(0)): Promise<Frame> {
    return this.sendRaw(encodeFrame(op, payload));
  }

  /** Writes pre-encoded bytes holding exactly one request. */
  sendRaw(bytes: Uint8Array): Promise<Frame> {
    if (this.#closedError || this.socket.destroyed) return Promise.reject(this.#closedError ?? new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.socket.write(bytes);
    });
  }

  /** Like send(), but an ERROR reply rejects with a ServerError carrying its code. */
  async request(op: number, payload?: Uint8Array): Promise<Buffer> {
    const frame = await this.send(op, payload);
    if (frame.op === Op.ERROR) {
      const { code, message } = parseError(frame.payload);
      throw new ServerError(code, message);
    }
    return frame.payload;
  }

  echo(data: Uint8Array): Promise<Buffer> {
    return this.request(Op.ECHO, data);
  }
  work(n: number, seed: Uint8Array = Buffer.alloc(0)): Promise<Buffer> {
    const p = Buffer.allocUnsafe(4 + seed.length);
    p.writeUInt32BE(n, 0);
    p.set(seed, 4);
    return this.request(Op.WORK, p);
  }
  async sleep(ms: number): Promise<void> {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(ms, 0);
    await this.request(Op.SLEEP, p);
  }
  async info(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.request(Op.INFO)).toString('utf8'));
  }

  /** Half-close: no more requests; responses still arrive. */
  end(): void {
    this.socket.end();
  }
  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}
