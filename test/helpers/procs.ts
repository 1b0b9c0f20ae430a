// Process inspection for the process-model tests, straight from Linux's /proc (no packages).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { RawPeer } from './peer.ts';
import { infoFrame, sleep } from './wire.ts';

/** Direct children of `pid` (every thread's list, as Node's threads can fork too). */
export function childrenOf(pid: number): number[] {
  const out = new Set<number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.add(Number(c));
    } catch {
      /* thread ended */
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** The process exists and is not a zombie. */
export function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    // A zombie still has a /proc entry: it is not running, but it has not been reaped either.
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Zombie children of `pid` (exited, not reaped). */
export function zombiesOf(pid: number): number[] {
  return childrenOf(pid).filter((c) => {
    try {
      return /^\d+ \(.*\) Z /.test(readFileSync(`/proc/${c}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Polls `check` every 25 ms until it is true or `timeoutMs` passes; returns its last value. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (check()) return true;
    await sleep(25);
  }
  return check();
}

/** Sends INFO on a connected peer and returns the parsed answer (request count is cumulative). */
export async function info(peer: RawPeer): Promise<{ pid: number; model: string; connection: number; requests: number }> {
  const n = peer.frames.length;
  await peer.write(infoFrame());
  const frames = await peer.waitFrames(n + 1);
  return JSON.parse(frames[n]!.payload.toString('utf8'));
}

/** Connects, asks INFO, closes: the pid that served a fresh connection. */
export async function pidOfNewConnection(port: number): Promise<number> {
  const peer = await RawPeer.connect(port);
  try {
    return (await info(peer)).pid;
  } finally {
    peer.destroy();
  }
}

/** The `stats` object of the server's final "drained, exiting" log line (needs --log-level info). */
export function finalStats(stderr: string): Record<string, any> | null {
  for (const line of stderr.split('\n').reverse()) {
    if (!line.includes('"stats"')) continue;
    try {
      return JSON.parse(line).stats;
    } catch {
      /* partial line */
    }
  }
  return null;
}
