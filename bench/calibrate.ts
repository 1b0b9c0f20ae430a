// work-1ms: find the WORK iteration count n whose SHA-256 chain costs ≈ 1 ms of CPU on this
// machine. Measured as CPU time of this thread (process.threadCpuUsage), so a busy machine
// stretches the wall time but not the figure.
import { workDigest } from '../src/shared/builtin-handler.ts';

function cpuUsOf(fn: () => void): number {
  const a = process.threadCpuUsage();
  fn();
  const b = process.threadCpuUsage();
  return b.user - a.user + (b.system - a.system);
}

export interface Calibration {
  workN: number;
  targetUs: number;
  /** CPU µs one workDigest(n) took here, median of the trials. */
  measuredUs: number;
  /** CPU µs per SHA-256 round. */
  usPerRound: number;
  method: string;
}

export function calibrateWork(targetUs = 1000): Calibration {
  const seed = Buffer.from('switchboard-calibration');
  workDigest(2000, seed); // warm the JIT and the crypto binding
  let n = 500;
  for (let pass = 0; pass < 2; pass++) {
    const reps = 20;
    const us = cpuUsOf(() => {
      for (let i = 0; i < reps; i++) workDigest(n, seed);
    });
    n = Math.max(1, Math.round((n * targetUs) / (us / reps)));
  }
  const trials: number[] = [];
  for (let t = 0; t < 5; t++)
    trials.push(
      cpuUsOf(() => {
        for (let i = 0; i < 10; i++) workDigest(n, seed);
      }) / 10,
    );
  trials.sort((a, b) => a - b);
  const measuredUs = trials[2]!;
  return {
    workN: n,
    targetUs,
    measuredUs,
    usPerRound: measuredUs / n,
    method: 'process.threadCpuUsage() around workDigest(n) in the bench process; two refinement passes of 20 reps, then the median of 5 trials of 10 reps',
  };
}
