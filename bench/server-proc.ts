// What the benchmark runs against: a switchboard model (the real CLI), the bare Node reference
// echo, an echo server this project did not write (Python's socketserver), or a server already
// running elsewhere. Local ones are started and stopped by the harness (harness/server.ts:
// 127.0.0.1 port 0, ready at its "listening on" line, SIGTERM then SIGKILL); the benchmark also
// kills whatever of a server's tree outlives it, so the next cell starts clean.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelCommand, spawnServer } from '../harness/server.ts';
import { pinnedCommand } from './placement.ts';

export const REFERENCE = fileURLToPath(new URL('./reference-server.ts', import.meta.url));

export type TargetKind = 'model' | 'reference' | 'external' | 'remote';

export interface Target {
  /** Row name in the report: the model name, `node-net-echo`, `python-socketserver`, or a label. */
  name: string;
  kind: TargetKind;
  /** remote: where the server already runs (no process accounting unless `agents` are given). */
  host?: string;
  port?: number;
  /** remote: `switchboard agent` endpoints (HOST:PORT) on the server hosts, asked for server CPU and RSS. */
  agents?: string[];
  /** model: the src/cli.ts of another checkout to serve from (bench-ci's base build); default this one. */
  cli?: string;
}

export const REFERENCE_TARGET: Target = { name: 'node-net-echo', kind: 'reference' };
export const PYTHON_TARGET: Target = { name: 'python-socketserver', kind: 'external' };

/** A threaded, byte-transparent echo server from Python's standard library. */
export const PYTHON_ECHO = `
import socket, socketserver, signal, sys
class H(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            d = self.request.recv(262144)
            if not d:
                break
            self.request.sendall(d)
class S(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096
s = S(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0), H)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print('python socketserver echo listening on 127.0.0.1:%d' % s.server_address[1], flush=True)
s.serve_forever()
`;

export function pythonAvailable(): string | null {
  for (const py of ['python3', 'python']) {
    try {
      const v = execFileSync(py, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      if (v.startsWith('Python 3')) return py;
    } catch {
      /* not there */
    }
  }
  return null;
}

export interface RunningServer {
  host: string;
  port: number;
  /** null for a remote target. */
  pid: number | null;
  command: readonly string[];
  stderr(): string;
  /** Exit code or signal once it has exited, else null. */
  exitStatus(): number | string | null;
  stop(timeoutMs?: number): Promise<number | string | null>;
}

export function serverCommand(target: Target, flags: string[] = []): string[] {
  switch (target.kind) {
    case 'model':
      return modelCommand(target.name, flags, target.cli);
    case 'reference':
      return [process.execPath, REFERENCE, '--port', '0'];
    case 'external':
      return [pythonAvailable() ?? 'python3', '-c', PYTHON_ECHO];
    case 'remote':
      return [];
  }
}

/**
 * A fresh empty directory for one server's state, passed as SWITCHBOARD_STATE_DIR (a handler with
 * state — a database — keeps it there, so every server starts from nothing); remove() when done.
 */
export function freshStateDir(): { dir: string; env: NodeJS.ProcessEnv; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-state-'));
  return { dir, env: { SWITCHBOARD_STATE_DIR: dir }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startTarget(target: Target, flags: string[] = [], { startTimeoutMs = 20_000, env = {} as NodeJS.ProcessEnv, cpus = undefined as string | undefined } = {}): Promise<RunningServer> {
  if (target.kind === 'remote') {
    return {
      host: target.host!,
      port: target.port!,
      pid: null,
      command: [],
      stderr: () => '',
      exitStatus: () => null,
      stop: async () => null,
    };
  }
  const srv = await spawnServer(pinnedCommand(serverCommand(target, flags), cpus), { env, startTimeoutMs, name: target.name, stderrCap: 20_000 });
  return {
    host: srv.host,
    port: srv.port,
    pid: srv.pid,
    command: srv.command,
    stderr: srv.stderr,
    exitStatus: srv.exitStatus,
    stop: (timeoutMs = 5000) => srv.stop(timeoutMs, { killLeftovers: true }),
  };
}
