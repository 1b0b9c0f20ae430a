// Short conversations with a server under test: one request on a fresh connection, a liveness
// probe, INFO on a connection, and a raw connected socket (optionally from another local
// address). Connecting always goes through src's connectSocket (one connect-with-timeout).
import type net from 'node:net';
import { connectSocket, FrameClient } from '../src/shared/client.ts';
import { Op, parseError } from '../src/shared/protocol.ts';
import { RawPeer } from './peer.ts';
import { withTimeout } from './time.ts';
import { infoFrame } from './wire.ts';

export { FrameClient, RawPeer };

/** A connected raw socket to 127.0.0.1:port. */
export function rawConnect(port: number, localAddress?: string, timeoutMs = 5000): Promise<net.Socket> {
  return connectSocket({ port, ...(localAddress ? { localAddress } : {}), timeoutMs });
}

/** One request on a fresh connection; resolves with the reply's op and payload (and the code of an ERROR), or throws. */
export async function oneShot(port: number, op: number, payload: Buffer, timeoutMs = 5000): Promise<{ op: number; payload: Buffer; code?: string }> {
  const c = await FrameClient.connect(port, '127.0.0.1', { timeoutMs });
  try {
    const f = await withTimeout(c.send(op, payload), timeoutMs, 'request');
    return f.op === Op.ERROR ? { ...f, code: parseError(f.payload).code } : f;
  } finally {
    c.socket.destroy();
  }
}

/** True if a fresh connection gets its ECHO answered correctly within `timeoutMs`. */
export async function echoOk(port: number, timeoutMs = 5000): Promise<boolean> {
  try {
    const r = await oneShot(port, Op.ECHO, Buffer.from('ping'), timeoutMs);
    return r.op === Op.ECHO && r.payload.toString() === 'ping';
  } catch {
    return false;
  }
}

export interface InfoReply {
  model: string;
  pid: number;
  threadId: number;
  connection: number;
  requests: number;
}

/** Sends INFO on a connected peer and returns the parsed answer (request count is cumulative). */
export async function info(peer: RawPeer): Promise<InfoReply> {
  const n = peer.frames.length;
  await peer.write(infoFrame());
  const frames = await peer.waitFrames(n + 1);
  const f = frames[n]!;
  if (f.op !== Op.INFO) throw new Error(`INFO answered with op 0x${f.op.toString(16)}: ${f.payload.toString('utf8').slice(0, 200)}`);
  return JSON.parse(f.payload.toString('utf8'));
}

/** Connects, asks INFO, closes: the pid that served a fresh connection. */
export async function pidOfNewConnection(port: number): Promise<number> {
  const peer = await RawPeer.connect(port);
  try {
    return (await info(peer)).pid;
  } finally {
    peer.destroy();
  }
}
