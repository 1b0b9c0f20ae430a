// --proxy-protocol under every model: the header is read before the first frame wherever the
// connection is served (main thread, worker thread, child process); its source address is INFO's
// `peer` and the key of --max-connections-per-ip; a bad, missing, truncated, oversized or late
// header closes the connection with an ERROR frame and is counted, and the handler never sees it.
// Real server processes, real sockets on 127.0.0.1, headers as HAProxy would send them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_NAMES } from '../src/models/registry.ts';
import { Op, parseError } from '../src/shared/protocol.ts';
import { encodeProxyV1, encodeProxyV1Unknown, encodeProxyV2 } from '../src/shared/proxy-protocol.ts';
import { finalStats } from '../harness/server.ts';
import { RawPeer } from '../harness/peer.ts';
import { until } from '../harness/time.ts';
import { infoFrame, sleep } from '../harness/wire.ts';
import { startServer, type TestServer } from './helpers/server.ts';

const DST = { address: '198.18.0.1', port: 7070 };
const src = (address: string, port = 40_000) => ({ address, port });
const info = (p: RawPeer, i = 0) => JSON.parse(p.frames[i]!.payload.toString()) as Record<string, unknown>;

/** The peer got exactly one frame, an ERROR with `code`, and the server closed (FIN) the connection. */
async function expectTurnedAway(p: RawPeer, code: string, text?: RegExp): Promise<void> {
  await p.waitFrames(1);
  expect(await until(() => p.ended, 5000), 'server closed its side').toBe(true);
  expect(p.frames.length).toBe(1);
  expect(p.frames[0]!.op).toBe(Op.ERROR);
  const err = parseError(p.frames[0]!.payload);
  expect(err.code).toBe(code);
  if (text) expect(err.message).toMatch(text);
}

