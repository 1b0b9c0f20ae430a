// Makes a connection's requests from a mix. Deterministic on purpose: the sequence depends only on
// (mix.seed, conn), so every model, every run and every worker process sends the same traffic and
// their answers can be compared. Hence a PRNG of our own (sfc32, integer arithmetic only, identical
// in every process) instead of Math.random or crypto. Random payloads are hot (a 64 KiB payload
// per request must stay far under 1 ms), so they are filled four bytes per PRNG step.
import { HEADER_BYTES, encodeFrame } from '../../src/shared/protocol.ts';
import type { Mix, MixRequest, PayloadSpec, TemplatePart } from './types.ts';

// Words are stored little-endian so the bytes match across machines; a big-endian host takes
// the slower DataView path (it gives the same bytes).
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const TWO_32 = 4294967296;

/** murmur3's finaliser: a bijection on 32 bits that spreads every input bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** sfc32 (Chris Doty-Humphrey's small fast counting PRNG): 128-bit state, passes PractRand. */
export class Sfc32 {
  #a: number;
  #b: number;
  #c: number;
  #d = 1;
  constructor(seed: number, stream: number) {
    // Each word from a different input through a bijection: distinct (seed, stream) → distinct state.
    this.#a = fmix32((seed >>> 0) ^ 0x9e3779b9);
    this.#b = fmix32(Math.floor(seed / TWO_32) ^ 0x85ebca6b);
    this.#c = fmix32((stream >>> 0) ^ 0xc2b2ae35);
    for (let i = 0; i < 15; i++) this.u32(); // the author's advice: mix the seed in before use
  }
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }
  /** Uniform in [0, 1) with 32 bits of resolution (plenty for weights and sizes). */
  unit(): number {
    return this.u32() / TWO_32;
  }
  /** An integer uniform in [0, below), below ≤ 2^53 (53 bits drawn when it is over 2^32). */
  below(below: number): number {
    if (below <= TWO_32) return Math.floor(this.unit() * below);
    const x = (this.u32() >>> 11) * TWO_32 + this.u32(); // 21 + 32 = 53 bits
    return Math.min(below - 1, Math.floor((x / 2 ** 53) * below));
  }
  /** Fills `words` with PRNG output, four bytes per step. */
  fill(words: Uint32Array): void {
    if (LITTLE_ENDIAN) {
      for (let i = 0; i < words.length; i++) words[i] = this.u32();
    } else {
      const view = new DataView(words.buffer, words.byteOffset, words.byteLength);
      for (let i = 0; i < words.length; i++) view.setUint32(i * 4, this.u32(), true);
    }
  }
}

/** Index drawn by weight from cumulative weights (zero weights are never drawn). */
function pick(cum: number[], rng: Sfc32): number {
  const u = rng.unit() * cum[cum.length - 1]!;
  for (let i = 0; i < cum.length; i++) if (u < cum[i]!) return i;
  return cum.length - 1; // unreachable unless rounding put u on the total
}

function cumulative(weights: number[]): number[] {
  let sum = 0;
  return weights.map((w) => (sum += w));
}

export class MixSource {
  readonly mix: Mix;
  readonly conn: number;
  #rng: Sfc32;
  #kindCum: number[];
  #sizeCum: (number[] | null)[]; // per kind, for 'random' payloads
  #counters: number[]; // {n}: requests made so far per kind
  #fixed: (Buffer | null)[]; // per kind, the frame of a fixed-bytes payload, made once

  constructor(mix: Mix, conn: number) {
    if (!Number.isSafeInteger(conn) || conn < 0) throw new RangeError(`conn must be a non-negative integer, got ${conn}`);
    this.mix = mix;
    this.conn = conn;
    this.#rng = new Sfc32(mix.seed, conn);
    this.#kindCum = cumulative(mix.kinds.map((k) => k.weight));
    if (!(this.#kindCum[this.#kindCum.length - 1]! > 0)) throw new RangeError(`mix ${mix.name}: every weight is 0`);
    this.#sizeCum = mix.kinds.map((k) => (k.payload.kind === 'random' ? cumulative(k.payload.sizes.map((s) => s.weight)) : null));
    this.#counters = mix.kinds.map(() => 0);
    this.#fixed = mix.kinds.map((k) => (k.payload.kind === 'bytes' ? encodeFrame(k.op, k.payload.bytes) : null));
  }

  /**
   * The next request. Its frame and payload are fresh buffers except for fixed-bytes kinds, whose
   * frame is made once and shared between requests: treat both as read-only.
   */
  next(): MixRequest {
    const kind = pick(this.#kindCum, this.#rng);
    const k = this.mix.kinds[kind]!;
    const n = this.#counters[kind]!++;
    const fixed = this.#fixed[kind];
    if (fixed) return { kind, op: k.op, payload: fixed.subarray(HEADER_BYTES), frame: fixed };
    if (k.payload.kind === 'template') {
      const payload = Buffer.from(this.#fill(k.payload.parts, n), 'utf8');
      return { kind, op: k.op, payload, frame: encodeFrame(k.op, payload) };
    }
    const frame = this.#randomFrame(k.op, this.#size(k.payload, kind));
    return { kind, op: k.op, payload: frame.subarray(HEADER_BYTES), frame };
  }

  #size(p: PayloadSpec, kind: number): number {
    if (p.kind === 'random-range') return p.min + this.#rng.below(p.max - p.min + 1);
    if (p.kind !== 'random') throw new Error(`unreachable: ${p.kind}`);
    return p.sizes.length === 1 ? p.sizes[0]!.bytes : p.sizes[pick(this.#sizeCum[kind]!, this.#rng)]!.bytes;
  }

  /**
   * A frame with `n` random payload bytes, written in place: the payload starts at offset 8 of its
   * ArrayBuffer (4-aligned, so a Uint32Array can fill it) and the 5 header bytes sit just before,
   * at 3..7. No second copy of the payload, as encodeFrame would make.
   */
  #randomFrame(op: number, n: number): Buffer {
    const words = new Uint32Array(2 + Math.ceil(n / 4));
    this.#rng.fill(words.subarray(2));
    const frame = Buffer.from(words.buffer, 3, HEADER_BYTES + n);
    frame.writeUInt32BE(n + 1, 0);
    frame[4] = op;
    return frame;
  }

  #randomHex(bytes: number): string {
    const words = new Uint32Array(Math.ceil(bytes / 4));
    this.#rng.fill(words);
    return Buffer.from(words.buffer, 0, bytes).toString('hex');
  }

  #fill(parts: TemplatePart[], n: number): string {
    let s = '';
    for (const t of parts) {
      if (t.kind === 'text') s += t.text;
      else if (t.kind === 'conn') s += this.conn;
      else if (t.kind === 'n') s += n;
      else if (t.kind === 'rand') s += this.#rng.below(t.below);
      else s += this.#randomHex(t.bytes);
    }
    return s;
  }
}

/** The first `count` requests connection `conn` makes (for previews, tests and the profiler). */
export function sampleRequests(mix: Mix, conn: number, count: number): MixRequest[] {
  const source = new MixSource(mix, conn);
  return Array.from({ length: count }, () => source.next());
}
