// The example handler in examples/ runs under every model, loaded by path.
import { fileURLToPath } from 'node:url';
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { encodeFrame, Op } from '../src/shared/protocol.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { RawPeer } from '../harness/peer.ts';
import { VARIANTS } from '../harness/variants.ts';
import { errorCode } from '../harness/wire.ts';

const HANDLER = fileURLToPath(new URL('../examples/reverse-handler.ts', import.meta.url));

describe.each(VARIANTS)('examples/reverse-handler.ts under $name', ({ model, flags }) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(model, [...flags, '--handler', HANDLER]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('serves its ops, maps thrown errors to codes, and keeps the connection usable', async () => {
    const peer = await RawPeer.connect(server.port);
    await peer.write(
      Buffer.concat([
        encodeFrame(0x10, Buffer.from('switchboard')),
        encodeFrame(0x1f),
        encodeFrame(0x11, Buffer.from('loud')),
        encodeFrame(0x11),
        encodeFrame(Op.ECHO, Buffer.from('x')),
        encodeFrame(0x12),
      ]),
    );
    const [rev, failed, upper, badArgs, unknown, whoami] = await peer.waitFrames(6);
    expect(rev!.payload.toString()).toBe('draobhctiws');
    expect(failed!.op).toBe(Op.ERROR);
    expect(failed!.payload.toString()).toBe('E_INTERNAL handler failed: this op always fails');
    expect(upper).toEqual({ op: 0x11, payload: Buffer.from('LOUD') });
    expect(errorCode(badArgs!.payload)).toBe('E_BAD_ARGS');
    expect(errorCode(unknown!.payload)).toBe('E_UNKNOWN_OP');
    expect(whoami!.payload.toString()).toMatch(new RegExp(`^${model} pid=\\d+ thread=\\d+ conn=\\d+$`));
    peer.destroy();
  });
});

it('a handler path that does not load stops the server at start-up with exit code 4', async () => {
  await expect(startServer('event-loop', ['--handler', '/nonexistent/handler.ts'])).rejects.toThrow(/exited \(4\)[\s\S]*cannot load handler/);
});
