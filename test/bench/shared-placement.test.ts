// A 'shared' workload (work-1ms-all-cpus) runs unpinned whatever --cpus says, so a parallel model
// can show a speed-up on a machine whose default placement leaves the server one CPU; the other
// cells keep the run's placement. Real bench/run.ts, real servers, a tiny WORK.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunResults } from '../../bench/results.ts';
import { WORKLOADS } from '../../bench/workloads.ts';

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));

describe('shared placement', () => {
  it('only work-1ms-all-cpus is shared', () => {
    expect(WORKLOADS.filter((w) => w.placement === 'shared').map((w) => w.name)).toEqual(['work-1ms-all-cpus']);
  });

  it('work-1ms-all-cpus cells record cpus "none" while work-1ms keeps the placement asked for', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'sb-shared-'));
    try {
      const args = ['--models', 'event-loop', '--workloads', 'work-1ms,work-1ms-all-cpus', '--rounds', '1', '--duration', '0.3', '--warmup', '0.1', '--work-n', '20', '--cpus', 'server=0,client=0', '--no-micro', '--no-reference', '--no-external', '--out', out];
      const r = spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout: 90_000 });
      expect(r.status, r.stderr).toBe(0);
      const dir = readdirSync(out).find((d) => !d.endsWith('.md') && !d.endsWith('.json'))!;
      const run = JSON.parse(readFileSync(path.join(out, dir, 'results.json'), 'utf8')) as RunResults;
      const cpus = Object.fromEntries(run.cells.map((c) => [c.workload, c.params.cpus]));
      expect(cpus).toEqual({ 'work-1ms': 'server=0,client=0', 'work-1ms-all-cpus': 'none' });
      expect(run.cells.every((c) => c.ok && (c.throughput ?? 0) > 0)).toBe(true);
      // The workload itself, with its placement, is in the results (the schema documents it).
      expect(run.workloads.find((w) => w.name === 'work-1ms-all-cpus')?.placement).toBe('shared');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
