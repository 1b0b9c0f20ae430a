// bench/micro/thread-cpu.sh for real: a short run against offload by the C client prints a row per
// busy server thread (the main thread and the pool threads), with CPU and switches per request;
// no server is left behind; a bad command line exits 2.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = (...args: string[]) => spawnSync('bash', ['bench/micro/thread-cpu.sh', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
const servers = () => spawnSync('pgrep', ['-f', 'src/cli.ts serve --model offload --port 0 --log-level warn'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).length;

describe('bench/micro/thread-cpu.sh', () => {
  it('splits the server CPU per request by thread, main and pool threads apart, and stops its server', () => {
    const before = servers();
    const r = run('--model', 'offload', '--seconds', '2');
    expect(r.status, r.stderr).toBe(0);
    if (/skipped/.test(r.stdout)) return; // no C compiler or taskset here: said so, exit 0
    expect(r.stdout).toMatch(/thread-cpu: offload, c=1: \d+ req\/s/);
    const rows = new Map(
      r.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length === 6 && /^\d+$/.test(f[1]!))
        .map((f) => [f[0]!, f.slice(2).map(Number)] as const),
    );
    // The main thread answers every request and the pool thread runs every handler: both busy.
    for (const name of ['node-MainThread', 'WorkerThread']) {
      const v = rows.get(name);
      expect(v, `${name} in\n${r.stdout}`).toBeDefined();
      expect(v![0]! + v![1]!, `${name} CPU µs per request`).toBeGreaterThan(0);
    }
    expect(servers()).toBe(before);
  }, 60_000);

  it('exits 2 naming the bad argument', () => {
    for (const [args, says] of [
      [['--connections', '0'], /--connections: expected a whole number/],
      [['--seconds', '1'], /--seconds: expected a whole number ≥ 2/],
      [['--model', 'nope'], /--model: unknown model 'nope'/],
      [['--frobnicate'], /unknown argument '--frobnicate'/],
    ] as const) {
      const r = run(...args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(says);
    }
  });
});
