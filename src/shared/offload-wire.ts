// The messages of offload's rings (src/shared/ring.ts), one per request and one per answer (or
// several, for an answer larger than its ring carries at once). Fixed little-endian headers, so
// a request costs one copy of its payload into the ring and nothing is cloned or serialized.
//
//   request  [u32 id][u8 kind][u8 op][u16 peer bytes][u32 connection][u32 requests][peer][payload]
//            kind REQUEST, PING, or PART (more of the payload follows in the next message of the id)
//   answer   [u32 id][u8 status][u8 op][u16 0][body]
//            status OK: body = the payload; PART: the payload continues in the next message of
//            the same id; ERROR: body = [u16 code bytes][code][message, UTF-8]; NOT_RESULT: the
//            handler's answer was not {op: 0..255, payload: Uint8Array}, no body
// ids are the main thread's, unique among the requests in flight on one thread.

export const REQUEST_HEADER = 16;
export const ANSWER_HEADER = 8;
export const KIND_REQUEST = 0;
/** The start-up ping: answered OK with an empty payload, without calling the handler. */
export const KIND_PING = 1;
/**
 * A request larger than its ring carries at once, sent in parts: every part but the last is
 * KIND_PART, the last KIND_REQUEST; each repeats the header, and the payload is their chunks in order.
 */
export const KIND_PART = 2;
export const STATUS_OK = 0;
export const STATUS_PART = 1;
export const STATUS_ERROR = 2;
/** The handler returned something other than {op: 0..255, payload}: the connection's own check answers it. */
export const STATUS_NOT_RESULT = 3;
/** Longest peer string carried (INFO's `peer`; a PROXY header's address and port fit many times over). */
export const MAX_PEER = 255;

export interface WireRequest {
  id: number;
  kind: number;
  op: number;
  connection: number;
  requests: number;
  peer: string;
  payload: Buffer;
}

/**
 * The header and peer of a request into `into` (≥ REQUEST_HEADER + MAX_PEER bytes, reused: the
 * ring copies it at once); returns how many bytes of it are the message's head.
 */
export function encodeRequestHead(into: Buffer, id: number, kind: number, op: number, connection: number, requests: number, peer: string): number {
  into.writeUInt32LE(id >>> 0, 0);
  into[4] = kind;
  into[5] = op;
  const n = into.write(peer.length > MAX_PEER ? peer.slice(0, MAX_PEER) : peer, REQUEST_HEADER, MAX_PEER, 'latin1');
  into.writeUInt16LE(n, 6);
  into.writeUInt32LE(connection >>> 0, 8);
  into.writeUInt32LE(requests >>> 0, 12);
  return REQUEST_HEADER + n;
}

export function decodeRequest(m: Buffer): WireRequest {
  const peerBytes = m.readUInt16LE(6);
  return {
    id: m.readUInt32LE(0),
    kind: m[4]!,
    op: m[5]!,
    connection: m.readUInt32LE(8),
    requests: m.readUInt32LE(12),
    peer: m.toString('latin1', REQUEST_HEADER, REQUEST_HEADER + peerBytes),
    payload: m.subarray(REQUEST_HEADER + peerBytes),
  };
}

/** An answer's header into `into` (≥ ANSWER_HEADER bytes). */
export function encodeAnswerHead(into: Buffer, id: number, status: number, op: number): Buffer {
  into.writeUInt32LE(id >>> 0, 0);
  into[4] = status;
  into[5] = op;
  into.writeUInt16LE(0, 6);
  return into;
}

/** An ERROR answer's body. */
export function encodeErrorBody(code: string, message: string): Buffer {
  const c = Buffer.from(code, 'latin1');
  const m = Buffer.from(message, 'utf8');
  const out = Buffer.allocUnsafe(2 + c.length + m.length);
  out.writeUInt16LE(c.length, 0);
  c.copy(out, 2);
  m.copy(out, 2 + c.length);
  return out;
}

export function decodeErrorBody(body: Buffer): { code: string; message: string } {
  const n = body.readUInt16LE(0);
  return { code: body.toString('latin1', 2, 2 + n), message: body.toString('utf8', 2 + n) };
}
