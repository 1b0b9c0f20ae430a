// The built-in handler: ECHO, WORK, SLEEP and INFO as specified in docs/PROTOCOL.md.
// It is an ordinary handler module, loaded by path like any user handler.
import { setTimeout as sleep } from 'node:timers/promises';
import { ProtocolError } from './errors.ts';
import { Op } from './protocol.ts';
import type { HandlerContext, HandlerResult } from './handler.ts';

export const MAX_SLEEP_MS = 60_000;

// node:crypto is loaded on the first WORK, not with the module: it is a few ms of every thread's
// and child's start-up (its internal modules are not in Node's start-up snapshot), paid by every
// connection under the thread and process models whether or not it ever asks for WORK.
let createHash: typeof import('node:crypto').createHash | undefined;

/** d0 = seed, dk = SHA-256(d(k−1)); returns dn (32 bytes). Exported so clients can verify replies. */
export function workDigest(n: number, seed: Uint8Array): Buffer {
  createHash ??= process.getBuiltinModule('node:crypto').createHash;
  let d: Uint8Array = seed;
  for (let k = 0; k < n; k++) d = createHash!('sha256').update(d).digest();
  return Buffer.from(d);
}

export function handle(op: number, payload: Buffer, ctx: HandlerContext): HandlerResult | Promise<HandlerResult> {
  switch (op) {
    case Op.ECHO:
      return { op, payload };
    case Op.WORK: {
      if (payload.length < 4) throw new ProtocolError('E_BAD_ARGS', 'WORK needs a u32 iteration count');
      const n = payload.readUInt32BE(0);
      if (n < 1 || n > ctx.maxWork) throw new ProtocolError('E_BAD_ARGS', `WORK n must be 1..${ctx.maxWork}, got ${n}`);
      return { op, payload: workDigest(n, payload.subarray(4)) };
    }
    case Op.SLEEP: {
      if (payload.length !== 4) throw new ProtocolError('E_BAD_ARGS', 'SLEEP needs exactly a u32 of milliseconds');
      const ms = payload.readUInt32BE(0);
      if (ms > MAX_SLEEP_MS) throw new ProtocolError('E_BAD_ARGS', `SLEEP ms must be ≤ ${MAX_SLEEP_MS}, got ${ms}`);
      return sleep(ms).then(() => ({ op, payload: Buffer.alloc(0) }));
    }
    case Op.INFO: {
      if (payload.length !== 0) throw new ProtocolError('E_BAD_ARGS', 'INFO takes no payload');
      const { model, pid, threadId, connection, requests, peer } = ctx;
      return { op, payload: Buffer.from(JSON.stringify({ model, pid, threadId, connection, requests, peer })) };
    }
    default:
      throw new ProtocolError('E_UNKNOWN_OP', `unknown op 0x${op.toString(16).padStart(2, '0')}`);
  }
}
