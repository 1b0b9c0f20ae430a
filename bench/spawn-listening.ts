// Starts a server process and waits for the line it prints once it listens ("listening on
// host:port"): the start-up handshake of the CLI and of the reference servers. One place for
// the benchmark (bench/server-proc.ts), the tests (test/helpers/server.ts) and `make reliability`
// (reliability/lib.ts). A process started here is SIGKILLed if it never listens, and if this
// process exits first.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Listening {
  proc: ChildProcess;
  port: number;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** What it wrote to stderr so far (up to `stderrCap` characters). */
  stderr(): string;
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

export async function spawnListening(command: readonly string[], o: SpawnOptions = {}): Promise<Listening> {
  const { env = {}, startTimeoutMs = 20_000, name = 'server', stderrCap = 1_000_000 } = o;
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  running.add(proc);
  let err = '';
  let out = '';
  proc.stderr!.on('data', (d) => {
    if (err.length < stderrCap) err += d;
  });
  proc.on('error', (e) => (err += `\nspawn failed: ${e.message}`));
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? signal ?? -1);
    }),
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not print its listening line within ${startTimeoutMs} ms; stderr:\n${err.slice(-2000)}`)), startTimeoutMs);
      proc.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on \S+:(\d+)/.exec(out);
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
    return { proc, port, exited, stderr: () => err };
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
}
