// OS-level observation of a server and everything it started: RSS, open fds, threads and
// child processes of a pid tree, read from /proc (Linux). No endpoint in the server needed.
// This kernel has no /proc/<pid>/task/<tid>/children, so the tree is built from every
// process's parent pid in /proc/<pid>/stat.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStats {
  /** pids in the tree, the root first. */
  pids: number[];
  /** Child processes below the root (all depths). */
  children: number;
  /** Sum of VmRSS over the tree, bytes. */
  rss: number;
  /** Root process's RSS alone, bytes. */
  rootRss: number;
  /** Sum of open file descriptors over the tree. */
  fds: number;
  /** Sum of OS threads over the tree. */
  threads: number;
  /** Threads of the root process alone. */
  rootThreads: number;
}

function ppidOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid … — comm may contain spaces or parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return -1;
  }
}

/** Every live descendant of `root` (not including it). */
export function descendants(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = ppidOf(pid);
    if (ppid <= 0) continue;
    let list = byParent.get(ppid);
    if (!list) byParent.set(ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const stack = [...(byParent.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(byParent.get(pid) ?? []));
  }
  return out;
}

function status(pid: number): { rss: number; threads: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(s)?.[1] ?? 0) * 1024;
    const threads = Number(/Threads:\s+(\d+)/.exec(s)?.[1] ?? 0);
    return { rss, threads };
  } catch {
    return null; // exited meanwhile
  }
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function procStats(root: number): ProcStats {
  const kids = descendants(root);
  const pids = [root, ...kids];
  let rss = 0;
  let fds = 0;
  let threads = 0;
  let rootRss = 0;
  let rootThreads = 0;
  let children = 0;
  for (const pid of pids) {
    const st = status(pid);
    if (!st) continue;
    if (pid === root) {
      rootRss = st.rss;
      rootThreads = st.threads;
    } else if (st.threads > 0) children++;
    rss += st.rss;
    threads += st.threads;
    fds += fdCount(pid);
  }
  return { pids, children, rss, rootRss, fds, threads, rootThreads };
}

/** Polls until `ok(stats)` holds or `timeoutMs` passes; returns the last sample and whether it held. */
export async function waitFor(
  root: number,
  ok: (s: ProcStats) => boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<{ stats: ProcStats; ok: boolean; ms: number }> {
  const started = performance.now();
  for (;;) {
    const stats = procStats(root);
    const ms = performance.now() - started;
    if (ok(stats)) return { stats, ok: true, ms };
    if (ms >= timeoutMs) return { stats, ok: false, ms };
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const MiB = 1024 * 1024;
