// CPU accounting of a process tree from /proc: a parent forks a CPU-burning child that exits
// inside the window; the tree's CPU over the window must include the child's CPU, read from the
// OS, even though the child no longer exists when the window closes.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLK_TCK, descendants, procAvailable, sampleTree, TreeSampler } from '../../harness/proc-tree.ts';

const PARENT = `
const { spawn } = require('node:child_process');
const burn = "const t = Date.now(); let x = 0; while (Date.now() - t < 400) x += Math.sqrt(x + 1); const u = process.cpuUsage(); process.stdout.write(JSON.stringify(u));";
process.stdout.write('PARENT\\n');
setTimeout(() => {
  const c = spawn(process.execPath, ['-e', burn], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  c.on('exit', () => {
    // 'exit' fires after libuv reaped the child: its CPU is now in our cutime/cstime.
    process.stdout.write('CHILD ' + out + '\\n');
    setTimeout(() => process.exit(0), 1500);
  });
}, 300);
`;

describe.runIf(procAvailable)('process-tree CPU accounting (/proc)', () => {
  it('counts a child that burned CPU and exited inside the window', async () => {
    const parent = spawn(process.execPath, ['-e', PARENT], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const lines = (re: RegExp) =>
      new Promise<RegExpExecArray>((resolve) => {
        const check = () => {
          const m = re.exec(out);
          if (m) resolve(m);
        };
        parent.stdout!.on('data', (d) => {
          out += d;
          check();
        });
        check();
      });
    await lines(/PARENT/);
    const sampler = new TreeSampler(parent.pid!, 50);
    const before = sampleTree(parent.pid!);
    let sawChild = false;
    const watch = setInterval(() => {
      if (descendants(parent.pid!).length > 0) sawChild = true;
    }, 20);
    const m = await lines(/CHILD (\{.*\})\n/);
    clearInterval(watch);
    const childCpu = JSON.parse(m[1]!) as { user: number; system: number };
    const childUs = childCpu.user + childCpu.system;
    const after = sampleTree(parent.pid!);
    sampler.stop();
    expect(after.alive).toBe(true);
    expect(descendants(parent.pid!)).toEqual([]); // the child is gone…
    expect(sawChild || sampler.peakProcesses >= 2).toBe(true); // …but was seen in the tree while it ran
    const tick = 1e6 / CLK_TCK;
    // …and its CPU is in the window's figure (tick granularity on both readings and the child's own).
    expect(childUs).toBeGreaterThan(200_000);
    expect(after.cpuUs - before.cpuUs).toBeGreaterThanOrEqual(childUs - 3 * tick);
    await new Promise((r) => parent.on('exit', r));
  });

  it('reads the live tree: RSS and process count of this process', () => {
    const s = sampleTree(process.pid);
    expect(s.alive).toBe(true);
    expect(s.processes).toBeGreaterThanOrEqual(1);
    expect(s.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(s.cpuUs).toBeGreaterThan(0);
  });
});
