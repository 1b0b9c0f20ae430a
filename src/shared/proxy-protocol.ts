// PROXY protocol, versions 1 and 2 (HAProxy's proxy-protocol.txt): a load balancer names the
// real client in a header before the connection's own bytes. Pure: bytes in, header out.
import { isIP } from 'node:net';
import { Buffer } from 'node:buffer';

export interface ProxyAddress {
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** 'LOCAL' (v2 health checks from the proxy itself) carries no addresses: use the TCP peer. */
  command: 'PROXY' | 'LOCAL';
  /** v1: TCP4 | TCP6 | UNKNOWN; v2: TCP4 | TCP6 | UDP4 | UDP6 | UNIX | UNSPEC */
  family: string;
  source: ProxyAddress | null; // null for LOCAL, UNKNOWN, UNSPEC, UNIX
  destination: ProxyAddress | null;
  /** Bytes the header took on the wire; the protocol's own bytes start right after. */
  length: number;
  /** v2 TLVs as type → raw value (empty for v1). */
  tlvs: { type: number; value: Buffer }[];
}

export type ProxyParse =
  | { state: 'incomplete' } // a valid prefix so far: wait for more bytes
  | { state: 'done'; header: ProxyHeader }
  | { state: 'error'; reason: string }; // human-readable, e.g. 'no PROXY header (first bytes 0x...)'

/**
 * Default bound on a whole header. v1 is at most 107 bytes; v2 is 16 + length, length from the header.
 * 1024: a v2 header with UNIX addresses (16 + 216 = 232) plus every TLV the spec and the cloud
 * load balancers define at its practical maximum (authority 3 + 255, unique ID 3 + 128, SSL with
 * version, CN, cipher and algorithms ≈ 170, ALPN, CRC32C, netns, AWS VPC endpoint, Azure link ID)
 * comes to about 900 bytes. Anything bigger is not a header we know how to use, and the bound is
 * what a connection may make us buffer before it has proved anything.
 */
export const MAX_PROXY_HEADER = 1024;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX = 107; // the spec's worst case: "PROXY TCP6 " + two full IPv6s + two 5-digit ports + CRLF
const V1_PROTOCOLS = ['TCP4', 'TCP6', 'UNKNOWN'];
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16; // signature, version/command, family/transport, length
const CR = 0x0d;
const LF = 0x0a;

// Byte 14 → family and address block size. The spec says receivers must reject every other value.
const V2_FAMILIES: Record<number, { family: string; addressBytes: number }> = {
  0x00: { family: 'UNSPEC', addressBytes: 0 },
  0x11: { family: 'TCP4', addressBytes: 12 },
  0x12: { family: 'UDP4', addressBytes: 12 },
  0x21: { family: 'TCP6', addressBytes: 36 },
  0x22: { family: 'UDP6', addressBytes: 36 },
  0x31: { family: 'UNIX', addressBytes: 216 },
  0x32: { family: 'UNIX', addressBytes: 216 },
};

const INCOMPLETE: ProxyParse = { state: 'incomplete' };
const fail = (reason: string): ProxyParse => ({ state: 'error', reason });
const view = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
const hex = (bytes: Uint8Array): string => view(bytes).toString('hex');
const noHeader = (bytes: Uint8Array): ProxyParse => fail(`no PROXY header (first bytes 0x${hex(bytes.subarray(0, 8))})`);

/** Stateless: called with all bytes received so far (headers are small, re-parsing is cheap). */
export function parseProxyHeader(bytes: Uint8Array, maxBytes: number = MAX_PROXY_HEADER): ProxyParse {
  if (bytes.length === 0) return INCOMPLETE;
  // The two versions differ in their first byte ('P' vs CR), so one byte picks the parser.
  if (bytes[0] === V1_PREFIX[0]) return parseV1(bytes, Math.min(V1_MAX, maxBytes));
  if (bytes[0] === V2_SIGNATURE[0]) return parseV2(bytes, maxBytes);
  return noHeader(bytes);
}

function parseV1(bytes: Uint8Array, limit: number): ProxyParse {
  for (let i = 0; i < Math.min(bytes.length, V1_PREFIX.length); i++) {
    if (bytes[i] !== V1_PREFIX[i]) return noHeader(bytes);
  }
  // The protocol word is judged as it arrives, so garbage fails before the line ends.
  const after = view(bytes.subarray(V1_PREFIX.length, V1_PREFIX.length + 8)).toString('latin1');
  const word = /^[^ \r\n]*/.exec(after)![0];
  const ended = word.length < after.length;
  if (!V1_PROTOCOLS.some((p) => (ended ? p === word : p.startsWith(word)))) {
    return fail(`PROXY v1: unknown protocol ${JSON.stringify(word)}`);
  }
  const scan = Math.min(bytes.length, limit);
  for (let i = V1_PREFIX.length; i < scan; i++) {
    if (bytes[i] === LF) return fail('PROXY v1: LF without CR');
    if (bytes[i] !== CR) continue;
    if (i + 2 > limit) break; // the LF would be past the limit
    if (i + 1 === bytes.length) return INCOMPLETE;
    if (bytes[i + 1] !== LF) return fail('PROXY v1: CR not followed by LF');
    return parseV1Line(view(bytes.subarray(0, i)).toString('latin1'), i + 2);
  }
  if (bytes.length >= limit) return fail(`PROXY v1: no CRLF within ${limit} bytes (oversized)`);
  return INCOMPLETE;
}

