// Building and running the independent C client (echo-client.c beside this file). The binary goes
// to .toolchain/validate/ (git-ignored with the rest of .toolchain/), rebuilt every run: it takes a
// fraction of a second and a stale binary would validate the wrong code.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinnedCommand } from '../placement.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SOURCE = fileURLToPath(new URL('./echo-client.c', import.meta.url));
export const BUILD_DIR = path.join(ROOT, '.toolchain/validate');
export const CFLAGS = ['-O2', '-Wall', '-Wextra', '-std=gnu11'];

/** What the C client prints (one JSON line). Latencies in µs, exact (every request is kept). */
export interface CClientResult {
  connections: number;
  payloadBytes: number;
  windowS: number;
  requests: number;
  throughput: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  errors: number;
  mismatches: number;
  activeConnections: number;
  cpuUserS: number;
  cpuSysS: number;
  unanswered: number;
  ageSamples: number;
  graceS: number;
  /** The same samples with the load generator's coordinated-omission correction (echo-client.c). */
  coIntervalUs: number;
  p50CoUs: number;
  p90CoUs: number;
  p99CoUs: number;
  p999CoUs: number;
}

/** `cc` and its version line, or null when there is no C compiler. */
export function findCompiler(): { cc: string; version: string } | null {
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter((x): x is string => !!x)) {
    try {
      const v = execFileSync(cc, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return { cc, version: v.split('\n')[0]!.trim() };
    } catch {
      /* not this one */
    }
  }
  return null;
}

/** Compiles the client; throws with the compiler's output on an error or a warning. */
export function buildClient(cc: string, outDir = BUILD_DIR): string {
  mkdirSync(outDir, { recursive: true });
  const bin = path.join(outDir, 'echo-client');
  const r = spawnSync(cc, [...CFLAGS, '-o', bin, SOURCE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const said = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  const what = `${cc} ${CFLAGS.join(' ')} ${path.relative(ROOT, SOURCE)}`;
  if (r.error || r.status !== 0) throw new Error(`${what} failed:\n${said || r.error?.message || `exit ${r.status ?? r.signal}`}`);
  // It must compile cleanly: a warning in a measuring instrument is a bug until shown otherwise.
  if (said) throw new Error(`${what} warned:\n${said}`);
  return bin;
}

export interface CClientSpec {
  host: string;
  port: number;
  connections: number;
  payloadBytes: number;
  warmupMs: number;
  durationMs: number;
  /** CPU list for taskset -c; undefined: not pinned. */
  cpus?: string;
  /** --busy-poll: never sleep in epoll_wait, as the load generator does on a CPU of its own. */
  busyPoll?: boolean;
}

/** Runs the client to completion; rejects on a non-zero exit, unparseable output or a hang. */
export function runCClient(bin: string | string[], s: CClientSpec): Promise<CClientResult> {
  const args = ['--host', s.host, '--port', String(s.port), '--connections', String(s.connections), '--payload', String(s.payloadBytes), '--warmup', String(s.warmupMs / 1000), '--duration', String(s.durationMs / 1000), ...(s.busyPoll ? ['--busy-poll'] : [])];
  const base = Array.isArray(bin) ? bin : [bin];
  const name = path.basename(base[base.length - 1]!);
  const command = pinnedCommand([...base, ...args], s.cpus);
  // Warm-up + window + at most 2 s grace, and connect time: anything far beyond is a hang.
  const deadlineMs = s.warmupMs + s.durationMs + 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${name} could not start: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${name} exited ${code ?? signal}${signal === 'SIGKILL' ? ` (no result within ${deadlineMs} ms)` : ''}: ${err.trim().slice(-500)}`));
      try {
        resolve(JSON.parse(out.trim()) as CClientResult);
      } catch {
        reject(new Error(`${name} printed no JSON line: ${out.slice(0, 300)}`));
      }
    });
  });
}
