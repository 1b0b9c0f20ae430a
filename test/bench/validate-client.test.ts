// The independent C client (bench/validate/echo-client.c) that make bench-validate checks the load
// generator against: it must measure a correct echo server, and each of its checks must be able to
// fail — a corrupted byte is a mismatch, and a connection the server starves shows up (fewer
// active connections, its wait as a latency sample) instead of vanishing from the figures.
import { execFile, execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { correctClosedLoop, newHistogram, summarize } from '../../harness/histogram.ts';

const SOURCE = fileURLToPath(new URL('../../bench/validate/echo-client.c', import.meta.url));

const ccExists = (() => {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface ClientResult {
  connections: number;
  requests: number;
  throughput: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  coIntervalUs: number;
  p99CoUs: number;
  p999CoUs: number;
  errors: number;
  mismatches: number;
  activeConnections: number;
  ageSamples: number;
  cpuUserS: number;
  cpuSysS: number;
}

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const children = new Set<ChildProcess>();

/** A server on 127.0.0.1, any port, whose connections `onConnection` handles (index = accept order). */
async function serve(onConnection: (sock: net.Socket, index: number) => void): Promise<number> {
  let n = 0;
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    sock.setNoDelay(true);
    onConnection(sock, n++);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Whole frames out of a byte stream (u32 length, then that many bytes). */
function onFrames(sock: net.Socket, each: (frame: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = 4 + buf.readUInt32BE(0);
      each(Buffer.from(buf.subarray(0, len)));
      buf = buf.subarray(len);
    }
  });
}

describe.runIf(ccExists)('bench/validate/echo-client.c', () => {
  let dir = '';
  let bin = '';

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'echo-client-'));
    bin = path.join(dir, 'echo-client');
    // The flags make bench-validate builds with; a warning here is a test failure.
    const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', bin, SOURCE], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const c of children) c.kill('SIGKILL');
    children.clear();
    for (const s of sockets) s.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  // Asynchronous on purpose: the servers under test run in this process's event loop.
  function run(port: number, connections: number, durationS = 1, extra: string[] = []): Promise<ClientResult> {
    return new Promise((resolve, reject) => {
      const args = ['--port', String(port), '--connections', String(connections), '--payload', '64', '--warmup', '0.2', '--duration', String(durationS), '--grace', '0.3', ...extra];
      const child = execFile(bin, args, { timeout: 15_000, encoding: 'utf8' }, (err, stdout, stderr) => {
        children.delete(child);
        if (err) return reject(new Error(`echo-client failed: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim()) as ClientResult);
      });
      children.add(child);
    });
  }

  it('measures a correct echo server: requests, no errors, every connection served', async () => {
    const port = await serve((sock) => sock.pipe(sock));
    const r = await run(port, 4);
    expect(r.requests).toBeGreaterThan(0);
    expect(r.throughput).toBeCloseTo(r.requests / 1, 0);
    expect(r.errors).toBe(0);
    expect(r.mismatches).toBe(0);
    expect(r.connections).toBe(4);
    expect(r.activeConnections).toBe(4);
    expect(r.ageSamples).toBe(0);
    expect(r.cpuUserS + r.cpuSysS).toBeGreaterThan(0);
  });

  it('catches one corrupted byte in every answer', async () => {
    const port = await serve((sock) =>
      onFrames(sock, (frame) => {
        frame[frame.length - 1]! ^= 0x01; // the last payload byte: the framing stays intact
        sock.write(frame);
      }),
    );
    const r = await run(port, 2);
    expect(r.mismatches).toBeGreaterThan(0);
    expect(r.requests).toBe(0);
  });

  it('a connection the server never answers shows up: 3 of 4 active, its wait as a latency sample', async () => {
    const port = await serve((sock, index) => {
      if (index === 1) sock.resume(); // read and drop: this connection is starved
      else sock.pipe(sock);
    });
    const windowS = 1;
    const r = await run(port, 4, windowS);
    expect(r.activeConnections).toBe(3);
    expect(r.requests).toBeGreaterThan(0);
    expect(r.ageSamples).toBe(1);
    // Its only request was sent before the window and waited through all of it.
    expect(r.maxUs).toBeGreaterThanOrEqual(windowS * 1e6);
    expect(r.errors).toBe(0);
  });

  it("its coordinated-omission figures match the load generator's correction of the same samples", async () => {
    // Every 250th answer 10 ms late (0.4%, below the raw p99): the stalls hide the requests that were never sent.
    let n = 0;
    const port = await serve((sock) =>
      onFrames(sock, (frame) => {
        if (++n % 250 === 0) setTimeout(() => sock.write(frame), 10);
        else sock.write(frame);
      }),
    );
    const file = path.join(dir, 'samples.txt');
    const r = await run(port, 2, 1, ['--samples', file]);
    const samplesUs = readFileSync(file, 'utf8').trim().split('\n').map((x) => Number(x) / 1000);
    expect(samplesUs.length).toBe(r.requests);
    const raw = newHistogram();
    for (const v of samplesUs) raw.recordValue(Math.max(1, Math.round(v)));
    const { corrected, intervalUs } = correctClosedLoop(raw);
    const hdr = summarize(corrected);
    // The correction moves p99 far past the raw one, and both implementations agree on it within
    // HDR's 0.1% buckets plus the interval's rounding to whole µs.
    expect(r.p99CoUs).toBeGreaterThan(2 * r.p99Us);
    expect(r.coIntervalUs).toBeCloseTo(intervalUs, -1);
    expect(Math.abs(r.p99CoUs - hdr.p99) / hdr.p99).toBeLessThan(0.02);
    expect(Math.abs(r.p999CoUs - hdr.p999) / hdr.p999).toBeLessThan(0.02);
    raw.destroy();
    corrected.destroy();
  });

  it('exits non-zero with a message when it cannot connect', async () => {
    const port = await serve(() => {});
    await new Promise((resolve) => servers.pop()!.close(resolve));
    await expect(run(port, 1)).rejects.toThrow(/connect to 127\.0\.0\.1:\d+ failed/);
  });
});
