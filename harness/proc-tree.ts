// What a server and everything it started cost, read from the OS (/proc on Linux), with no
// endpoint in the server: CPU time, memory, open fds, threads and child processes of a pid
// tree. The one place bench/, reliability/ and test/ read process statistics from.
//
// RSS, everywhere in this project, means **VmRSS** from /proc/<pid>/status: resident anonymous
// + file-backed + shared-memory pages, summed over the live (non-zombie) processes of the tree.
// /proc/<pid>/stat field 24 counts the same pages but reads the kernel's per-CPU counters
// without folding them (6.x kernels), so it lags VmRSS by up to a few hundred KiB per process;
// it is not used.
//
// CPU of the tree at an instant =
//     root utime + stime            (every thread of the root process, live or exited)
//   + root cutime + cstime          (children the root has reaped: their threads, and whatever
//                                    they had reaped in turn)
//   + Σ over live descendants of (utime + stime + cutime + cstime)
// A child that exits during the window moves from the third term to the second when Node reaps
// it (libuv waits for its children), so the difference between two readings counts it exactly
// once. Node's worker threads are threads of the root, so they are in the first term.
// Known race: a child reaped between reading it and reading its parent can be counted twice or
// missed in that one reading; the error is bounded by that child's CPU, and is rare.
//
// The tree is built from every process's parent pid (/proc/<pid>/stat), not from
// /proc/<pid>/task/<tid>/children: that file needs CONFIG_PROC_CHILDREN (present on this VM's
// kernel, absent on others) and lists only children of that one thread.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const CLK_TCK = sysconf('CLK_TCK', 100);
export const MiB = 1024 * 1024;

function sysconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

export const procAvailable = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

export interface ProcStat {
  pid: number;
  ppid: number;
  /** R, S, D, Z (zombie: exited, not reaped), X … */
  state: string;
  /** Clock ticks. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  threads: number;
  /** Clock ticks after boot when it started: with the pid, identifies the process. */
  starttime: number;
}

/** Fields of /proc/<pid>/stat from field 3 (state) on: f[k − 3] is field k. */
function statFields(pid: number): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Parses /proc/<pid>/stat; null if the process is gone. */
export function readStat(pid: number): ProcStat | null {
  const f = statFields(pid);
  if (!f) return null;
  return {
    pid,
    state: f[0]!,
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    cutime: Number(f[13]),
    cstime: Number(f[14]),
    threads: Number(f[17]),
    starttime: Number(f[19]),
  };
}

/** The process runs (exists and is not a zombie). */
export function isAlive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** `VmRSS` (see the header) and `RssAnon` of one process in bytes; null if it is gone or a zombie. */
export function memoryOf(pid: number): { rss: number; anon: number } | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const rss = /VmRSS:\s+(\d+) kB/.exec(s);
  if (!rss) return null; // a zombie has no memory lines
  return { rss: Number(rss[1]) * 1024, anon: Number(/RssAnon:\s+(\d+) kB/.exec(s)?.[1] ?? 0) * 1024 };
}

export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Process `pid`'s threads now, counted by OS thread name (/proc/<pid>/task/<tid>/comm); {} if it is gone. */
export function threadNames(pid: number): Record<string, number> {
  const names: Record<string, number> = {};
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return names;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim();
      names[name] = (names[name] ?? 0) + 1;
    } catch {
      /* the thread ended while we looked */
    }
  }
  return names;
}

/** How many threads of process `pid` carry this OS thread name now. */
export function threadsNamed(pid: number, name: string): number {
  return threadNames(pid)[name] ?? 0;
}

/** Per root: the last pid handed out when its tree was last read, and roots seen after a wrap. */
const lastPidFor = new Map<number, number>();
const wrappedRoots = new Set<number>();

/**
 * Whether a descendant of `root` may have a smaller pid than root's: the kernel does not say what
 * it handed out last (`last` null), or the counter has wrapped since root started (last below
 * root's pid) or since the previous reading of this tree (`previous`).
 */
export function pidsMayBeBelow(root: number, last: number | null, previous: number | undefined): boolean {
  return last === null || last < root || (previous !== undefined && last < previous);
}

