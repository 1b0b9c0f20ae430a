// A raw TCP peer for tests: writes arbitrary bytes, collects every byte received, and decodes
// them into frames on demand. Unlike FrameClient it never assumes the server behaves.
import type net from 'node:net';
import { connectSocket } from '../src/shared/client.ts';
import { FrameDecoder, encodeFrame, type Frame } from '../src/shared/protocol.ts';

export class RawPeer {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  error: Error | null = null;
  ended = false; // the server sent FIN
  /** performance.now() when the socket closed (0 while open): when, in a failure message. */
  closedAt = 0;
  #decoder = new FrameDecoder(0xffff_ffff);
  #waiters: { n: number; resolve: () => void }[] = [];

  /** The local port, kept: a destroyed socket no longer knows it (failure messages need it). */
  readonly localPort: number;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.localPort = socket.localPort ?? 0;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk, (op, payload) => this.frames.push({ op, payload: Buffer.from(payload) }));
      this.#wake();
    });
    socket.on('end', () => (this.ended = true));
    socket.on('error', (err) => (this.error = err));
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.closedAt = performance.now();
        this.#wake(true);
        resolve();
      }),
    );
  }

  static async connect(port: number, opts: { allowHalfOpen?: boolean; host?: string; localAddress?: string; timeoutMs?: number } = {}): Promise<RawPeer> {
    return new RawPeer(await connectSocket({ port, ...opts }));
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  send(op: number, payload: Uint8Array = Buffer.alloc(0)): Promise<void> {
    return this.write(encodeFrame(op, payload));
  }

  /** Resolves once `n` frames have arrived in total (rejects on close or timeout). */
  waitFrames(n: number, timeoutMs = 10_000): Promise<Frame[]> {
    if (this.frames.length >= n) return Promise.resolve(this.frames.slice(0, n));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${this.frames.length}/${n} frames in ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          if (this.frames.length >= n) resolve(this.frames.slice(0, n));
          else reject(new Error(`connection closed after ${this.frames.length}/${n} frames`));
        },
      });
    });
  }

  /** Resolves true if the server closed the connection within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return r;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(closed = false): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (closed || this.frames.length >= w.n) {
        w.resolve();
        return false;
      }
      return true;
    });
  }
}
