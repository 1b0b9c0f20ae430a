// CPU placement of the server and the load generator (`--cpus server=1,client=0`), through
// taskset(1) where it exists. On a 2-core machine an unpinned client and server share both cores
// and the scheduler decides, run to run, who waits: placement makes the split explicit and the
// same every time, and it is recorded in every cell.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface Placement {
  /** CPU list for the server (taskset syntax: "1", "0-3", "0,2"); undefined: not pinned. */
  server?: string;
  client?: string;
}

/**
 * The benchmark's defaults (chosen with `make bench-validate`, which compares this load generator
 * with an independent C client on the same servers; see results/validate.md).
 */
export const DEFAULT_PLACEMENT: Placement = defaultPlacement(allowedCpus());
/** One load thread per client CPU: two threads on one core measured 0.52–0.72× the C client at c=32. */
export const DEFAULT_CLIENT_THREADS = clientCpuCount(allowedCpus().length);

/** The CPUs this process may run on (Cpus_allowed_list), ascending; 0 … n−1 where /proc says nothing. */
export function allowedCpus(): number[] {
  try {
    const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'latin1'))?.[1];
    if (list) return expandCpuList(list);
  } catch {
    /* not Linux */
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

/** "0-2,5" → [0, 1, 2, 5]. */
export function expandCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) out.push(c);
  }
  return out;
}

/** A quarter of the CPUs (at least one) for the client, the rest for the server. */
function clientCpuCount(cores: number): number {
  return Math.max(1, Math.floor(cores / 4));
}

/**
 * The client on the first CPUs, the server on the rest: on this 2-core VM server=1, client=0,
 * which brought the load generator within 4% of the C client's throughput at c=32 (unpinned it
 * competes with the server for both cores: 0.72× with two threads). One core: nothing to split.
 */
export function defaultPlacement(cpus: readonly number[]): Placement {
  if (cpus.length < 2) return {};
  const client = clientCpuCount(cpus.length);
  return { client: cpus.slice(0, client).join(','), server: cpus.slice(client).join(',') };
}

/**
 * Whether the load threads should busy-poll (bench/loadgen/worker.ts Spinner): only when the
 * client is pinned, apart from the server, with a CPU for each load thread. Unpinned, a spinner
 * would take CPU from the server; two on one CPU would take turns by time slice and each answer
 * would wait for the other's slice to end.
 */
export function clientSpins(p: Placement, threads: number, pinning = tasksetAvailable): boolean {
  if (!pinning || !p.client || !p.server) return false;
  const client = expandCpuList(p.client);
  const server = new Set(expandCpuList(p.server));
  return client.every((c) => !server.has(c)) && threads <= client.length;
}

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
