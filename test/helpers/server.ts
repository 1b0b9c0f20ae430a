// Starts the real CLI (`node src/cli.ts serve …`) as a child process on 127.0.0.1, port 0,
// and reads the port it announces. Every server started here is stopped after its test file.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface TestServer {
  port: number;
  pid: number;
  proc: ChildProcess;
  /** Everything the server wrote to stderr so far (structured logs). */
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then wait for exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | string>;
}

const running = new Set<ChildProcess>();
afterAll(async () => {
  for (const p of running) p.kill('SIGKILL');
});

export async function startServer(model: string, flags: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  // Quiet by default; a test that reads the logs passes its own --log-level (yargs turns a
  // repeated flag into an array, so never pass it twice).
  const quiet = flags.includes('--log-level') ? [] : ['--log-level', 'warn'];
  const proc = spawn(process.execPath, [CLI, 'serve', '--model', model, '--port', '0', ...quiet, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  running.add(proc);
  let err = '';
  let out = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? signal ?? -1);
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 15 s; stderr:\n${err}`)), 15_000);
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
      reject(new Error(`server exited (${code}) before listening; stderr:\n${err}`));
    });
  });
  return {
    port,
    pid: proc.pid!,
    proc,
    stderr: () => err,
    exited,
    async stop(timeoutMs = 15_000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
