// bench/micro/ab.sh for real: one short interleaved run of a model from a base commit and from the
// working tree, by the C client; the temporary worktree is gone afterwards; a bad command line exits 2.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ab = (...args: string[]) => spawnSync('bash', ['bench/micro/ab.sh', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
const worktrees = () => spawnSync('git', ['worktree', 'list', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('worktree ')).length;

describe('bench/micro/ab.sh', () => {
  it('measures base and new side by side, prints the per-round ratios, and removes its worktree', () => {
    const before = worktrees();
    const r = ab('--model', 'event-loop', '--base', 'HEAD', '--rounds', '1', '--seconds', '1', '--connections', '1');
    expect(r.status, r.stderr).toBe(0);
    if (/skipped/.test(r.stdout)) return; // no C compiler or taskset here: said so, exit 0
    const rows = r.stdout.split('\n').filter((l) => /^(base|new)\s+1\s+1\s/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['base', 'new']);
    for (const l of rows) {
      const [cpu, rps] = l.trim().split(/\s+/).slice(3).map(Number);
      expect(cpu).toBeGreaterThan(0);
      expect(rps).toBeGreaterThan(0);
    }
    expect(r.stdout).toMatch(/c=1: cpu\/req \d+\.\d+ \[/);
    expect(worktrees()).toBe(before);
  }, 120_000);

  it('exits 2 naming the bad argument', () => {
    for (const [args, says] of [
      [['--rounds', '0'], /--rounds: expected a whole number/],
      [['--seconds', 'x'], /--seconds: expected a whole number/],
      [['--model', 'nope'], /--model: unknown model 'nope'/],
      [['--base', 'no-such-ref-here'], /--base: 'no-such-ref-here' is not a commit/],
      [['--frobnicate'], /unknown argument '--frobnicate'/],
    ] as const) {
      const r = ab(...args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(says);
    }
  });
});
