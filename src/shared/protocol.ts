// Wire protocol v1 (docs/PROTOCOL.md): every message is
//   u32 BE length L (bytes that follow, L ≥ 1) | u8 op | L − 1 bytes of payload.
// This module is pure: bytes in, frames out. It knows nothing of sockets, threads or processes.
import { ProtocolError, type ErrorCode } from './errors.ts';

export const LENGTH_BYTES = 4;
export const HEADER_BYTES = LENGTH_BYTES + 1; // length + op

export const Op = {
  ECHO: 0x01,
  WORK: 0x02,
  SLEEP: 0x03,
  INFO: 0x04,
  ERROR: 0xff,
} as const;

export const OP_NAMES: Record<number, string> = {
  [Op.ECHO]: 'ECHO',
  [Op.WORK]: 'WORK',
  [Op.SLEEP]: 'SLEEP',
  [Op.INFO]: 'INFO',
  [Op.ERROR]: 'ERROR',
};

export interface Frame {
  op: number;
  payload: Buffer;
}

// Below this size one copy into a single buffer is cheaper than a second write request;
// above it we hand header and payload to the socket separately (a writev, no copy).
const COPY_PAYLOAD_BELOW = 1024;

/** The 5 header bytes of a frame carrying `payloadBytes` bytes. */
export function encodeHeader(op: number, payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(payloadBytes + 1, 0);
  header[LENGTH_BYTES] = op;
  return header;
}

/** One contiguous buffer holding the whole frame. */
export function encodeFrame(op: number, payload: Uint8Array = EMPTY): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length + 1, 0);
  frame[LENGTH_BYTES] = op;
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/**
 * The frame as one or two buffers ready for a corked socket: small payloads are copied next
 * to the header, large ones are passed through untouched so a 1 MiB echo is never copied.
 */
export function encodeFrameParts(op: number, payload: Uint8Array): Buffer | [Buffer, Uint8Array] {
  if (payload.length < COPY_PAYLOAD_BELOW) return encodeFrame(op, payload);
  return [encodeHeader(op, payload.length), payload];
}

/** `0xFF` frame whose UTF-8 text starts with the stable code. */
export function encodeError(code: ErrorCode, message: string): Buffer {
  return encodeFrame(Op.ERROR, Buffer.from(`${code} ${message}`, 'utf8'));
}

/** Splits an ERROR payload back into its code and message. */
export function parseError(payload: Buffer): { code: string; message: string } {
  const text = payload.toString('utf8');
  const space = text.indexOf(' ');
  return space < 0 ? { code: text, message: '' } : { code: text.slice(0, space), message: text.slice(space + 1) };
}

export const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Incremental frame decoder: push whatever the socket produced, get whole frames back.
 *
 * Frames may arrive split at any byte or many per chunk. Whole frames inside one chunk are
 * handed out as views of that chunk (no copy). A frame that spans chunks is kept as a list of
 * chunks and joined once, when its last byte has arrived: we never allocate `L` bytes on the
 * strength of a length prefix alone, so a peer announcing 4 GiB costs us nothing.
 *
 * After a fatal framing error (L = 0, L > maxFrame) the decoder stays failed: every later push
 * returns the same error and yields no frame.
 */
export class FrameDecoder {
  readonly maxFrame: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #frameBytes = -1; // L of the frame being collected, once its length prefix is complete
  #error: ProtocolError | null = null;

  constructor(maxFrame: number) {
    this.maxFrame = maxFrame;
  }

  /** Bytes of an incomplete frame held back (0 when the stream sits on a frame boundary). */
  get pendingBytes(): number {
    return this.#buffered;
  }

  get error(): ProtocolError | null {
    return this.#error;
  }

  /** Feeds one chunk; calls onFrame for each complete frame in order; returns a fatal error if one was found. */
  push(chunk: Buffer, onFrame: (op: number, payload: Buffer) => void): ProtocolError | null {
    if (this.#error) return this.#error;
    if (chunk.length === 0) return null;
    let buf = chunk;
    if (this.#buffered > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#frameBytes < 0) {
        if (this.#buffered < LENGTH_BYTES) return null;
        // The length prefix itself was split: join what we hold (under one frame's worth).
        const joined = Buffer.concat(this.#chunks, this.#buffered);
        this.#chunks = [joined];
        this.#frameBytes = joined.readUInt32BE(0);
        const err = this.#check(this.#frameBytes);
        if (err) return err;
      }
      if (this.#buffered < LENGTH_BYTES + this.#frameBytes) return null;
      buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
      this.#chunks = [];
      this.#buffered = 0;
      this.#frameBytes = -1;
    }

    let offset = 0;
    const end = buf.length;
    while (end - offset >= LENGTH_BYTES) {
      const length = buf.readUInt32BE(offset);
      const err = this.#check(length);
      if (err) return err;
      if (end - offset - LENGTH_BYTES < length) {
        this.#frameBytes = length;
        break;
      }
      const start = offset + LENGTH_BYTES;
      offset = start + length;
      onFrame(buf[start]!, buf.subarray(start + 1, offset));
    }
    if (offset < end) {
      this.#chunks = [buf.subarray(offset)];
      this.#buffered = end - offset;
    }
    return null;
  }

  #check(length: number): ProtocolError | null {
    if (length === 0) {
      this.#fail(new ProtocolError('E_BAD_FRAME', 'frame length 0: a frame carries at least its op byte'));
    } else if (length > this.maxFrame) {
      this.#fail(new ProtocolError('E_TOO_LARGE', `frame of ${length} bytes exceeds the ${this.maxFrame}-byte limit`));
    }
    return this.#error;
  }

  #fail(err: ProtocolError): void {
    this.#error = err;
    this.#chunks = [];
    this.#buffered = 0;
    this.#frameBytes = -1;
  }
}
