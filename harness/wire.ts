// Request builders and independent reference answers for assertions.
import { createHash } from 'node:crypto';
import { encodeFrame, Op } from '../src/shared/protocol.ts';

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
};
export const workPayload = (n: number, seed: Buffer | string = ''): Buffer => Buffer.concat([u32(n), Buffer.from(seed)]);
export const echoFrame = (data: Buffer | string): Buffer => encodeFrame(Op.ECHO, Buffer.from(data));
export const workFrame = (n: number, seed: Buffer | string = ''): Buffer => encodeFrame(Op.WORK, workPayload(n, seed));
export const sleepFrame = (ms: number): Buffer => encodeFrame(Op.SLEEP, u32(ms));
export const infoFrame = (): Buffer => encodeFrame(Op.INFO);
/** A header announcing L bytes, without them. */
export const headerOnly = (length: number, op = Op.ECHO): Buffer => Buffer.concat([u32(length), Buffer.from([op])]);

/** SHA-256 chain written independently of the server's code: d0 = seed, dk = H(dk−1). */
export function expectedDigest(n: number, seed: Buffer | string = ''): Buffer {
  let d = Buffer.from(seed);
  for (let i = 0; i < n; i++) d = createHash('sha256').update(d).digest();
  return d;
}

export const errorCode = (payload: Buffer): string => payload.toString('utf8').split(' ')[0]!;
export { sleep } from './time.ts';
