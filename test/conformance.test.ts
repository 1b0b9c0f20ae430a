// The conformance suite: the same behaviour, byte for byte, from every concurrency model.
// Real server processes (the CLI), real TCP sockets on 127.0.0.1, assertions on bytes received.
import { spawnSync } from 'node:child_process';
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { encodeFrame, Op } from '../src/shared/protocol.ts';
import { MODEL_NAMES } from '../src/models/registry.ts';
import { startServer, CLI, type TestServer } from './helpers/server.ts';
import { RawPeer } from '../harness/peer.ts';
import { VARIANTS, connectionCapacity } from '../harness/variants.ts';
import { until } from '../harness/time.ts';
import { echoFrame, errorCode, expectedDigest, headerOnly, infoFrame, sleep, sleepFrame, u32, workFrame } from '../harness/wire.ts';

const MIB = 1024 * 1024;

it('every registered model is in the conformance suite', () => {
  for (const model of MODEL_NAMES) expect(VARIANTS.map((v) => v.model), `model ${model}`).toContain(model);
});

/** Well under the 30 s --queue-timeout: a connection still unanswered after this is starved. */
const SERVED_WITHIN_MS = 10_000;

/**
 * Variants whose flags put them below the no-starvation cases' 5 connections on purpose, and why.
 * Every other variant must have the capacity (the registry's, for its flags) to serve them all at
 * once; a variant that lacks it and is not listed here fails, it is not excused.
 */
const BOUNDED_BY_DESIGN: Record<string, string> = {
  'thread-pool K=1': '--connections-per-thread 1 asked for: 2 threads × 1 = 2 connections at once (Apache worker)',
};

/**
 * Every peer has sent INFO and holds its connection open — holding them open is what catches
 * starvation. With `capacity` (the registry's figure for the variant's flags) >= peers, all are
 * answered while all stay open. Below that (only BOUNDED_BY_DESIGN variants): exactly `capacity`
 * are answered while they hold their slots, the others wait unread; closing the answered ones
 * lets the next ones in, in waves, until every peer is answered.
 */
async function expectAllAnswered(peers: RawPeer[], capacity: number, variant: string, model: string): Promise<void> {
  if (capacity < peers.length) expect(BOUNDED_BY_DESIGN[variant], `${variant}: capacity ${capacity} < ${peers.length} connections`).toBeDefined();
  let open = [...peers];
  const answered = (p: RawPeer) => p.frames.length >= 1;
  while (open.length > 0) {
    const wave = Math.min(capacity, open.length);
    const got = await until(() => open.filter(answered).length >= wave, SERVED_WITHIN_MS);
    expect(got, `${open.filter(answered).length}/${wave} of the open connections answered within ${SERVED_WITHIN_MS} ms`).toBe(true);
    if (wave === open.length) break;
    // Beyond capacity: the others are still waiting, unread, while the wave holds its slots.
    await sleep(200);
    expect(open.filter(answered).length, `only ${capacity} served at once`).toBe(wave);
    for (const p of open.filter(answered)) p.destroy();
    open = open.filter((p) => !answered(p));
  }
  for (const p of peers) {
    expect(p.frames[0]!.op).toBe(Op.INFO);
    expect(JSON.parse(p.frames[0]!.payload.toString())).toMatchObject({ model });
  }
}

