// bench-ci's front end refuses bad flags with exit 2 and a message naming the flag, before it
// builds a base or starts a server.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ci = (...args: string[]) => spawnSync(process.execPath, ['bench/ci/run.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

describe('bench-ci arguments', () => {
  it.each([['0'], ['1.5'], ['-3']])('--work-n %s: exit 2 naming the flag', (n) => {
    const r = ci('--work-n', n, '--base', 'none', '--out', '/nonexistent');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--work-n takes a whole number');
  });

  it('an unknown model: exit 2 with the models to choose from', () => {
    const r = ci('--models', 'nope', '--base', 'none');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown model\(s\) nope; choose from event-loop/);
  });
});
