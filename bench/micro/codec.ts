// Micro-benchmark: frame encode/decode throughput (MB/s) and allocations per frame, small and
// large frames (tinybench). Allocations are counted exactly by wrapping the Buffer factories
// the codec can call (alloc, allocUnsafe, concat, from) and subarray (a view: no bytes, one object).
//   node bench/micro/codec.ts
import { Bench } from 'tinybench';
import { encodeFrame, encodeFrameParts, FrameDecoder, Op } from '../../src/shared/protocol.ts';

export interface CodecRow {
  name: string;
  frameBytes: number;
  mbPerSec: number;
  framesPerSec: number;
  /** New buffers (memory) per frame. */
  buffersPerFrame: number;
  /** Bytes of new buffer memory per frame. */
  bytesAllocatedPerFrame: number;
  /** Views (subarray) per frame: a small object, no copy. */
  viewsPerFrame: number;
  samples: number;
}

interface Counts {
  buffers: number;
  bytes: number;
  views: number;
}

function countAllocations(fn: () => void, frames: number): Counts {
  const B = Buffer as unknown as Record<string, (...a: unknown[]) => Buffer>;
  const names = ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'concat', 'from'] as const;
  const saved = names.map((n) => B[n]!);
  const proto = Buffer.prototype as unknown as { subarray: (...a: unknown[]) => Buffer };
  const savedSub = proto.subarray;
  const c: Counts = { buffers: 0, bytes: 0, views: 0 };
  let depth = 0; // concat/from call alloc internally: count the outermost call only
  names.forEach((n, i) => {
    B[n] = function (this: unknown, ...a: unknown[]) {
      depth++;
      try {
        const out = saved[i]!.apply(Buffer, a);
        if (depth === 1) {
          c.buffers++;
          c.bytes += out.length;
        }
        return out;
      } finally {
        depth--;
      }
    };
  });
  proto.subarray = function (this: Buffer, ...a: unknown[]) {
    if (depth === 0) c.views++;
    return savedSub.apply(this, a);
  };
  try {
    fn();
  } finally {
    names.forEach((n, i) => (B[n] = saved[i]!));
    proto.subarray = savedSub;
  }
  return { buffers: c.buffers / frames, bytes: c.bytes / frames, views: c.views / frames };
}

export async function codecBench({ timeMs = 400 } = {}): Promise<CodecRow[]> {
  const small = Buffer.alloc(64, 7);
  const large = Buffer.alloc(64 * 1024, 7);
  const BATCH_SMALL = 1000;
  const BATCH_LARGE = 20;
  const smallStream = Buffer.concat(Array.from({ length: BATCH_SMALL }, () => encodeFrame(Op.ECHO, small)));
  const largeFrame = encodeFrame(Op.ECHO, large);
  // A 64 KiB frame read off a socket usually arrives in more than one chunk: split it in two.
  const largeA = largeFrame.subarray(0, 65536);
  const largeB = largeFrame.subarray(65536);
  const sink = (_op: number, _p: Buffer) => {};

  const cases: { name: string; frameBytes: number; frames: number; fn: () => void }[] = [
    { name: 'encode 64 B (encodeFrame)', frameBytes: 69, frames: BATCH_SMALL, fn: () => { for (let i = 0; i < BATCH_SMALL; i++) encodeFrame(Op.ECHO, small); } },
    { name: 'encode 64 KiB (encodeFrameParts, no copy)', frameBytes: largeFrame.length, frames: BATCH_LARGE, fn: () => { for (let i = 0; i < BATCH_LARGE; i++) encodeFrameParts(Op.ECHO, large); } },
    { name: 'encode 64 KiB (encodeFrame, one copy)', frameBytes: largeFrame.length, frames: BATCH_LARGE, fn: () => { for (let i = 0; i < BATCH_LARGE; i++) encodeFrame(Op.ECHO, large); } },
    { name: 'decode 64 B (1000 frames in one chunk)', frameBytes: 69, frames: BATCH_SMALL, fn: () => void new FrameDecoder(1 << 20).push(smallStream, sink) },
    {
      name: 'decode 64 KiB (frame split over 2 chunks)',
      frameBytes: largeFrame.length,
      frames: BATCH_LARGE,
      fn: () => {
        const d = new FrameDecoder(1 << 20);
        for (let i = 0; i < BATCH_LARGE; i++) {
          d.push(largeA, sink);
          d.push(largeB, sink);
        }
      },
    },
  ];
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(100, timeMs / 4) });
  for (const c of cases) bench.add(c.name, c.fn);
  await bench.run();
  return cases.map((c, i) => {
    const r = bench.tasks[i]!.result as { latency?: { mean: number; samplesCount: number } };
    const meanMs = r.latency?.mean ?? NaN;
    const framesPerSec = (c.frames / meanMs) * 1000;
    const alloc = countAllocations(c.fn, c.frames);
    return {
      name: c.name,
      frameBytes: c.frameBytes,
      framesPerSec,
      mbPerSec: (framesPerSec * c.frameBytes) / 1e6,
      buffersPerFrame: alloc.buffers,
      bytesAllocatedPerFrame: alloc.bytes,
      viewsPerFrame: alloc.views,
      samples: r.latency?.samplesCount ?? 0,
    };
  });
}

if (import.meta.main) {
  console.table(await codecBench());
}
