import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAX_PROXY_HEADER,
  encodeProxyV1,
  encodeProxyV1Unknown,
  encodeProxyV2,
  parseProxyHeader,
  type ProxyAddress,
  type ProxyParse,
} from '../../src/shared/proxy-protocol.ts';
import { encodeFrame, Op } from '../../src/shared/protocol.ts';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const ascii = (s: string) => Buffer.from(s, 'latin1');
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** A v2 header from its parts: byte 13, byte 14, and the body (length is filled in). */
const v2 = (verCmd: number, famProto: number, body: Buffer = Buffer.alloc(0), length = body.length) => {
  const fixed = Buffer.from([verCmd, famProto, length >> 8, length & 0xff]);
  return Buffer.concat([SIG, fixed, body]);
};

const done = (parsed: ProxyParse) => {
  if (parsed.state !== 'done') throw new Error(`expected done, got ${JSON.stringify(parsed)}`);
  return parsed.header;
};
const reason = (parsed: ProxyParse) => {
  if (parsed.state !== 'error') throw new Error(`expected error, got ${JSON.stringify(parsed)}`);
  return parsed.reason;
};
/** Every strict prefix is 'incomplete'; the whole is what it is. */
const byteByByte = (bytes: Buffer, maxBytes?: number) => {
  for (let i = 0; i < bytes.length; i++) {
    expect(parseProxyHeader(bytes.subarray(0, i), maxBytes), `prefix of ${i} bytes`).toEqual({ state: 'incomplete' });
  }
  return parseProxyHeader(bytes, maxBytes);
};

