import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame, encodeFrameParts, encodeError, parseError, Op, type Frame } from '../../src/shared/protocol.ts';

const decodeAll = (decoder: FrameDecoder, chunks: Buffer[]) => {
  const frames: Frame[] = [];
  let error = null;
  for (const chunk of chunks) {
    error = decoder.push(chunk, (op, payload) => frames.push({ op, payload: Buffer.from(payload) }));
    if (error) break;
  }
  return { frames, error };
};

/** Splits `bytes` at the given cut points (any positions, any order, duplicates allowed). */
const splitAt = (bytes: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
};

const frameArb = fc.record({
  op: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

describe('FrameDecoder', () => {
  it('property: any split of a byte stream decodes to the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
        const stream = Buffer.concat(frames.map((f) => encodeFrame(f.op, f.payload)));
        const decoder = new FrameDecoder(1024);
        const { frames: got, error } = decodeAll(decoder, splitAt(stream, cuts));
        expect(error).toBeNull();
        expect(got).toEqual(frames);
        expect(decoder.pendingBytes).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('property: one byte at a time decodes the same as all at once', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 10 }), (frames) => {
        const stream = Buffer.concat(frames.map((f) => encodeFrame(f.op, f.payload)));
        const bytes = [...stream].map((b) => Buffer.from([b]));
        expect(decodeAll(new FrameDecoder(1024), bytes).frames).toEqual(frames);
      }),
      { numRuns: 100 },
    );
  });

  it('hands out whole frames inside one chunk as views, without copying', () => {
    const chunk = Buffer.concat([encodeFrame(Op.ECHO, Buffer.from('abc')), encodeFrame(Op.INFO)]);
    const payloads: Buffer[] = [];
    new FrameDecoder(100).push(chunk, (_, p) => payloads.push(p));
    expect(payloads[0]!.buffer).toBe(chunk.buffer);
    expect(payloads[0]!.toString()).toBe('abc');
  });

  it('L = 0 is E_BAD_FRAME; frames before it are still delivered; the decoder stays failed', () => {
    const d = new FrameDecoder(100);
    const { frames, error } = decodeAll(d, [Buffer.concat([encodeFrame(Op.ECHO, Buffer.from('ok')), Buffer.from([0, 0, 0, 0, 1])])]);
    expect(frames.map((f) => f.payload.toString())).toEqual(['ok']);
    expect(error?.code).toBe('E_BAD_FRAME');
    expect(d.push(encodeFrame(Op.ECHO), () => expect.fail('no frame after a fatal error'))?.code).toBe('E_BAD_FRAME');
  });

  it('L > maxFrame is E_TOO_LARGE as soon as the 4 length bytes are in, even split, with nothing buffered', () => {
    const d = new FrameDecoder(10);
    expect(d.push(Buffer.from([0, 0]), () => {})).toBeNull();
    expect(d.push(Buffer.from([0]), () => {})).toBeNull();
    expect(d.push(Buffer.from([11]), () => {})?.code).toBe('E_TOO_LARGE');
    expect(d.pendingBytes).toBe(0);
  });

  it('accepts exactly maxFrame and holds only the bytes received for a frame in progress', () => {
    const d = new FrameDecoder(10);
    const frame = encodeFrame(Op.ECHO, Buffer.alloc(9, 7));
    expect(d.push(frame.subarray(0, 6), () => {})).toBeNull();
    expect(d.pendingBytes).toBe(6); // not L: nothing is allocated ahead of the bytes
    const got: Buffer[] = [];
    d.push(frame.subarray(6), (_, p) => got.push(p));
    expect(got[0]!.equals(Buffer.alloc(9, 7))).toBe(true);
  });

  it('a 4 GiB length prefix costs nothing', () => {
    const d = new FrameDecoder(0xffff_ffff);
    expect(d.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 1]), () => {})).toBeNull();
    expect(d.pendingBytes).toBe(5);
  });
});

describe('encoders', () => {
  it('encodeFrame writes u32 BE length = payload + 1, then op', () => {
    expect([...encodeFrame(0x02, Buffer.from([9, 8]))]).toEqual([0, 0, 0, 3, 2, 9, 8]);
  });
  it('encodeFrameParts passes large payloads through untouched', () => {
    const big = Buffer.alloc(4096, 1);
    const parts = encodeFrameParts(Op.ECHO, big);
    expect(Array.isArray(parts)).toBe(true);
    const [header, payload] = parts as [Buffer, Uint8Array];
    expect(payload).toBe(big);
    expect(Buffer.concat([header, payload]).equals(encodeFrame(Op.ECHO, big))).toBe(true);
  });
  it('error frames start with their code and parse back', () => {
    const frame = encodeError('E_BUSY', 'try later');
    expect(frame[4]).toBe(Op.ERROR);
    expect(parseError(frame.subarray(5))).toEqual({ code: 'E_BUSY', message: 'try later' });
  });
});
