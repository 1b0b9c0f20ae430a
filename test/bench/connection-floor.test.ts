// The floor cells run for real: a plain thread- and child-per-connection echo server on port 0,
// driven one connection at a time, its CPU per connection read from /proc; and a bad command line
// exits 2 with its usage.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectionFloor } from '../../bench/micro/spawn.ts';

const FLOOR = fileURLToPath(new URL('../../bench/micro/connection-floor.mjs', import.meta.url));
const procAvailable = (() => {
  try {
    execFileSync('cat', ['/proc/self/stat'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!procAvailable)('connection floor', () => {
  for (const kind of ['worker-floor', 'fork-floor'] as const) {
    it(`${kind}: serves every connection and reports its CPU per connection`, async () => {
      const row = await connectionFloor(kind, 2, { n: 3 });
      expect(row).toMatchObject({ kind, round: 2, n: 3 });
      // A thread or a child per connection costs milliseconds of CPU, never nothing.
      expect(row.cpuUsPerStart).toBeGreaterThan(0);
      expect(row.wallMsP50).toBeGreaterThan(0);
    }, 30_000);
  }

  it('exits 2 with its usage on a bad command line', () => {
    const r = spawnSync(process.execPath, [FLOOR, 'serve', 'fibre'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: node bench/micro/connection-floor.mjs');
  });
});
