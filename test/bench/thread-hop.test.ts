// The thread-hop floor for real: a main event loop hands requests to a parked thread and gets the
// answers back every way (MessagePort, Atomics.waitAsync, a bare piscina task), and a bad command line exits 2.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { threadHop } from '../../bench/micro/hop.ts';

const HOP = fileURLToPath(new URL('../../bench/micro/thread-hop.mjs', import.meta.url));

describe('thread-hop floor', () => {
  it('measures every way back and tags the round', async () => {
    const rows = await threadHop(3, { n: 200 });
    expect(rows.map((r) => r.mode)).toEqual(['port', 'waitasync', 'piscina']);
    for (const r of rows) {
      expect(r).toMatchObject({ round: 3, n: 200 });
      // A round trip through another thread is never free, and its tail is never below its median.
      expect(r.p50Us).toBeGreaterThan(0);
      expect(r.p99Us).toBeGreaterThanOrEqual(r.p50Us);
      expect(r.cpuUsPerTrip).toBeGreaterThan(0);
    }
  }, 30_000);

  it('exits 2 with its usage on a bad command line', () => {
    const r = spawnSync(process.execPath, [HOP, 'many'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: node bench/micro/thread-hop.mjs');
  });
});