describe.each(VARIANTS)('conformance: $name', (variant) => {
  const { name, model, flags } = variant;
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(model, flags);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  const connect = () => RawPeer.connect(server.port);

  describe('ops', () => {
    it('ECHO returns the identical frame', async () => {
      const peer = await connect();
      const frame = echoFrame('hello, switchboard');
      await peer.write(frame);
      await peer.waitFrames(1);
      expect(Buffer.concat([u32(frame.length - 4)]).length).toBe(4);
      const [f] = peer.frames;
      expect(f!.op).toBe(Op.ECHO);
      expect(encodeFrame(f!.op, f!.payload).equals(frame)).toBe(true);
      peer.destroy();
    });

    it('ECHO with an empty payload (L = 1)', async () => {
      const peer = await connect();
      await peer.write(Buffer.from([0, 0, 0, 1, Op.ECHO]));
      const [f] = await peer.waitFrames(1);
      expect(f).toEqual({ op: Op.ECHO, payload: Buffer.alloc(0) });
      peer.destroy();
    });

    it('WORK matches an independent SHA-256 chain', async () => {
      const peer = await connect();
      await peer.write(Buffer.concat([workFrame(1, ''), workFrame(1000, 'seed'), workFrame(7, Buffer.from([0, 255, 1]))]));
      const frames = await peer.waitFrames(3);
      expect(frames.map((f) => f.op)).toEqual([Op.WORK, Op.WORK, Op.WORK]);
      expect(frames[0]!.payload.equals(expectedDigest(1, ''))).toBe(true);
      expect(frames[1]!.payload.equals(expectedDigest(1000, 'seed'))).toBe(true);
      expect(frames[2]!.payload.equals(expectedDigest(7, Buffer.from([0, 255, 1])))).toBe(true);
      expect(frames[1]!.payload.length).toBe(32);
      peer.destroy();
    });

    it('WORK with bad arguments answers E_BAD_ARGS and the connection stays usable', async () => {
      const peer = await connect();
      await peer.write(Buffer.concat([workFrame(0), encodeFrame(Op.WORK, Buffer.from([1])), workFrame(10_000_001), echoFrame('still here')]));
      const frames = await peer.waitFrames(4);
      expect(frames.slice(0, 3).map((f) => [f.op, errorCode(f.payload)])).toEqual([
        [Op.ERROR, 'E_BAD_ARGS'],
        [Op.ERROR, 'E_BAD_ARGS'],
        [Op.ERROR, 'E_BAD_ARGS'],
      ]);
      expect(frames[3]!.payload.toString()).toBe('still here');
      peer.destroy();
    });

    it('SLEEP answers after the delay, with an empty payload, without blocking other connections', async () => {
      const a = await connect();
      const b = await connect();
      const started = performance.now();
      await a.write(sleepFrame(400));
      await sleep(20);
      await b.write(echoFrame('not blocked'));
      await b.waitFrames(1);
      expect(a.frames.length, 'the sleeping request has not answered yet').toBe(0);
      const [f] = await a.waitFrames(1);
      expect(performance.now() - started).toBeGreaterThanOrEqual(395);
      expect(f).toEqual({ op: Op.SLEEP, payload: Buffer.alloc(0) });
      await a.write(sleepFrame(60_001));
      const [, bad] = await a.waitFrames(2);
      expect(errorCode(bad!.payload)).toBe('E_BAD_ARGS');
      a.destroy();
      b.destroy();
    });

    it('INFO reports model, pid, threadId, connection number and request count', async () => {
      const peer = await connect();
      await peer.write(Buffer.concat([echoFrame('x'), infoFrame()]));
      const [, f] = await peer.waitFrames(2);
      expect(f!.op).toBe(Op.INFO);
      const info = JSON.parse(f!.payload.toString('utf8'));
      expect(info).toMatchObject({ model, requests: 2 });
      expect(info.pid).toBeTypeOf('number');
      expect(info.threadId).toBeTypeOf('number');
      expect(info.connection).toBeGreaterThanOrEqual(1);
      const other = await connect();
      await other.write(infoFrame());
      const [g] = await other.waitFrames(1);
      expect(JSON.parse(g!.payload.toString()).connection).not.toBe(info.connection);
      peer.destroy();
      other.destroy();
    });

    it('an unknown op answers E_UNKNOWN_OP and the next request on the connection works', async () => {
      const peer = await connect();
      await peer.write(Buffer.concat([encodeFrame(0x7e, Buffer.from('?')), echoFrame('after')]));
      const [bad, ok] = await peer.waitFrames(2);
      expect(bad!.op).toBe(Op.ERROR);
      expect(bad!.payload.toString()).toMatch(/^E_UNKNOWN_OP /);
      expect(ok).toEqual({ op: Op.ECHO, payload: Buffer.from('after') });
      peer.destroy();
    });
  });

  describe('framing', () => {
    it('1,000 pipelined requests in one write come back in order', async () => {
      const peer = await connect();
      const frames = Array.from({ length: 1000 }, (_, i) => (i % 100 === 99 ? workFrame(3, `w${i}`) : echoFrame(`req-${i}`)));
      await peer.write(Buffer.concat(frames));
      const got = await peer.waitFrames(1000);
      got.forEach((f, i) => {
        if (i % 100 === 99) expect(f.payload.equals(expectedDigest(3, `w${i}`)), `frame ${i}`).toBe(true);
        else expect(f.payload.toString(), `frame ${i}`).toBe(`req-${i}`);
      });
      peer.destroy();
    });

    it('a stream written one byte at a time decodes', async () => {
      const peer = await connect();
      const bytes = Buffer.concat([echoFrame('one'), workFrame(2, 'ab'), echoFrame(''), infoFrame()]);
      for (const byte of bytes) {
        await peer.write(Buffer.from([byte]));
        await sleep(1);
      }
      const got = await peer.waitFrames(4);
      expect(got[0]!.payload.toString()).toBe('one');
      expect(got[1]!.payload.equals(expectedDigest(2, 'ab'))).toBe(true);
      expect(got[2]!.payload.length).toBe(0);
      expect(got[3]!.op).toBe(Op.INFO);
      peer.destroy();
    });

    it('many frames of mixed sizes coalesced in one write', async () => {
      const peer = await connect();
      const sizes = [0, 1, 5, 100, 4096, 70_000, 3, 200_000, 0];
      await peer.write(Buffer.concat(sizes.map((n, i) => echoFrame(Buffer.alloc(n, i + 65)))));
      const got = await peer.waitFrames(sizes.length);
      got.forEach((f, i) => expect(f.payload.equals(Buffer.alloc(sizes[i]!, i + 65)), `frame ${i}`).toBe(true));
      peer.destroy();
    });

    it('a 1 MiB frame (the default --max-frame) round-trips', async () => {
      const peer = await connect();
      const payload = Buffer.alloc(MIB - 1);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
      await peer.write(encodeFrame(Op.ECHO, payload));
      const [f] = await peer.waitFrames(1);
      expect(f!.payload.equals(payload)).toBe(true);
      peer.destroy();
    });

    it('L = max-frame + 1 answers E_TOO_LARGE at once (without waiting for the body), then closes', async () => {
      const peer = await connect();
      await peer.write(Buffer.concat([echoFrame('before'), headerOnly(MIB + 1)]));
      const [ok, bad] = await peer.waitFrames(2);
      expect(ok!.payload.toString()).toBe('before');
      expect(bad!.op).toBe(Op.ERROR);
      expect(errorCode(bad!.payload)).toBe('E_TOO_LARGE');
      expect(await peer.closedWithin(5000)).toBe(true);
    });

    it('a 4 GiB length prefix is refused without allocating it', async () => {
      const peer = await connect();
      await peer.write(Buffer.from([0xff, 0xff, 0xff, 0xff, Op.ECHO, 1, 2, 3]));
      const [bad] = await peer.waitFrames(1);
      expect(errorCode(bad!.payload)).toBe('E_TOO_LARGE');
      expect(await peer.closedWithin(5000)).toBe(true);
    });

    it('L = 0 answers E_BAD_FRAME, then closes', async () => {
      const peer = await connect();
      await peer.write(Buffer.concat([echoFrame('first'), Buffer.from([0, 0, 0, 0]), echoFrame('never')]));
      const [ok, bad] = await peer.waitFrames(2);
      expect(ok!.payload.toString()).toBe('first');
      expect(errorCode(bad!.payload)).toBe('E_BAD_FRAME');
      expect(await peer.closedWithin(5000)).toBe(true);
      expect(peer.frames.length).toBe(2);
    });
  });

  describe('connection lifecycle', () => {
    it('half-close: every complete request is answered, the partial one dropped, then the server closes', async () => {
      const peer = await connect();
      await peer.write(Buffer.concat([sleepFrame(150), echoFrame('a'), workFrame(5, 's'), echoFrame('partial').subarray(0, 7)]));
      peer.socket.end();
      const got = await peer.waitFrames(3);
      expect(got.map((f) => f.op)).toEqual([Op.SLEEP, Op.ECHO, Op.WORK]);
      expect(got[2]!.payload.equals(expectedDigest(5, 's'))).toBe(true);
      expect(await peer.closedWithin(5000)).toBe(true);
      expect(peer.ended).toBe(true);
      expect(peer.frames.length).toBe(3);
    });

    it('a client reset mid-frame leaves the server healthy', async () => {
      for (let i = 0; i < 5; i++) {
        const peer = await connect();
        await peer.write(Buffer.concat([sleepFrame(50), echoFrame('x'.repeat(1000)).subarray(0, 600)]));
        peer.socket.resetAndDestroy();
      }
      const peer = await connect();
      await peer.write(echoFrame('alive'));
      const [f] = await peer.waitFrames(1);
      expect(f!.payload.toString()).toBe('alive');
      peer.destroy();
    });

    // Behaviour, not speed: under `process` every one of the 200 connections forks a Node child
    // (≈ 110 ms of CPU each on a 2-core VM, so ≈ 20 s in all); the bound only catches a hang.
    it('200 concurrent clients × 50 requests, every response verified', { timeout: 150_000 }, async () => {
      const clients = await Promise.all(Array.from({ length: 200 }, () => connect()));
      await Promise.all(
        clients.map(async (peer, c) => {
          const frames = Array.from({ length: 50 }, (_, i) => (i % 10 === 0 ? workFrame(10, `${c}:${i}`) : echoFrame(`${c}:${i}`)));
          // Half in one write, then the rest one by one: both pipelined and interleaved.
          await peer.write(Buffer.concat(frames.slice(0, 25)));
          for (const f of frames.slice(25)) await peer.write(f);
          const got = await peer.waitFrames(50, 120_000);
          got.forEach((f, i) => {
            const expected = i % 10 === 0 ? expectedDigest(10, `${c}:${i}`) : Buffer.from(`${c}:${i}`);
            expect(f.payload.equals(expected), `client ${c} frame ${i}`).toBe(true);
          });
          peer.destroy();
        }),
      );
    });

    it('the CLI client round-trips every op against this server', () => {
      const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'client', '--port', String(server.port), ...args], { encoding: 'utf8' });
      const echo = run('echo', 'hello', 'there');
      expect(echo.status).toBe(0);
      expect(echo.stdout.trim()).toBe('hello there');
      const work = run('work', '1000', 'seed');
      expect(work.stdout.trim()).toBe(expectedDigest(1000, 'seed').toString('hex'));
      expect(run('sleep', '20').stdout).toMatch(/^slept 20 ms/);
      expect(JSON.parse(run('info').stdout)).toMatchObject({ model, requests: 1 });
      const bad = run('work', '0');
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/^E_BAD_ARGS /);
    });
  });

  // Defaults never starve: with these flags every accepted connection is served without an
  // unbounded wait. The expectation comes from the registry's capacity for the variant's flags:
  // every variant covers these counts (thread-pool by default multiplexes K = ceil(max-connections
  // ÷ threads) per thread) except the explicit K = 1 one (2 threads × 1 = 2 slots). In the two
  // INFO cases it is held to its documented bound instead of being skipped (a skip would hide
  // whether the bound still holds, and whether the waiting ones are served at all): the first 2
  // are answered, the rest wait unread and are answered once earlier connections close
  // (expectAllAnswered). The drain case it passes in full, like every variant.
  describe('no starvation', () => {
    const bounded = BOUNDED_BY_DESIGN[name];
    const how = bounded ? ` — bounded by design (${bounded}): the rest answered once earlier ones close` : '';
    it(`5 concurrent connections each asking INFO are all answered while all stay open${how}`, async () => {
      const peers = await Promise.all(Array.from({ length: 5 }, () => connect()));
      await Promise.all(peers.map((p) => p.write(infoFrame())));
      await expectAllAnswered(peers, connectionCapacity(variant), name, model);
      for (const p of peers) p.destroy();
    });

    it(`--max-connections 5: 5 held connections are all answered, a 6th gets E_BUSY${how}`, async () => {
      const extra = ['--max-connections', '5'];
      const s = await startServer(model, [...flags, ...extra]);
      const peers: RawPeer[] = [];
      for (let i = 0; i < 5; i++) peers.push(await RawPeer.connect(s.port));
      await Promise.all(peers.map((p) => p.write(infoFrame())));
      const capacity = connectionCapacity(variant, extra);
      // The first min(capacity, 5) are answered (so all 5 are accepted and counted) before the 6th.
      expect(await until(() => peers.filter((p) => p.frames.length > 0).length >= Math.min(capacity, 5), SERVED_WITHIN_MS)).toBe(true);
      const sixth = await RawPeer.connect(s.port);
      const [refused] = await sixth.waitFrames(1);
      expect(refused!.op).toBe(Op.ERROR);
      expect(errorCode(refused!.payload)).toBe('E_BUSY');
      expect(await sixth.closedWithin(5000)).toBe(true);
      await expectAllAnswered(peers, capacity, name, model);
      for (const p of peers) p.destroy();
      expect(await s.stop()).toBe(0);
    });

    // Connections beyond the variant's capacity are still queued, unread, at the signal; their
    // SLEEP was sent, so the drain must serve them, not refuse them unread (their requests would be
    // lost). thread-pool (K=1 and K=4) runs them at once, beyond K; process (--max-processes 16)
    // forks for the 4 beyond as children exit. The peers hold their connections open until all 20
    // are answered (no FIN back on the server's FIN, as a client reading many connections might),
    // so a served connection keeps its slot for the server's 2 s linger: process's second wave
    // comes after that, inside the --drain-timeout that exit 0 proves was kept.
    // --drain-timeout 30: on a loaded 2-core CI machine process's two waves (12 forks, the SLEEP,
    // the 2 s linger, 4 more forks, the SLEEP, the linger) can come near the 10 s default: one
    // fresh-clone run had a connection end unanswered (most likely its child was still starting
    // at the deadline; the exit status was not recorded then, the message now names it).
    // What this case proves is that nothing queued is lost, not how fast forks are.
    it('20 connections, each with a SLEEP 500 in flight at SIGTERM: all 20 answered, exit 0', { timeout: 90_000 }, async () => {
      // --log-level debug: the log pairs each connection id with its peer's port and says why it
      // closed, so a failure names what happened to that one connection.
      const s = await startServer(model, [...flags, '--drain-timeout', '30', '--log-level', 'debug']);
      const peers = await Promise.all(Array.from({ length: 20 }, () => RawPeer.connect(s.port, { allowHalfOpen: true })));
      await Promise.all(peers.map((p) => p.write(sleepFrame(500))));
      await sleep(100);
      const signalledAt = performance.now();
      s.proc.kill('SIGTERM');
      await Promise.all(peers.map((p) => p.waitFrames(1, 40_000).catch(() => {})));
      // On a failure the message carries what is needed to tell a cut connection from a lost handle.
      const why = (i: number) => {
        const p = peers[i]!;
        const log = s.stderr().split('\n');
        const accepted = log.find((l) => l.includes('connection accepted') && l.includes(`:${p.localPort}"`));
        const id = accepted ? /"connection":(\d+)/.exec(accepted)?.[1] : undefined;
        const story = id ? log.filter((l) => l.includes(`"connection":${id},`) || l.includes(`"connection":${id}}`)) : [];
        const closed = p.closedAt ? `${Math.round(p.closedAt - signalledAt)} ms after SIGTERM` : 'not closed';
        const warnings = log.filter((l) => /"level":(40|50|60)/.test(l));
        return `connection ${i} (server exit ${s.exitStatus()}; peer ended ${p.ended}, error ${p.error?.message ?? 'none'}, ${closed}; its log: ${story.join(' | ') || `none found (port ${p.localPort}; ${log.filter((l) => l.includes('connection accepted')).length} accepted lines)`}; server timeline: ${log.map((l) => { try { const j = JSON.parse(l); return `${j.time % 100000} ${j.msg} ${j.connection ?? ''}`; } catch { return l; } }).join(' | ').slice(-3000)}; warnings: ${warnings.join(' | ').slice(-1500) || 'none'})`;
      };
      peers.forEach((p, i) => expect(p.frames.map((f) => (f.op === Op.ERROR ? errorCode(f.payload) : f.op)), why(i)).toEqual([Op.SLEEP]));
      expect(await until(() => peers.every((p) => p.ended), 5000), 'the server closed every drained connection').toBe(true);
      for (const p of peers) p.destroy();
      expect(await s.exited).toBe(0);
    });
  });

  describe('limits and shutdown (own server)', () => {
    it('--idle-timeout closes a connection that completes no request', async () => {
      const s = await startServer(model, [...flags, '--idle-timeout', '0.3']);
      const idle = await RawPeer.connect(s.port);
      const busy = await RawPeer.connect(s.port);
      await busy.write(echoFrame('x'));
      await busy.waitFrames(1);
      await idle.write(echoFrame('half').subarray(0, 5)); // a started frame does not count as activity
      expect(await idle.closedWithin(3000)).toBe(true);
      expect(idle.frames.length).toBe(0);
      expect(await s.stop()).toBe(0);
    });

    it('--max-connections: the connection over the limit gets E_BUSY and is closed; the others keep working', async () => {
      const s = await startServer(model, [...flags, '--max-connections', '2']);
      const a = await RawPeer.connect(s.port);
      const b = await RawPeer.connect(s.port);
      await a.write(infoFrame());
      await b.write(infoFrame());
      await a.waitFrames(1);
      await b.waitFrames(1);
      const c = await RawPeer.connect(s.port);
      const [refused] = await c.waitFrames(1);
      expect(refused!.op).toBe(Op.ERROR);
      expect(errorCode(refused!.payload)).toBe('E_BUSY');
      expect(await c.closedWithin(5000)).toBe(true);
      await a.write(echoFrame('a still works'));
      const [, ok] = await a.waitFrames(2);
      expect(ok!.payload.toString()).toBe('a still works');
      a.destroy();
      await a.closed;
      // Once a slot frees up, new connections are served again.
      let served = false;
      for (let i = 0; i < 50 && !served; i++) {
        const d = await RawPeer.connect(s.port);
        await d.write(echoFrame('d'));
        const [f] = await d.waitFrames(1);
        served = f!.op === Op.ECHO;
        d.destroy();
        if (!served) await sleep(50);
      }
      expect(served).toBe(true);
      b.destroy();
      expect(await s.stop()).toBe(0);
    });

    it('SIGTERM under load: every request sent before the signal is answered, then exit 0', async () => {
      const s = await startServer(model, flags);
      // The sleeper is served (INFO answered) before the load starts, so its SLEEP is in flight.
      const sleeper = await RawPeer.connect(s.port);
      await sleeper.write(infoFrame());
      await sleeper.waitFrames(1, 15_000);
      await sleeper.write(sleepFrame(300));
      const clients = await Promise.all(Array.from({ length: 20 }, () => RawPeer.connect(s.port)));
      let signalled = false;
      const flushedBeforeSignal = new Map<RawPeer, number>();
      const sent = new Map<RawPeer, number>();
      // Each client keeps 8 requests in flight until the server closes its connection.
      const loads = clients.map(async (peer, c) => {
        let n = 0;
        let flushed = 0;
        const window = 8;
        while (!peer.ended && !peer.error && !peer.socket.destroyed) {
          if (n - peer.frames.length < window) {
            const i = n++;
            peer.socket.write(echoFrame(`${c}/${i}`), (err) => {
              if (!err && !signalled) flushed = Math.max(flushed, i + 1);
            });
          } else {
            await Promise.race([peer.waitFrames(peer.frames.length + 1, 1000).catch(() => {}), peer.closed]);
          }
          if (n % 64 === 0) await sleep(0);
        }
        flushedBeforeSignal.set(peer, flushed);
        sent.set(peer, n);
      });
      await sleep(300);
      signalled = true;
      s.proc.kill('SIGTERM');
      await Promise.all(loads);
      await Promise.all(clients.map((p) => p.closed));
      expect(await s.exited).toBe(0);
      expect(sleeper.frames[1]?.op, 'the SLEEP in flight at SIGTERM is answered').toBe(Op.SLEEP);
      let answered = 0;
      clients.forEach((peer, c) => {
        const real = peer.frames.filter((f) => f.op === Op.ECHO);
        // Responses come in order and carry the right bytes…
        real.forEach((f, i) => expect(f.payload.toString()).toBe(`${c}/${i}`));
        // …the only other answer allowed is E_SHUTTING_DOWN, after the real ones…
        for (const f of peer.frames.slice(real.length)) expect(errorCode(f.payload)).toBe('E_SHUTTING_DOWN');
        // …and nothing written before the signal went unanswered, on a connection still waiting
        // for a thread or child at the signal too (process: the 4 beyond --max-processes 16).
        expect(real.length, `client ${c}`).toBeGreaterThanOrEqual(flushedBeforeSignal.get(peer)!);
        answered += real.length;
      });
      expect(answered).toBeGreaterThan(20 * 8);
    });
  });
});
