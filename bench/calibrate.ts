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
  workDigest(5000, seed); // warm the JIT and the crypto binding
  // CPU per SHA-256 round: the median of 7 trials of 10 × 300 rounds (a median, because other
  // processes on a shared machine disturb single trials).
  const ROUNDS = 300;
  const trials: number[] = [];
  for (let t = 0; t < 7; t++) {
    trials.push(
      cpuUsOf(() => {
        for (let i = 0; i < 10; i++) workDigest(ROUNDS, seed);
      }) /
        (10 * ROUNDS),
    );
  }
  trials.sort((a, b) => a - b);
  const usPerRound = trials[3]!;
  const workN = Math.max(1, Math.round(targetUs / usPerRound));
  return {
    workN,
    targetUs,
    measuredUs: workN * usPerRound,
    usPerRound,
    method: 'process.threadCpuUsage() around workDigest() in the bench process: median of 7 trials of 10 × 300 rounds gives CPU µs per round; n = 1000 µs / that',
  };
}
