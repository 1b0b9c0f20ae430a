// Checks for examples/deflate/mix.json (the mix's "checks" module): true, or why the answer is
// wrong.
import zlib from 'node:zlib';

interface Request {
  op: number;
  payload: Buffer;
  kind: string;
}
interface Answer {
  op: number;
  payload: Buffer;
}

/** The answer has the request's op and inflates (zlib format) to exactly the request's bytes. */
export function inflatesToRequest(request: Request, answer: Answer): true | string {
  if (answer.op !== request.op) return `answered op 0x${answer.op.toString(16)}: ${answer.payload.subarray(0, 120).toString('utf8')}`;
  let inflated: Buffer;
  try {
    inflated = zlib.inflateSync(answer.payload);
  } catch (err) {
    return `the answer does not inflate: ${(err as Error).message}`;
  }
  if (inflated.equals(request.payload)) return true;
  const n = Math.min(inflated.length, request.payload.length);
  let i = 0;
  while (i < n && inflated[i] === request.payload[i]) i++;
  return `inflates to ${inflated.length} bytes, the request had ${request.payload.length}; first difference at byte ${i}`;
}
