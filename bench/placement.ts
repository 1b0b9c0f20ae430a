// CPU placement of the server and the load generator (`--cpus server=1,client=0`), through
// taskset(1) where it exists. On a 2-core machine an unpinned client and server share both cores
// and the scheduler decides, run to run, who waits: placement makes the split explicit and the
// same every time, and it is recorded in every cell.
import { execFileSync } from 'node:child_process';

export interface Placement {
  /** CPU list for the server (taskset syntax: "1", "0-3", "0,2"); undefined: not pinned. */
  server?: string;
  client?: string;
}

/**
 * The benchmark's defaults (chosen with `make bench-validate`, which compares this load generator
 * with an independent C client on the same servers; see results/validate.md).
 */
export const DEFAULT_PLACEMENT: Placement = {};
export const DEFAULT_CLIENT_THREADS = 2;

export const tasksetAvailable = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** "server=1,client=0" (either part optional; "none" for no pinning) → Placement. Throws on a malformed value. */
export function parsePlacement(text: string): Placement {
  const out: Placement = {};
  if (text === '' || text === 'none') return out;
  // Split on commas that start a new key=value pair, so CPU lists may contain commas.
  for (const part of text.split(/,(?=\s*(?:server|client)=)/)) {
    const m = /^\s*(server|client)=(.+)$/.exec(part);
    if (!m || !CPU_LIST.test(m[2]!.trim())) throw new Error(`--cpus: expected server=LIST,client=LIST (e.g. server=1,client=0), got "${text}"`);
    out[m[1] as keyof Placement] = m[2]!.trim();
  }
  return out;
}

export function describePlacement(p: Placement): string {
  return [p.server ? `server=${p.server}` : null, p.client ? `client=${p.client}` : null].filter(Boolean).join(',') || 'none';
}

/** A command that runs pinned to `cpus` (taskset execs it, so the pid stays the command's). */
export function pinnedCommand(command: readonly string[], cpus: string | undefined): string[] {
  return cpus && tasksetAvailable ? ['taskset', '-c', cpus, ...command] : [...command];
}

/** Pins a running process and all its threads (new threads and children inherit it). */
export function pinProcess(pid: number, cpus: string | undefined): void {
  if (!cpus || !tasksetAvailable) return;
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}