function parseV1Line(line: string, length: number): ProxyParse {
  const fields = line.split(' ');
  const header = { version: 1 as const, command: 'PROXY' as const, length, tlvs: [] };
  if (fields[1] === 'UNKNOWN') {
    // The spec lets a sender put anything after UNKNOWN; the receiver ignores it.
    return { state: 'done', header: { ...header, family: 'UNKNOWN', source: null, destination: null } };
  }
  const family = fields[1];
  if (family !== 'TCP4' && family !== 'TCP6') return fail(`PROXY v1: unknown protocol ${JSON.stringify(family)}`);
  if (fields.length !== 6) return fail(`PROXY v1: ${fields.length} fields, want 6`);
  const [, , src, dst, srcPort, dstPort] = fields as [string, string, string, string, string, string];
  const want = family === 'TCP4' ? 4 : 6;
  for (const a of [src, dst]) {
    // isIP also takes a zone id (fe80::1%eth0), which names an interface on the proxy, not ours.
    if (isIP(a) !== want || a.includes('%')) return fail(`PROXY v1: bad ${family} address ${JSON.stringify(a)}`);
  }
  for (const p of [srcPort, dstPort]) {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(p) || Number(p) > 65535) return fail(`PROXY v1: bad port ${JSON.stringify(p)}`);
  }
  // One spelling per address, whichever version carried it (per-address counts compare strings).
  const canon = want === 4 ? (a: string) => a : (a: string) => formatIpv6(ipv6Bytes(a));
  return {
    state: 'done',
    header: {
      ...header,
      family,
      source: { address: canon(src), port: Number(srcPort) },
      destination: { address: canon(dst), port: Number(dstPort) },
    },
  };
}

function parseV2(bytes: Uint8Array, maxBytes: number): ProxyParse {
  for (let i = 0; i < Math.min(bytes.length, V2_SIGNATURE.length); i++) {
    if (bytes[i] !== V2_SIGNATURE[i]) return noHeader(bytes);
  }
  // Each byte of the fixed part is judged the moment it arrives.
  if (bytes.length > 12) {
    if (bytes[12] >> 4 !== 2) return fail(`PROXY v2: version ${bytes[12] >> 4}, want 2`);
    if ((bytes[12] & 0x0f) > 1) return fail(`PROXY v2: unknown command ${bytes[12] & 0x0f}`);
  }
  const kind = bytes.length > 13 ? V2_FAMILIES[bytes[13]] : undefined;
  if (bytes.length > 13 && !kind) return fail(`PROXY v2: unknown family/transport 0x${hex(bytes.subarray(13, 14))}`);
  if (bytes.length < V2_FIXED || !kind) return INCOMPLETE;

  const bodyBytes = (bytes[14] << 8) | bytes[15];
  const length = V2_FIXED + bodyBytes;
  // Refuse now rather than buffer a body the peer chose the size of.
  if (length > maxBytes) return fail(`PROXY v2: header of ${length} bytes, over ${maxBytes} (oversized)`);
  // Even LOCAL, whose addresses are ignored, must be well formed.
  if (bodyBytes < kind.addressBytes) {
    return fail(`PROXY v2: length ${bodyBytes} shorter than the ${kind.family} address block (${kind.addressBytes})`);
  }
  if (bytes.length < length) return INCOMPLETE;

  const local = (bytes[12] & 0x0f) === 0;
  let source: ProxyAddress | null = null;
  let destination: ProxyAddress | null = null;
  // LOCAL's addresses, if any, describe the proxy's own probe: the spec says to ignore them.
  if (!local && kind.addressBytes === 12) {
    source = { address: formatIpv4(bytes.subarray(16, 20)), port: u16(bytes, 24) };
    destination = { address: formatIpv4(bytes.subarray(20, 24)), port: u16(bytes, 26) };
  } else if (!local && kind.addressBytes === 36) {
    source = { address: formatIpv6(bytes.subarray(16, 32)), port: u16(bytes, 48) };
    destination = { address: formatIpv6(bytes.subarray(32, 48)), port: u16(bytes, 50) };
  }

  const tlvs: ProxyHeader['tlvs'] = [];
  for (let at = V2_FIXED + kind.addressBytes; at < length; ) {
    if (at + 3 > length) return fail(`PROXY v2: truncated TLV at byte ${at}`);
    const size = u16(bytes, at + 1);
    if (at + 3 + size > length) return fail(`PROXY v2: TLV 0x${hex(bytes.subarray(at, at + 1))} of ${size} bytes overruns the header`);
    // A copy: the caller's buffer is reused or also holds the protocol's own bytes.
    tlvs.push({ type: bytes[at], value: Buffer.from(bytes.subarray(at + 3, at + 3 + size)) });
    at += 3 + size;
  }
  return {
    state: 'done',
    header: { version: 2, command: local ? 'LOCAL' : 'PROXY', family: kind.family, source, destination, length, tlvs },
  };
}

