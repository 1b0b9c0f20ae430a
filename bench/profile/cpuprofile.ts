// Reading V8 .cpuprofile files (node --cpu-prof) of a server run: which thread or process each
// file is, the samples inside a time window, and where that time went — self time per frame and
// per module, and inclusive time per function of this project's own code. Pure functions over
// parsed profiles; bench/profile/run.ts produces the files and prints the tables.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of Node's .cpuprofile (V8 Profiler.Profile) read here. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  /** µs, V8's monotonic clock (CLOCK_MONOTONIC on Linux: the clock of process.hrtime). */
  startTime: number;
  endTime: number;
  samples: number[];
  /** µs between consecutive samples; timeDeltas[i] ends at sample i. */
  timeDeltas: number[];
}

export interface ProfileFile {
  file: string;
  pid: number;
  /** Node's threadId: 0 = the main thread, else a worker thread. */
  tid: number;
  profile: CpuProfile;
}

/** Node names them CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile. */
export function parseProfileName(name: string): { pid: number; tid: number } | null {
  const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(name);
  return m ? { pid: Number(m[1]), tid: Number(m[2]) } : null;
}

export function readProfiles(dir: string): ProfileFile[] {
  const out: ProfileFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const id = parseProfileName(name);
    if (!id) continue;
    out.push({ file: join(dir, name), ...id, profile: JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile });
  }
  return out;
}

export type Role = 'main thread' | 'worker threads' | 'child processes';

export function roleOf(f: Pick<ProfileFile, 'pid' | 'tid'>, serverPid: number): Role {
  if (f.pid !== serverPid) return 'child processes';
  return f.tid === 0 ? 'main thread' : 'worker threads';
}

/** V8's pseudo-frame for a thread with nothing to run. */
const IDLE = '(idle)';
/**
 * JS frames that block in Atomics.wait: V8 samples them as running, but the thread sleeps in a
 * futex and uses no CPU (piscina's pool threads park there between tasks). Counted as idle.
 */
const BLOCKED = new Set(['atomicsWaitLoop piscina']);

export interface Aggregate {
  /** Profiles that had samples in the window. */
  profiles: number;
  /** Sampled µs in the window, idle excluded. */
  busyUs: number;
  /** (idle), and frames blocked in Atomics.wait (BLOCKED). */
  idleUs: number;
  /** Self µs per frame ("fn file:line"). */
  self: Map<string, number>;
  /** Self µs per module (node:net, src/shared/connection.ts, piscina, (garbage collector), …). */
  modules: Map<string, number>;
  /** Inclusive µs per function of this project's code (src/, bench/, harness/): itself and all it calls. */
  ownInclusive: Map<string, number>;
}

export function emptyAggregate(): Aggregate {
  return { profiles: 0, busyUs: 0, idleUs: 0, self: new Map(), modules: new Map(), ownInclusive: new Map() };
}

/** A URL made short and stable: the checkout's path dropped, node_modules reduced to the package. */
export function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : `(native ${functionName || 'anonymous'})`;
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  const own = /\/((?:src|bench|harness|test|examples)\/.*)$/.exec(path);
  return own ? own[1]! : path;
}

const isOwn = (module: string) => /^(src|bench|harness|examples)\//.test(module);

const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

/**
 * Adds the samples of `p` that fall in [fromUs, toUs] (V8 monotonic µs; pass −∞/∞ for all) to `into`.
 * Returns the µs it added (idle included).
 */
export function aggregate(p: CpuProfile, into: Aggregate, fromUs = -Infinity, toUs = Infinity): number {
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = new Map<number, { frame: string; module: string; idle: boolean }>();
  for (const n of p.nodes) {
    const { functionName, url, lineNumber } = n.callFrame;
    const module = moduleOf(url, functionName);
    const idle = module === IDLE || BLOCKED.has(`${functionName} ${module}`);
    label.set(n.id, { frame: url ? `${functionName || '(anonymous)'} ${module}:${lineNumber + 1}` : module, module, idle });
  }
  // Per node: the µs its samples got in the window; then self and inclusive sums from those.
  const perNode = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) continue;
    perNode.set(p.samples[i]!, (perNode.get(p.samples[i]!) ?? 0) + dt);
  }
  let total = 0;
  for (const [id, us] of perNode) {
    total += us;
    const l = label.get(id)!;
    if (l.idle) {
      into.idleUs += us;
      continue;
    }
    into.busyUs += us;
    add(into.self, l.frame, us);
    add(into.modules, l.module, us);
    // Inclusive for our own functions: once per function per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const ln = label.get(n)!;
      if (isOwn(ln.module) && !seen.has(ln.frame)) {
        seen.add(ln.frame);
        add(into.ownInclusive, ln.frame, us);
      }
    }
  }
  if (total > 0) into.profiles++;
  return total;
}

/** The `k` largest entries, largest first. */
export function top(m: Map<string, number>, k: number): [string, number][] {
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
}