describe('PROXY v1', () => {
  it('parses TCP4', () => {
    const line = 'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n';
    expect(done(parseProxyHeader(ascii(line)))).toEqual({
      version: 1,
      command: 'PROXY',
      family: 'TCP4',
      source: { address: '192.0.2.1', port: 56324 },
      destination: { address: '198.51.100.2', port: 443 },
      length: line.length,
      tlvs: [],
    });
  });

  it('parses TCP6, writing addresses in the canonical form', () => {
    const line = 'PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:192.0.2.7 0 65535\r\n';
    const h = done(parseProxyHeader(ascii(line)));
    expect(h.family).toBe('TCP6');
    expect(h.source).toEqual({ address: '2001:db8::1', port: 0 });
    expect(h.destination).toEqual({ address: '::ffff:192.0.2.7', port: 65535 });
    expect(h.length).toBe(line.length);
  });

  it('parses UNKNOWN, with or without the rest of the line', () => {
    for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n', 'PROXY UNKNOWN \x01\xff junk\r\n']) {
      const h = done(parseProxyHeader(ascii(line)));
      expect(h).toMatchObject({ version: 1, command: 'PROXY', family: 'UNKNOWN', source: null, destination: null });
      expect(h.length).toBe(line.length);
    }
  });

  it('is incomplete byte by byte until the LF, then done', () => {
    const line = ascii('PROXY TCP6 2001:db8::1 2001:db8::2 1234 7070\r\n');
    const h = done(byteByByte(line));
    expect(h.length).toBe(line.length);
    expect(h.destination).toEqual({ address: '2001:db8::2', port: 7070 });
  });

  it('does not count the bytes after CRLF', () => {
    const line = ascii('PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n');
    const frame = encodeFrame(Op.ECHO, ascii('PROXY TCP4 1.1.1.1 1.1.1.1 1 1\r\n'));
    expect(done(parseProxyHeader(Buffer.concat([line, frame]))).length).toBe(line.length);
  });

  it.each([
    ['wrong keyword', 'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /unknown protocol "TCP5"/],
    ['UNKNOWN glued to more', 'PROXY UNKNOWNX\r\n', /unknown protocol/],
    ['missing field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /5 fields, want 6/],
    ['missing everything', 'PROXY TCP4\r\n', /2 fields, want 6/],
    ['extra field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', /7 fields, want 6/],
    ['double space', 'PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', /7 fields|bad/],
    ['trailing space', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /7 fields/],
    ['bad IPv4', 'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /bad TCP4 address "1.2.3.256"/],
    ['IPv6 under TCP4', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n', /bad TCP4 address "::1"/],
    ['IPv4 under TCP6', 'PROXY TCP6 ::1 5.6.7.8 1 2\r\n', /bad TCP6 address "5.6.7.8"/],
    ['IPv6 zone id', 'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', /bad TCP6 address/],
    ['port 65536', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /bad port "65536"/],
    ['leading zero port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 0443\r\n', /bad port "0443"/],
    ['plus sign', 'PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n', /bad port "\+1"/],
    ['minus sign', 'PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', /bad port "-1"/],
    ['hex port', 'PROXY TCP4 1.2.3.4 5.6.7.8 0x10 2\r\n', /bad port/],
    ['LF without CR', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /LF without CR/],
    ['CR without LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n', /CR not followed by LF/],
  ])('rejects %s', (_name, line, why) => {
    expect(reason(parseProxyHeader(ascii(line)))).toMatch(why);
  });

  it('rejects a bad protocol word before the line ends', () => {
    expect(reason(parseProxyHeader(ascii('PROXY TCP5')))).toMatch(/unknown protocol/);
    expect(reason(parseProxyHeader(ascii('PROXY X')))).toMatch(/unknown protocol/);
    expect(parseProxyHeader(ascii('PROXY TCP'))).toEqual({ state: 'incomplete' });
    expect(parseProxyHeader(ascii('PROXY UNKNOWN'))).toEqual({ state: 'incomplete' });
  });

  it("rejects lowercase 'proxy' at its first byte", () => {
    const line = ascii('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n');
    expect(reason(parseProxyHeader(line.subarray(0, 1)))).toBe('no PROXY header (first bytes 0x70)');
  });

  it("rejects 'PROXY' without its space at the sixth byte", () => {
    expect(parseProxyHeader(ascii('PROXY'))).toEqual({ state: 'incomplete' });
    expect(reason(parseProxyHeader(ascii('PROXYT')))).toMatch(/no PROXY header/);
    expect(reason(parseProxyHeader(ascii('PRX')))).toMatch(/no PROXY header/);
  });

  it('allows 107 bytes including CRLF and no more (oversized)', () => {
    const pad = (n: number) => 'PROXY UNKNOWN ' + 'x'.repeat(n - 'PROXY UNKNOWN '.length);
    expect(done(parseProxyHeader(ascii(pad(105) + '\r\n'))).length).toBe(107);
    expect(parseProxyHeader(ascii(pad(106)))).toEqual({ state: 'incomplete' });
    expect(reason(parseProxyHeader(ascii(pad(107))))).toMatch(/oversized/);
    // the CR fits, its LF would be byte 108
    expect(reason(parseProxyHeader(ascii(pad(106) + '\r')))).toMatch(/oversized/);
    expect(reason(parseProxyHeader(ascii(pad(106) + '\r\n')))).toMatch(/oversized/);
  });

  it('keeps to a maxBytes below 107', () => {
    const line = ascii('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n');
    expect(done(parseProxyHeader(line, line.length)).length).toBe(line.length);
    expect(reason(parseProxyHeader(line, line.length - 1))).toMatch(/oversized/);
  });

  it('rejects a client that sends a frame first, at the first byte', () => {
    const frame = encodeFrame(Op.ECHO, ascii('hi')); // 00 00 00 03 01 ...
    expect(reason(parseProxyHeader(frame.subarray(0, 1)))).toBe('no PROXY header (first bytes 0x00)');
    expect(reason(parseProxyHeader(frame))).toBe(`no PROXY header (first bytes 0x${frame.toString('hex')})`);
  });
});

describe('PROXY v2', () => {
  // 192.0.2.1:56324 → 198.51.100.2:443 over TCP, written out by hand.
  const TCP4 = Buffer.concat([SIG, hex('21 11 000c  c0000201 c6336402 dc04 01bb')]);

  it('parses PROXY over IPv4, and encodes it byte for byte', () => {
    const source = { address: '192.0.2.1', port: 56324 };
    const destination = { address: '198.51.100.2', port: 443 };
    expect(encodeProxyV2({ source, destination })).toEqual(TCP4);
    expect(done(parseProxyHeader(TCP4))).toEqual({
      version: 2,
      command: 'PROXY',
      family: 'TCP4',
      source,
      destination,
      length: 28,
      tlvs: [],
    });
  });

  it('parses PROXY over IPv6 and round-trips through encodeProxyV2', () => {
    const body = hex('20010db8000000000000000000000001 20010db8000000010000000000000000 1f90 0050');
    const wire = v2(0x21, 0x21, body);
    const source = { address: '2001:db8::1', port: 8080 };
    const destination = { address: '2001:db8:0:1::', port: 80 };
    expect(encodeProxyV2({ source, destination })).toEqual(wire);
    const h = done(parseProxyHeader(wire));
    expect(h).toMatchObject({ version: 2, command: 'PROXY', family: 'TCP6', source, destination, length: 52 });
  });

  it.each([
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal runs
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'], // the longest run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a lone zero stays
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['FE80:0000::ABCD', 'fe80::abcd'],
    ['::ffff:c000:0201', '::ffff:192.0.2.1'], // IPv4-mapped, dotted as Node prints it
    ['::1.2.3.4', '::102:304'],
  ])('writes %s as %s', (given, canonical) => {
    const a = { address: given, port: 1 };
    expect(done(parseProxyHeader(encodeProxyV2({ source: a, destination: a }))).source!.address).toBe(canonical);
  });

  it('parses LOCAL with no addresses (UNSPEC)', () => {
    const wire = encodeProxyV2({ command: 'LOCAL' });
    expect(wire).toEqual(v2(0x20, 0x00));
    expect(done(parseProxyHeader(wire))).toEqual({
      version: 2,
      command: 'LOCAL',
      family: 'UNSPEC',
      source: null,
      destination: null,
      length: 16,
      tlvs: [],
    });
  });

  it('ignores the addresses of LOCAL', () => {
    const wire = Buffer.from(TCP4);
    wire[12] = 0x20;
    expect(done(parseProxyHeader(wire))).toMatchObject({ command: 'LOCAL', family: 'TCP4', source: null, destination: null, length: 28 });
  });

  it('gives PROXY over UNSPEC or UNIX no addresses, and UDP its addresses', () => {
    expect(done(parseProxyHeader(v2(0x21, 0x00)))).toMatchObject({ command: 'PROXY', family: 'UNSPEC', source: null });
    const unix = Buffer.alloc(216);
    unix.write('/run/app.sock', 0);
    expect(done(parseProxyHeader(v2(0x21, 0x31, unix)))).toMatchObject({ family: 'UNIX', source: null, length: 232 });
    expect(done(parseProxyHeader(v2(0x21, 0x32, unix)))).toMatchObject({ family: 'UNIX', source: null });
    const udp = Buffer.from(TCP4);
    udp[13] = 0x12;
    expect(done(parseProxyHeader(udp))).toMatchObject({ family: 'UDP4', source: { address: '192.0.2.1', port: 56324 } });
  });

  it('parses TLVs after the addresses', () => {
    const source = { address: '2001:db8::1', port: 1 };
    const destination = { address: '2001:db8::2', port: 2 };
    const tlvs = [
      { type: 0x01, value: ascii('h2') }, // ALPN
      { type: 0x04, value: Buffer.alloc(5) }, // NOOP padding
      { type: 0x04, value: Buffer.alloc(0) },
    ];
    const wire = encodeProxyV2({ source, destination, tlvs });
    expect(wire.subarray(16 + 36)).toEqual(hex('01 0002 6832  04 0005 0000000000  04 0000'));
    const h = done(parseProxyHeader(wire));
    expect(h.tlvs).toEqual(tlvs);
    expect(h.length).toBe(16 + 36 + 5 + 8 + 3);
    wire.fill(0xee, 16 + 36); // values are copies, not views of the caller's buffer
    expect(h.tlvs[0]!.value.toString()).toBe('h2');
  });

  it('encodes LOCAL with TLVs only: length counts the TLV bytes', () => {
    const wire = encodeProxyV2({ command: 'LOCAL', tlvs: [{ type: 0x04, value: new Uint8Array(3) }] });
    expect(wire).toEqual(v2(0x20, 0x00, hex('04 0003 000000')));
    expect(done(parseProxyHeader(wire)).tlvs).toEqual([{ type: 4, value: Buffer.alloc(3) }]);
  });

  it('is incomplete byte by byte until the whole body, then done; trailing bytes are not counted', () => {
    const wire = encodeProxyV2({
      source: { address: '::ffff:10.0.0.1', port: 1 },
      destination: { address: '::1', port: 2 },
      tlvs: [{ type: 0x02, value: ascii('example.com') }],
    });
    expect(done(byteByByte(wire)).length).toBe(wire.length);
    const h = done(parseProxyHeader(Buffer.concat([wire, encodeFrame(Op.INFO)])));
    expect(h.length).toBe(wire.length);
    expect(h.source).toEqual({ address: '::ffff:10.0.0.1', port: 1 });
  });

  it('waits for a truncated body', () => {
    expect(parseProxyHeader(TCP4.subarray(0, 16))).toEqual({ state: 'incomplete' });
    expect(parseProxyHeader(TCP4.subarray(0, 27))).toEqual({ state: 'incomplete' });
  });

  it('rejects a wrong version nibble at byte 13', () => {
    for (const b of [0x11, 0x31, 0x01, 0xf1]) {
      expect(reason(parseProxyHeader(v2(b, 0x11).subarray(0, 13)))).toMatch(/version \d+, want 2/);
    }
  });

  it('rejects a command other than LOCAL or PROXY at byte 13', () => {
    expect(reason(parseProxyHeader(v2(0x22, 0x11).subarray(0, 13)))).toMatch(/unknown command 2/);
    expect(reason(parseProxyHeader(v2(0x2f, 0x11).subarray(0, 13)))).toMatch(/unknown command 15/);
  });

  it('rejects family/transport pairs the spec does not define at byte 14', () => {
    for (const b of [0x01, 0x02, 0x10, 0x13, 0x20, 0x30, 0x41, 0xff]) {
      expect(reason(parseProxyHeader(v2(0x21, b).subarray(0, 14))), `0x${b.toString(16)}`).toMatch(/unknown family/);
    }
  });

  it('rejects a length shorter than the address block, once the length is known', () => {
    const cases: [number, number, number][] = [
      [0x21, 0x11, 11],
      [0x21, 0x21, 35],
      [0x21, 0x31, 215],
      [0x20, 0x11, 0], // LOCAL too: its addresses are ignored, not absent
    ];
    for (const [verCmd, fam, length] of cases) {
      expect(reason(parseProxyHeader(v2(verCmd, fam, Buffer.alloc(0), length)))).toMatch(/shorter than the/);
    }
  });

  it('rejects a TLV that overruns the header', () => {
    const addr = TCP4.subarray(16);
    expect(reason(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([addr, hex('01 0005 6832')]))))).toMatch(/overruns/);
    expect(reason(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([addr, hex('01 0003 6832')]))))).toMatch(/overruns/); // by one byte
    expect(reason(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([addr, hex('01 00')]))))).toMatch(/truncated TLV/);
    // A TLV that fits is fine even with the protocol's bytes right behind it.
    const ok = Buffer.concat([v2(0x21, 0x11, Buffer.concat([addr, hex('01 0002 6832')])), hex('0000000501')]);
    expect(done(parseProxyHeader(ok)).length).toBe(16 + 12 + 5);
  });

  it('rejects an oversized length after only the 16 fixed bytes', () => {
    expect(reason(parseProxyHeader(v2(0x21, 0x11, Buffer.alloc(0), 0xffff)))).toMatch(/65551 bytes, over 1024 \(oversized\)/);
    const at = MAX_PROXY_HEADER - 16;
    expect(parseProxyHeader(v2(0x21, 0x11, Buffer.alloc(0), at))).toEqual({ state: 'incomplete' });
    expect(reason(parseProxyHeader(v2(0x21, 0x11, Buffer.alloc(0), at + 1)))).toMatch(/oversized/);
    expect(done(parseProxyHeader(TCP4, 28)).length).toBe(28);
    expect(reason(parseProxyHeader(TCP4.subarray(0, 16), 27))).toMatch(/oversized/);
  });

  it('rejects a signature mismatch at the byte it happens', () => {
    for (let k = 1; k < SIG.length; k++) {
      const bad = Buffer.from(TCP4);
      bad[k] ^= 0x20;
      expect(parseProxyHeader(bad.subarray(0, k)), `byte ${k}`).toEqual({ state: 'incomplete' });
      expect(reason(parseProxyHeader(bad.subarray(0, k + 1))), `byte ${k}`).toMatch(/^no PROXY header \(first bytes 0x0d/);
    }
  });

  it('fits a header with UNIX addresses and a few TLVs under the default bound', () => {
    expect(MAX_PROXY_HEADER).toBeGreaterThanOrEqual(232);
    const body = Buffer.concat([Buffer.alloc(216), hex('01 0002 6832'), Buffer.from([0x02, 0, 253]), Buffer.alloc(253, 0x61)]);
    expect(done(parseProxyHeader(v2(0x21, 0x31, body))).tlvs.map((t) => t.type)).toEqual([1, 2]);
  });
});