export function encodeProxyV1(source: ProxyAddress, destination: ProxyAddress): Buffer {
  const family = pairFamily(source, destination);
  // Canonical IPv6 keeps the line within 107 bytes (a spelled-out mixed form would not fit).
  const text = (a: ProxyAddress) => (family === 4 ? a.address : formatIpv6(ipv6Bytes(a.address)));
  return Buffer.from(
    `PROXY TCP${family} ${text(source)} ${text(destination)} ${source.port} ${destination.port}\r\n`,
    'latin1',
  );
}

export function encodeProxyV1Unknown(): Buffer {
  return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
}

export function encodeProxyV2(opts: {
  command?: 'PROXY' | 'LOCAL';
  source?: ProxyAddress;
  destination?: ProxyAddress;
  tlvs?: { type: number; value: Uint8Array }[];
}): Buffer {
  const { source, destination, tlvs = [] } = opts;
  if (!source !== !destination) throw new TypeError('PROXY v2: give both source and destination, or neither');
  const family = source && destination ? pairFamily(source, destination) : 0;
  const ipBytes = family === 4 ? 4 : 16;
  const addressBytes = family === 0 ? 0 : 2 * ipBytes + 4;
  let bodyBytes = addressBytes;
  for (const t of tlvs) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 255) throw new RangeError(`PROXY v2: TLV type ${t.type}`);
    if (t.value.length > 0xffff) throw new RangeError(`PROXY v2: TLV value of ${t.value.length} bytes`);
    bodyBytes += 3 + t.value.length;
  }
  if (bodyBytes > 0xffff) throw new RangeError(`PROXY v2: header body of ${bodyBytes} bytes`);

  const out = Buffer.alloc(V2_FIXED + bodyBytes);
  out.set(V2_SIGNATURE, 0);
  out[12] = 0x20 | (opts.command === 'LOCAL' ? 0 : 1);
  out[13] = family === 0 ? 0x00 : family === 4 ? 0x11 : 0x21; // TCP: this is a TCP server
  out.writeUInt16BE(bodyBytes, 14);
  if (source && destination) {
    const ip = family === 4 ? ipv4Bytes : ipv6Bytes;
    out.set(ip(source.address), 16);
    out.set(ip(destination.address), 16 + ipBytes);
    out.writeUInt16BE(source.port, 16 + 2 * ipBytes);
    out.writeUInt16BE(destination.port, 18 + 2 * ipBytes);
  }
  let at = V2_FIXED + addressBytes;
  for (const t of tlvs) {
    out[at] = t.type;
    out.writeUInt16BE(t.value.length, at + 1);
    out.set(t.value, at + 3);
    at += 3 + t.value.length;
  }
  return out;
}

// Encoder inputs come from our own code, not the wire: a bad one is a bug, so it throws.
function pairFamily(source: ProxyAddress, destination: ProxyAddress): 4 | 6 {
  const family = (a: ProxyAddress): 4 | 6 => {
    const v = isIP(a.address);
    if (v === 0 || a.address.includes('%')) throw new TypeError(`PROXY: not an IP address: ${JSON.stringify(a.address)}`);
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new RangeError(`PROXY: bad port ${a.port}`);
    return v as 4 | 6;
  };
  const f = family(source);
  if (family(destination) !== f) throw new TypeError('PROXY: source and destination are of different IP versions');
  return f;
}

const u16 = (bytes: Uint8Array, at: number): number => (bytes[at] << 8) | bytes[at + 1];

const formatIpv4 = (b: Uint8Array): string => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;

const ipv4Bytes = (text: string): Uint8Array => Uint8Array.from(text.split('.'), Number);

/** 16 bytes of an address isIP() has already accepted (so no syntax checks here). */
function ipv6Bytes(text: string): Uint8Array {
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const q = ipv4Bytes(g);
          return [(q[0] << 8) | q[1], (q[2] << 8) | q[3]]; // a trailing dotted quad is two words
        });
  const [head = '', tail] = text.split('::');
  const front = words(head);
  const back = tail === undefined ? [] : words(tail);
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** RFC 5952 text: lower-case hex, no leading zeros, the longest (first on a tie) run of ≥ 2 zero words as '::'. */
function formatIpv6(b: Uint8Array): string {
  const w = Array.from({ length: 8 }, (_, i) => (b[2 * i] << 8) | b[2 * i + 1]);
  // IPv4-mapped (::ffff:0:0/96) in the dotted form, as Node prints a dual-stack peer.
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return `::ffff:${formatIpv4(b.subarray(12))}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const text = (ws: number[]) => ws.map((x) => x.toString(16)).join(':');
  if (best < 0) return text(w);
  return `${text(w.slice(0, best))}::${text(w.slice(best + bestLen))}`;
}
