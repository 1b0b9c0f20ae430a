// `switchboard serve` exit codes on shutdown: 0 when the drain finished, 5 (DRAIN_INCOMPLETE)
// when connections were cut — the --drain-timeout passed, or a second signal closed at once.
// 1 stays the client's "ERROR reply" only.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameClient } from '../src/shared/client.ts';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

async function serve(flags: string[]): Promise<{ proc: ChildProcess; port: number; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--log-level', 'silent', ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(proc);
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  let out = '';
  for await (const chunk of proc.stdout!) {
    out += chunk;
    const m = /listening on \S+:(\d+)/.exec(out);
    if (m) return { proc, port: Number(m[1]), exited };
  }
  throw new Error(`server exited before listening: ${out}`);
}

/** A connection with a SLEEP in flight: a drain cannot finish before it is answered. */
async function busyConnection(port: number): Promise<FrameClient> {
  const client = await FrameClient.connect(port);
  void client.sleep(2_000).catch(() => {});
  await new Promise((r) => setTimeout(r, 100)); // the request has been read
  return client;
}

describe('serve exit codes', () => {
  it('--drain-timeout passed with a request still running: exit 5', async () => {
    const s = await serve(['--drain-timeout', '0.3']);
    const client = await busyConnection(s.port);
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(5);
    await client.close();
  });

  it('a second signal closes at once: exit 5', async () => {
    const s = await serve(['--drain-timeout', '30']);
    const client = await busyConnection(s.port);
    s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    s.proc.kill('SIGINT');
    expect(await s.exited).toBe(5);
    await client.close();
  });

  it('a drain that finishes: exit 0', async () => {
    const s = await serve([]);
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