describe('encoders', () => {
  it('writes v1 lines', () => {
    expect(encodeProxyV1({ address: '192.0.2.1', port: 1 }, { address: '192.0.2.2', port: 65535 }).toString()).toBe(
      'PROXY TCP4 192.0.2.1 192.0.2.2 1 65535\r\n',
    );
    expect(encodeProxyV1({ address: '2001:DB8::0:1', port: 0 }, { address: '::', port: 2 }).toString()).toBe(
      'PROXY TCP6 2001:db8::1 :: 0 2\r\n',
    );
    expect(encodeProxyV1Unknown().toString()).toBe('PROXY UNKNOWN\r\n');
  });

  it('keeps a v1 line within 107 bytes whatever the IPv6 spelling', () => {
    const long = { address: '0000:0000:0000:0000:0000:ffff:255.255.255.255', port: 65535 };
    const wire = encodeProxyV1(long, long);
    expect(wire.length).toBeLessThanOrEqual(107);
    expect(done(parseProxyHeader(wire)).source).toEqual({ address: '::ffff:255.255.255.255', port: 65535 });
  });

  it('throws on inputs that are bugs, not wire data', () => {
    const v4 = { address: '192.0.2.1', port: 1 };
    const v6 = { address: '::1', port: 1 };
    expect(() => encodeProxyV1(v4, v6)).toThrow(/different IP versions/);
    expect(() => encodeProxyV1({ address: 'localhost', port: 1 }, v4)).toThrow(/not an IP address/);
    expect(() => encodeProxyV1({ address: '192.0.2.1', port: 65536 }, v4)).toThrow(/bad port/);
    expect(() => encodeProxyV2({ source: v4 })).toThrow(/both source and destination/);
    expect(() => encodeProxyV2({ tlvs: [{ type: 256, value: new Uint8Array() }] })).toThrow(/TLV type/);
    expect(() => encodeProxyV2({ tlvs: [{ type: 1, value: new Uint8Array(0x10000) }] })).toThrow(/TLV value/);
  });
});

