// CPU time and memory of a whole process tree, read from the OS (/proc on Linux).
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
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const CLK_TCK = sysconf('CLK_TCK', 100);
export const PAGE_SIZE = sysconf('PAGESIZE', 4096);

function sysconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

export interface ProcStat {
  pid: number;
  ppid: number;
  state: string;
  /** Clock ticks. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  rssBytes: number;
  /** Clock ticks after boot when it started: with the pid, identifies the process. */
  starttime: number;
}

export const procAvailable = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** Parses /proc/<pid>/stat; null if the process is gone. */
export function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state); field k is f[k − 3].
  return {
    pid,
    state: f[0]!,
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    cutime: Number(f[13]),
    cstime: Number(f[14]),
    rssBytes: Number(f[21]) * PAGE_SIZE,
    starttime: Number(f[19]),
  };
}

/** Every live descendant of `root` (children, grandchildren, …), by scanning /proc. */
export function descendants(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue;
    }
    const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ', 2)[1]);
    let list = byParent.get(ppid);
    if (!list) byParent.set(ppid, (list = []));
    list.push(pid);
  }
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

export interface TreeSample {
  /** Wall clock of the reading (performance.now() ms). */
  at: number;
  /** CPU µs of the tree so far (see the header comment). */
  cpuUs: number;
  /** Σ resident set size of the live processes of the tree. */
  rssBytes: number;
  /** Live processes in the tree, root included. */
  processes: number;
  /** false once the root has exited. */
  alive: boolean;
}

/** One reading of the tree rooted at `root`. */
export function sampleTree(root: number, seen?: Map<number, number>): TreeSample {
  const at = performance.now();
  const kids = descendants(root).map(readStat).filter((s): s is ProcStat => s !== null);
  if (seen) for (const k of kids) seen.set(k.pid, k.starttime);
  const top = readStat(root);
  let ticks = 0;
  let rss = 0;
  for (const s of top ? [top, ...kids] : kids) {
    ticks += s.utime + s.stime + s.cutime + s.cstime;
    if (s.state !== 'Z') rss += s.rssBytes;
  }
  return { at, cpuUs: (ticks * 1e6) / CLK_TCK, rssBytes: rss, processes: (top ? 1 : 0) + kids.length, alive: top !== null && top.state !== 'Z' };
}

/** Samples a tree every `intervalMs` so the peak RSS between mark() calls is known. */
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