/** The last pid handed out in this pid namespace, or null where the kernel does not say. */
function lastPid(): number | null {
  try {
    const n = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'latin1'));
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Every live process's children, by parent pid (one scan of /proc), among pids above `above`. */
function childrenByParent(above = 0): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= above) continue;
    const ppid = Number(statFields(pid)?.[1] ?? -1);
    if (ppid <= 0) continue;
    let list = byParent.get(ppid);
    if (!list) byParent.set(ppid, (list = []));
    list.push(pid);
  }
  return byParent;
}

/** Direct children of `pid` (zombies included), ascending. */
export function childrenOf(pid: number): number[] {
  return [...(childrenByParent().get(pid) ?? [])].sort((a, b) => a - b);
}

/** Zombie children of `pid` (exited, not reaped). */
export function zombiesOf(pid: number): number[] {
  return childrenOf(pid).filter((c) => statFields(c)?.[0] === 'Z');
}

/** Every descendant of `root` (children, grandchildren, …; zombies included), breadth first. */
export function descendants(root: number): number[] {
  // The benchmark samples a server's tree through a cell, and reading every process's stat cost
  // 1.5–2.6 ms a time here, on whichever CPU the sampler ran: the server's or the load
  // generator's (a stall in the very tail being measured). The kernel hands out pids in rising
  // order until they wrap at pid_max, so a descendant of `root` has a larger pid than root's,
  // unless the counter wrapped since root started; the last pid handed out is then below root's,
  // and every process is read. pid_max is 32768 here, and a process-per-connection server can
  // wrap it within minutes and climb past root's pid again: so a root once seen wrapped is read
  // in full for good (read every 500 ms or so, a wrap cannot pass unseen: that is 32,768 new processes between two readings).
  const last = lastPid();
  if (pidsMayBeBelow(root, last, lastPidFor.get(root))) wrappedRoots.add(root);
  if (lastPidFor.size > 10_000) lastPidFor.clear(); // a bound, not a cache policy: thousands of servers
  if (wrappedRoots.size > 10_000) wrappedRoots.clear();
  if (last !== null) lastPidFor.set(root, last);
  const byParent = childrenByParent(wrappedRoots.has(root) ? 0 : root);
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** A snapshot of a tree: what `make reliability` and the tests check (no CPU). */
export interface ProcStats {
  /** pids in the tree, the root first. */
  pids: number[];
  /** Live child processes below the root (all depths). */
  children: number;
  /** Σ RSS (VmRSS) over the tree, bytes. */
  rss: number;
  /** The root's RSS alone, bytes. */
  rootRss: number;
  /** Σ RssAnon over the tree, bytes: heap and stacks, without mapped files. */
  anon: number;
  /** Σ open file descriptors over the tree. */
  fds: number;
  /** Σ OS threads over the tree. */
  threads: number;
  /** Threads of the root process alone. */
  rootThreads: number;
}

export function procStats(root: number): ProcStats {
  const pids = [root, ...descendants(root)];
  const s: ProcStats = { pids, children: 0, rss: 0, rootRss: 0, anon: 0, fds: 0, threads: 0, rootThreads: 0 };
  for (const pid of pids) {
    const mem = memoryOf(pid);
    const stat = mem && readStat(pid);
    if (!mem || !stat) continue; // exited meanwhile, or a zombie
    if (pid === root) {
      s.rootRss = mem.rss;
      s.rootThreads = stat.threads;
    } else s.children++;
    s.rss += mem.rss;
    s.anon += mem.anon;
    s.threads += stat.threads;
    s.fds += fdCount(pid);
  }
  return s;
}

/** Polls until `ok(stats)` holds or `timeoutMs` passes; returns the last sample and whether it held. */
export async function waitForTree(
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

// ── CPU over a window (the benchmark's accounting) ─────────────────────────────────────────

export interface TreeSample {
  /** Wall clock of the reading (performance.now() ms). */
  at: number;
  /** CPU µs of the tree so far (see the header comment). */
  cpuUs: number;
  /** Σ RSS (VmRSS) of the live processes of the tree. */
  rssBytes: number;
  /** Live processes in the tree, root included. */
  processes: number;
  /** false once the root has exited. */
  alive: boolean;
}

/** One reading of the tree rooted at `root`; `seen` collects every descendant (pid → start time). */
export function sampleTree(root: number, seen?: Map<number, number>): TreeSample {
  const at = performance.now();
  const kids = descendants(root).map(readStat).filter((s): s is ProcStat => s !== null);
  if (seen) for (const k of kids) seen.set(k.pid, k.starttime);
  const top = readStat(root);
  let ticks = 0;
  let rss = 0;
  let live = 0;
  for (const s of top ? [top, ...kids] : kids) {
    ticks += s.utime + s.stime + s.cutime + s.cstime;
    if (s.state === 'Z') continue;
    live++;
    rss += memoryOf(s.pid)?.rss ?? 0;
  }
  return { at, cpuUs: (ticks * 1e6) / CLK_TCK, rssBytes: rss, processes: live, alive: top !== null && top.state !== 'Z' };
}

/** Average cores the tree used between two readings (null without both, or out of order). */
export function coresBetween(a: TreeSample | null, b: TreeSample | null): number | null {
  if (!a || !b || b.at <= a.at) return null;
  return Math.max(0, b.cpuUs - a.cpuUs) / 1000 / (b.at - a.at);
}

/** Samples a tree every `intervalMs` so the peak RSS between resetPeak() calls is known. */
export class TreeSampler {
  readonly root: number;
  #timer: NodeJS.Timeout | null = null;
  #peakRss = 0;
  #peakProcesses = 0;
  last: TreeSample;
  /** Every descendant ever seen (pid → start time), so none can outlive the cell unnoticed. */
  readonly seen = new Map<number, number>();

  constructor(root: number, intervalMs = 150) {
    this.root = root;
    this.last = sampleTree(root, this.seen);
    this.#observe(this.last);
    this.#timer = setInterval(() => this.#observe(sampleTree(root, this.seen)), intervalMs);
    this.#timer.unref();
  }

  #observe(s: TreeSample): void {
    this.last = s;
    if (s.rssBytes > this.#peakRss) this.#peakRss = s.rssBytes;
    if (s.processes > this.#peakProcesses) this.#peakProcesses = s.processes;
  }

  /** A fresh reading now; also folds into the peaks. */
  sample(): TreeSample {
    const s = sampleTree(this.root, this.seen);
    this.#observe(s);
    return s;
  }

  /** Restarts peak tracking (e.g. at the start of the measured window). */
  resetPeak(): void {
    this.#peakRss = 0;
    this.#peakProcesses = 0;
    this.sample();
  }

  get peakRssBytes(): number {
    return this.#peakRss;
  }
  get peakProcesses(): number {
    return this.#peakProcesses;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

/** pid → start time of every descendant of `root` now: what killLeftovers() may kill later. */
export function snapshotTree(root: number): Map<number, number> {
  const seen = new Map<number, number>();
  for (const pid of descendants(root)) {
    const s = readStat(pid);
    if (s) seen.set(pid, s.starttime);
  }
  return seen;
}

/**
 * SIGKILLs the processes in `seen` that still run: only the very processes recorded (same pid
 * and same start time), never a pid the system has since given to someone else.
 * Returns how many were killed.
 */
export function killLeftovers(seen: Map<number, number>): number {
  let killed = 0;
  for (const [pid, starttime] of seen) {
    const now = readStat(pid);
    if (!now || now.starttime !== starttime || now.state === 'Z') continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      /* gone meanwhile */
    }
  }
  return killed;
}

/**
 * Per process of the tree rooted at `root`: its fds, and its threads by OS thread name — what a
 * "not back to baseline" check prints, so a leak names the process and the thread it left.
 */
export function treeBreakdown(root: number): { pid: number; fds: number; threads: Record<string, number> }[] {
  return [root, ...descendants(root)].map((pid) => ({ pid, fds: fdCount(pid), threads: threadNames(pid) }));
}