// The independent oracle: WHATWG URL serialises IPv6 per RFC 5952; only the IPv4-mapped dotted
// form (what Node prints for a dual-stack peer) is ours.
const canonical = (address: string): string => {
  if (!address.includes(':')) return address;
  const text = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(text);
  if (!mapped) return text;
  const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
};

describe('round trip', () => {
  const port = fc.integer({ min: 0, max: 65535 });
  const pair = fc.oneof(fc.tuple(fc.ipV4(), fc.ipV4()), fc.tuple(fc.ipV6(), fc.ipV6()));

  it('property: parse(encode(x)) is x for 200 random address pairs, v1 and v2', () => {
    fc.assert(
      fc.property(pair, port, port, ([src, dst], sp, dp) => {
        const source: ProxyAddress = { address: src, port: sp };
        const destination: ProxyAddress = { address: dst, port: dp };
        const want = {
          source: { address: canonical(src), port: sp },
          destination: { address: canonical(dst), port: dp },
        };
        const family = src.includes(':') ? 'TCP6' : 'TCP4';
        const one = encodeProxyV1(source, destination);
        expect(done(parseProxyHeader(one))).toEqual({ version: 1, command: 'PROXY', family, ...want, length: one.length, tlvs: [] });
        const two = encodeProxyV2({ source, destination });
        expect(done(parseProxyHeader(two))).toEqual({ version: 2, command: 'PROXY', family, ...want, length: two.length, tlvs: [] });
      }),
      { numRuns: 200 },
    );
  });
});
