// serve --config FILE and SIGHUP: settings by the flags' own names, the command line on top, the
// same checks as the command line; SIGHUP re-reads the file and switches live; a bad file at
// start exits 2 naming the file and the field, and a bad file at SIGHUP is refused while the
// running configuration stays.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RawPeer } from '../harness/peer.ts';
import { spawnServer, type ServerProcess } from '../harness/server.ts';
import { until } from '../harness/time.ts';
import { infoFrame } from '../harness/wire.ts';
import { CLI } from './helpers/server.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: unknown) => {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
};

async function info(port: number): Promise<Record<string, unknown>> {
  const p = await RawPeer.connect(port);
  await p.write(infoFrame());
  await p.waitFrames(1);
  p.destroy();
  return JSON.parse(p.frames[0]!.payload.toString()) as Record<string, unknown>;
}

async function serveWith(flags: string[]): Promise<ServerProcess> {
  const s = await spawnServer([process.execPath, CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...flags], { startTimeoutMs: 20_000 });
  return s;
}

describe('--config and SIGHUP', () => {
  it('the file sets the model; the command line wins over it; SIGHUP switches to the rewritten file live', async () => {
    const cfg = file('live.json', { model: 'thread-pool', threads: 1, 'max-in-flight': 64 });
    const s = await serveWith(['--config', cfg, '--threads', '2']);
    try {
      expect(await info(s.port)).toMatchObject({ model: 'thread-pool' });
      // --threads 2 on the command line beat the file's 1: two pool threads answer.
      const threads = new Set<unknown>();
      for (let i = 0; i < 20 && threads.size < 2; i++) threads.add((await info(s.port)).threadId);
      expect(threads.size).toBe(2);
      writeFileSync(cfg, JSON.stringify({ model: 'process-pool', processes: 2 }));
      s.proc.kill('SIGHUP');
      expect(await until(() => /"generation":2,"model":"process-pool"/.test(s.stderr()), 20_000), s.stderr().slice(-1500)).toBe(true);
      expect(await info(s.port)).toMatchObject({ model: 'process-pool' });
    } finally {
      expect(await s.stop(20_000)).toBe(0);
    }
  });

  it('a bad file at SIGHUP is refused with the reason; the running configuration stays', async () => {
    const cfg = file('bad-later.json', { model: 'event-loop' });
    const s = await serveWith(['--config', cfg]);
    try {
      writeFileSync(cfg, '{"model": "thread-pool", "threads": 0}');
      s.proc.kill('SIGHUP');
      expect(await until(() => /config refused/.test(s.stderr()), 10_000)).toBe(true);
      expect(s.stderr()).toMatch(/--threads must be an integer 1\.\.1024/);
      writeFileSync(cfg, '{"model": ');
      s.proc.kill('SIGHUP');
      expect(await until(() => /not JSON/.test(s.stderr()), 10_000)).toBe(true);
      expect(await info(s.port)).toMatchObject({ model: 'event-loop' });
      expect(s.alive()).toBe(true);
    } finally {
      expect(await s.stop(20_000)).toBe(0);
    }
  });

  it('a bad file at start: exit 2 naming the file and the field', () => {
    const run = (cfg: string) => spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--config', cfg], { encoding: 'utf8', timeout: 20_000 });
    const badValue = file('bad-value.json', { threads: 'many' });
    const r1 = run(badValue);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toContain(badValue);
    expect(r1.stderr).toMatch(/--threads/);
    const unknown = file('unknown.json', { treads: 2 });
    const r2 = run(unknown);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/treads/);
    const r3 = run(path.join(dir, 'missing.json'));
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/missing\.json: cannot read it: ENOENT/);
    const r4 = run(file('array.json', [1, 2]));
    expect(r4.status).toBe(2);
    expect(r4.stderr).toMatch(/JSON object of serve flags/);
  });
});
