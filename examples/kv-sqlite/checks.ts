// Checks for examples/kv-sqlite/mix.json (the mix's "checks" module): true, or why the answer is
// wrong.

interface Request {
  op: number;
  payload: Buffer;
  kind: string;
}
interface Answer {
  op: number;
  payload: Buffer;
}

/**
 * A GET of a key the mix reads (key-0 … key-999, seeded and never deleted): op 0x20 with a
 * non-empty value, either the seeded one ("value-<i>-" padded with dots to 100 bytes) or one
 * the mix's SET wrote (96 hex digits). A miss comes back as an ERROR frame and is wrong.
 */
export function getAnswer(request: Request, answer: Answer): true | string {
  const key = request.payload.toString('utf8');
  if (answer.op !== request.op) return `GET ${key} answered op 0x${answer.op.toString(16)}: ${answer.payload.subarray(0, 120).toString('utf8')}`;
  if (answer.payload.length === 0) return `GET ${key} answered an empty value`;
  const value = answer.payload.toString('latin1');
  const m = /^key-(\d+)$/.exec(key);
  const seeded = m ? `value-${m[1]}-`.padEnd(100, '.') : null;
  if (value === seeded || /^[0-9a-f]{96}$/.test(value)) return true;
  return `GET ${key} answered ${JSON.stringify(value.slice(0, 120))}: neither its seeded value nor one the mix's SET writes`;
}