describe.each(MODEL_NAMES)('--proxy-protocol: %s', (model) => {
  let server: TestServer;
  const peers: RawPeer[] = [];
  const connect = async () => {
    const p = await RawPeer.connect(server.port, { allowHalfOpen: true });
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    server = await startServer(model, ['--proxy-protocol', '--max-connections-per-ip', '1', '--frame-timeout', '0.5', '--log-level', 'info']);
  });
  afterAll(async () => {
    for (const p of peers) p.destroy();
    await server?.stop(5000);
  });

  it('v1 TCP4 header and a frame in one write: INFO names the client the header gave', async () => {
    const p = await connect();
    await p.write(Buffer.concat([encodeProxyV1(src('198.18.1.10', 40_001), DST), infoFrame()]));
    await p.waitFrames(1);
    expect(p.frames[0]!.op).toBe(Op.INFO);
    expect(info(p)).toMatchObject({ model, peer: '198.18.1.10:40001', requests: 1 });
    p.destroy();
  });

  it('v2 TCP6 header fed one byte at a time, then frames: served, peer in brackets', async () => {
    const p = await connect();
    for (const byte of encodeProxyV2({ source: src('2001:db8::7', 40_002), destination: { address: '2001:db8::1', port: 7070 } })) {
      await p.write(Buffer.of(byte));
    }
    await sleep(20);
    await p.write(Buffer.concat([infoFrame(), infoFrame()]));
    await p.waitFrames(2);
    expect(info(p, 1)).toMatchObject({ peer: '[2001:db8::7]:40002', requests: 2 });
    p.destroy();
  });

  it('v2 LOCAL (the balancer\'s own health check) and v1 UNKNOWN: served as the TCP peer', async () => {
    for (const header of [encodeProxyV2({ command: 'LOCAL' }), encodeProxyV1Unknown()]) {
      const p = await connect();
      await p.write(Buffer.concat([header, infoFrame()]));
      await p.waitFrames(1);
      expect(String(info(p).peer)).toMatch(/^127\.0\.0\.1:\d+$/);
      p.destroy();
    }
  });

  it('--max-connections-per-ip counts the header\'s client, not the balancer: a second from one client gets E_BUSY', async () => {
    const a = await connect();
    await a.write(Buffer.concat([encodeProxyV2({ source: src('198.18.1.20', 1), destination: DST }), infoFrame()]));
    await a.waitFrames(1);
    // Same client, through the same balancer (same TCP peer): over its limit of 1.
    const b = await connect();
    await b.write(Buffer.concat([encodeProxyV1(src('198.18.1.20', 2), DST), infoFrame()]));
    await expectTurnedAway(b, 'E_BUSY', /per client address/);
    // Another client on the same TCP peer is not affected.
    const c = await connect();
    await c.write(Buffer.concat([encodeProxyV1(src('198.18.1.21', 3), DST), infoFrame()]));
    await c.waitFrames(1);
    expect(info(c).peer).toBe('198.18.1.21:3');
    // Once the first leaves, its client may come back.
    a.destroy();
    c.destroy();
    // The server learns of the close asynchronously (a worker or child reports it): retry briefly.
    let back = false;
    for (const deadline = Date.now() + 5000; !back && Date.now() < deadline; ) {
      const d = await connect();
      await d.write(Buffer.concat([encodeProxyV1(src('198.18.1.20', 4), DST), infoFrame()]));
      await d.waitFrames(1);
      back = d.frames[0]!.op === Op.INFO;
      d.destroy();
      if (!back) await sleep(50);
    }
    expect(back, 'the client was admitted again after its connection closed').toBe(true);
  });

  it('no header (a protocol frame first): ERROR E_BAD_FRAME, closed, the handler never ran', async () => {
    const p = await connect();
    await p.write(infoFrame());
    await expectTurnedAway(p, 'E_BAD_FRAME', /PROXY/);
  });

  it('malformed v1 (an address that is not IPv4): ERROR E_BAD_FRAME, closed', async () => {
    const p = await connect();
    await p.write(Buffer.concat([Buffer.from('PROXY TCP4 999.1.1.1 198.18.0.1 1 2\r\n'), infoFrame()]));
    await expectTurnedAway(p, 'E_BAD_FRAME', /PROXY/);
  });

  it('truncated v2 (the peer half-closes mid-header): ERROR E_BAD_FRAME, closed', async () => {
    const p = await connect();
    const whole = encodeProxyV2({ source: src('198.18.1.30'), destination: DST });
    await p.write(whole.subarray(0, whole.length - 3));
    p.socket.end();
    await expectTurnedAway(p, 'E_BAD_FRAME', /PROXY/);
  });

  it('oversized v2 (a length beyond the 1 KiB bound): refused from its first 16 bytes', async () => {
    const p = await connect();
    const sig = encodeProxyV2({ source: src('198.18.1.31'), destination: DST }).subarray(0, 14);
    await p.write(Buffer.concat([sig, Buffer.of(0xea, 0x60)])); // length 60000, no body sent
    await expectTurnedAway(p, 'E_BAD_FRAME', /PROXY/);
  });

  it('slow header (a prefix, then nothing): E_TIMEOUT after --frame-timeout, closed', async () => {
    const p = await connect();
    await p.write(Buffer.from('PROXY TCP4 198.18'));
    await expectTurnedAway(p, 'E_TIMEOUT', /PROXY/);
  });

  it('counts every connection closed for its header in the accept stats', async () => {
    await server.stop(5000);
    const stats = finalStats(server.stderr());
    expect(stats?.accept?.badProxyHeader, server.stderr().slice(-2000)).toBe(5);
    expect(stats?.accept?.refused).toBeGreaterThanOrEqual(1);
  });
});

describe('without --proxy-protocol', () => {
  it('a PROXY header is only bad framing: ERROR and closed, never a peer', async () => {
    const server = await startServer('event-loop');
    const p = await RawPeer.connect(server.port, { allowHalfOpen: true });
    await p.write(Buffer.concat([encodeProxyV1(src('198.18.1.10'), DST), infoFrame()]));
    await p.waitFrames(1);
    expect(p.frames[0]!.op).toBe(Op.ERROR);
    expect(await until(() => p.ended, 5000), 'server closed its side').toBe(true);
    p.destroy();
  });
});
