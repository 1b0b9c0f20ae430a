// deflate: compression as a service, the CPU-heavy example. Run it with
//   switchboard serve --handler examples/deflate/handler.ts
// What it models: any request whose cost is pure computation in native code, here zlib's
// deflate at level 9 (think: compressing a log batch or an HTTP response body before storing
// it). zlib.deflateSync runs on the calling thread and holds it for the whole call: on
// event-loop every other connection waits meanwhile (one core's worth of throughput, latency
// grows with the queue), while thread, thread-pool, offload, process and process-pool spread
// the work over cores. This is the case where pools should win, and where their overhead
// (moving a 64 KiB payload to a worker and the answer back) is small next to the work.
// The mix (mix.json) sends ~66 KiB of access-log text per request, which costs about 2.8 ms of
// CPU here (measured with process.cpuUsage around deflateSync on the mix's own requests, on a
// 2-core AMD EPYC VM), plus a few incompressible (random) payloads, on which deflate gives up
// early and stores them (~0.1 ms).
//
// Ops:
//   0x40 COMPRESS  bytes → 0x40 zlib.deflateSync(bytes, { level: 9 }) (zlib format, RFC 1950;
//                  zlib.inflateSync gives the request back). Deterministic: the same bytes under
//                  every model (one zlib, one level).
//                  Payload over 1 MiB → E_BAD_ARGS. (The server's default --max-frame is 1 MiB
//                  too, so such a frame is refused as E_TOO_LARGE before it gets here unless
//                  the server runs with a larger --max-frame.)
// Every other op is answered E_UNKNOWN_OP. Standalone: imports nothing from switchboard.
import zlib from 'node:zlib';

export const COMPRESS = 0x40;
export const MAX_INPUT_BYTES = 1024 * 1024;

const fail = (code: string, message: string) => Object.assign(new Error(message), { code });

export function handle(op: number, payload: Buffer) {
  if (op !== COMPRESS) throw fail('E_UNKNOWN_OP', `deflate has no op 0x${op.toString(16)}`);
  if (payload.length > MAX_INPUT_BYTES) throw fail('E_BAD_ARGS', `COMPRESS takes at most ${MAX_INPUT_BYTES} bytes, got ${payload.length}`);
  return { op, payload: zlib.deflateSync(payload, { level: 9 }) };
}
