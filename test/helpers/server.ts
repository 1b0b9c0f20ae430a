// Starts the real CLI (`node src/cli.ts serve …`) as a child process on 127.0.0.1, port 0,
// and reads the port it announces. Every server started here is stopped after its test file.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { spawnListening } from '../../bench/spawn-listening.ts';

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
  const { proc, port, exited, stderr } = await spawnListening([process.execPath, CLI, 'serve', '--model', model, '--port', '0', ...quiet, ...flags], { env, startTimeoutMs: 15_000 });
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return {
    port,
    pid: proc.pid!,
    proc,
    stderr,
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
