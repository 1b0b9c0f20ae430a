// Servers under test, each a separate process: started on 127.0.0.1 port 0, ready once it
// prints its "listening on HOST:PORT" line, stopped with SIGTERM (SIGKILL after a deadline).
// The one start/stop of the benchmark (bench/server-proc.ts adds its reference servers), the
// tests and `make reliability`. A process started here is SIGKILLed if it never listens, and
// if this process exits first.
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelStats } from '../src/models/model.ts';
import { killLeftovers, procAvailable, procStats, snapshotTree, type ProcStats } from './proc-tree.ts';

export const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

export interface ServerProcess {
  host: string;
  port: number;
  pid: number;
  proc: ChildProcess;
  /** The command line it was started with. */
  command: readonly string[];
  /** The line on stdout that said it listens (serve: also names the admin URL, if any). */
  listeningLine: string;
  /** What it wrote to stderr so far (up to the cap it was started with). */
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Exit code or signal once it has exited, else null. */
  exitStatus(): number | string | null;
  /** True while the process has not exited. */
  alive(): boolean;
  /** Its process tree now (RSS, fds, threads, children). */
  stats(): ProcStats;
  /**
   * SIGTERM (unless it already exited), wait; SIGKILL after `timeoutMs`. Resolves with the exit
   * code or signal. `killLeftovers`: also SIGKILL whatever of its tree (as seen just before the
   * signal) still runs afterwards — for the benchmark, whose next cell must start clean. Tests
   * that check the server reaps its own children leave it off.
   */
  stop(timeoutMs?: number, o?: { killLeftovers?: boolean }): Promise<number | string>;
  /** SIGKILL and wait. */
  kill(): Promise<number | string>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
  /** Names it in errors. */
  name?: string;
  stderrCap?: number;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/**
 * For a command-line runner (bench, recommend, bench-ci, bench-validate): on SIGINT or SIGTERM,
 * kill every server it started and exit 128 + the signal's number, as a shell expects. Without
 * it, Node dies at the signal without an 'exit' event and the servers are left behind.
 */
export function killServersOnSignal(): void {
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
    process.once(sig, () => {
      for (const p of running) p.kill('SIGKILL');
      process.exit(128 + n);
    });
  }
}

/** Every server process started here that has not exited yet (test teardown kills them). */
export function runningServers(): ReadonlySet<ChildProcess> {
  return running;
}

/** The admin URL a server started with `--admin-port` printed on its serve line. */
export function adminUrlOf(server: Pick<ServerProcess, 'listeningLine'>): string {
  const m = /admin (http:\/\/\S+)/.exec(server.listeningLine);
  if (!m) throw new Error(`no admin URL in the serve line (started without --admin-port?): ${server.listeningLine}`);
  return m[1]!;
}

/** GET /stats of a server's admin endpoint: the model's ModelStats (lifecycle included). */
export async function adminStats(url: string, timeoutMs = 5000): Promise<ModelStats> {
  const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}/stats: HTTP ${res.status}`);
  return (await res.json()) as ModelStats;
}

/** Starts `command` and resolves once it prints its listening line. */
export async function spawnServer(command: readonly string[], o: SpawnOptions = {}): Promise<ServerProcess> {
  const { env = {}, startTimeoutMs = 20_000, name = 'server', stderrCap = 1_000_000 } = o;
  // With Node's compile cache (as bin/switchboard and the Makefile set it): a server starts in
  // about half the time, which tests and benchmark cells pay at every start.
  const cache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'node-compile-cache');
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { NODE_COMPILE_CACHE: cache, ...process.env, ...env } });
  running.add(proc);
  let err = '';
  let out = '';
  let line = '';
  let status: number | string | null = null;
  proc.stderr!.on('data', (d) => {
    if (err.length < stderrCap) err += d;
  });
  proc.on('error', (e) => (err += `\nspawn failed: ${e.message}`));
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      status = code ?? signal ?? -1;
      resolve(status);
    }),
  );
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not print its listening line within ${startTimeoutMs} ms; stderr:\n${err.slice(-2000)}`)), startTimeoutMs);
      proc.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on \S+:(\d+)/.exec(out);
        if (m) line = out.slice(0, out.indexOf('\n', m.index) < 0 ? undefined : out.indexOf('\n', m.index)).split('\n').at(-1)!;
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code}) before listening; stderr:\n${err.slice(-2000)}`));
      });
    });
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  const pid = proc.pid!;
  return {
    host: '127.0.0.1',
    port,
    pid,
    proc,
    command,
    listeningLine: line,
    stderr: () => err,
    exited,
    exitStatus: () => status,
    alive: () => status === null,
    stats: () => procStats(pid),
    async stop(timeoutMs = 15_000, { killLeftovers: reap = false } = {}) {
      // Note the tree first: children of a server that dies hard must not outlive it.
      const tree = reap && procAvailable ? snapshotTree(pid) : null;
      if (status === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      if (tree) killLeftovers(tree);
      return code;
    },
    async kill() {
      if (status === null) proc.kill('SIGKILL');
      return exited;
    },
  };
}

/** The `serve` command line of a model on 127.0.0.1, any free port. */
export function modelCommand(model: string, flags: readonly string[] = [], cli = CLI): string[] {
  // Quiet unless the caller asks for logs (yargs keeps the last of a repeated flag, but a
  // caller reading `--log-level info` output should not depend on that).
  const quiet = flags.includes('--log-level') ? [] : ['--log-level', 'warn'];
  return [process.execPath, cli, 'serve', '--model', model, '--host', '127.0.0.1', '--port', '0', ...quiet, ...flags];
}

/** Starts the real CLI serving a variant (its flags, then `flags`). */
export function startModelServer(variant: { model: string; flags: readonly string[] }, flags: readonly string[] = [], o: SpawnOptions = {}): Promise<ServerProcess> {
  return spawnServer(modelCommand(variant.model, [...variant.flags, ...flags]), { name: `switchboard serve --model ${variant.model}`, ...o });
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
