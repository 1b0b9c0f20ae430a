// socket-hop.mjs for real: each bare server answers a request frame over TCP with the same bytes
// (on the main thread, through a piscina task, through shared memory), and a bad command line exits 2.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const HOP = fileURLToPath(new URL('../../bench/micro/socket-hop.mjs', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function start(mode: string): Promise<number> {
  const child = spawn(process.execPath, [HOP, '--mode', mode, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening pid \d+ port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`socket-hop --mode ${mode} exited ${code}`)));
  });
}

/** Sends `n` requests one after another; resolves with every answer. */
function roundTrips(port: number, frames: Buffer[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const answers: Buffer[] = [];
    let got = Buffer.alloc(0);
    s.on('connect', () => s.write(frames[0]!));
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const want = frames[answers.length]!.length;
      if (got.length < want) return;
      answers.push(got.subarray(0, want));
      got = got.subarray(want);
      if (answers.length === frames.length) {
        s.end();
        resolve(answers);
      } else s.write(frames[answers.length]!);
    });
    s.on('error', reject);
  });
}

describe('socket-hop bare servers', () => {
  for (const mode of ['net', 'piscina', 'shared', 'ring']) {
    it(`${mode}: echoes each request's bytes, in turn`, async () => {
      const port = await start(mode);
      const frames = Array.from({ length: 20 }, (_, i) => Buffer.alloc(69, i + 1));
      const answers = await roundTrips(port, frames);
      expect(answers).toEqual(frames);
    }, 20_000);
  }

  it('exits 2 with its usage on a bad command line', () => {
    const r = spawnSync(process.execPath, [HOP, '--mode', 'fast', '--port', '1'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: node bench/micro/socket-hop.mjs');
  });
});
