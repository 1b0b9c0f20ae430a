import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { coresBetween, descendants, pidsMayBeBelow, sampleTree } from '../../harness/proc-tree.ts';

const reading = (at: number, cpuUs: number) => ({ at, cpuUs, rssBytes: 0, processes: 1, alive: true });

describe('coresBetween (a tree\'s average cores over a window)', () => {
  it('is CPU time over wall time', () => {
    expect(coresBetween(reading(1000, 5_000), reading(3000, 1_505_000))).toBeCloseTo(0.75, 6);
  });
  it('has no figure without both readings or with readings out of order', () => {
    expect(coresBetween(null, reading(1, 1))).toBeNull();
    expect(coresBetween(reading(1, 1), null)).toBeNull();
    expect(coresBetween(reading(2000, 0), reading(2000, 10))).toBeNull();
    expect(coresBetween(reading(3000, 0), reading(2000, 10))).toBeNull();
  });
  it("reads a busy process near a core and an idle one near zero (this process, /proc)", async () => {
    const a = sampleTree(process.pid);
    const until = performance.now() + 300;
    while (performance.now() < until); // spin
    const b = sampleTree(process.pid);
    await new Promise((r) => setTimeout(r, 300));
    const c = sampleTree(process.pid);
    expect(coresBetween(a, b)!).toBeGreaterThan(0.5);
    expect(coresBetween(b, c)!).toBeLessThan(0.5);
  });
});

describe('descendants: reading only the pids above the root', () => {
  it('skips the pids below the root only while the counter has not wrapped', () => {
    expect(pidsMayBeBelow(1000, 5000, undefined)).toBe(false);
    expect(pidsMayBeBelow(1000, 5000, 4000)).toBe(false);
    expect(pidsMayBeBelow(1000, 999, undefined)).toBe(true); // wrapped since the root started
    expect(pidsMayBeBelow(1000, 3000, 30000)).toBe(true); // wrapped since the last reading
    expect(pidsMayBeBelow(1000, null, undefined)).toBe(true); // the kernel does not say
  });
  it('finds a child and a grandchild of this process', async () => {
    const child = spawn('sh', ['-c', 'sleep 5 & wait'], { stdio: 'ignore' });
    try {
      let found: number[] = [];
      for (let i = 0; i < 50 && found.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 20));
        found = descendants(process.pid).filter((p) => p >= child.pid!);
      }
      expect(found[0]).toBe(child.pid);
      expect(found.length).toBe(2);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
