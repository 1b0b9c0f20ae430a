// The real CLI (`node src/cli.ts serve …`) as a child process on 127.0.0.1, port 0 (started by
// the harness, harness/server.ts). A server started inside a test is stopped when that test
// finishes, passed or failed (onTestFinished), so a failing assertion never leaves it running
// into the next test; one started in a hook is stopped after its file (afterAll).
import { afterAll, onTestFinished } from 'vitest';
import { runningServers, startModelServer, type ServerProcess } from '../../harness/server.ts';

export { CLI } from '../../harness/server.ts';
export type TestServer = ServerProcess;

afterAll(() => {
  for (const p of runningServers()) p.kill('SIGKILL');
});

export async function startServer(model: string, flags: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  const server = await startModelServer({ model, flags }, [], { env, startTimeoutMs: 15_000 });
  try {
    onTestFinished(async () => {
      await server.stop(5000);
    });
  } catch {
    /* not inside a test (a beforeAll/beforeEach hook): the file's afterAll stops it */
  }
  return server;
}
