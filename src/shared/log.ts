// Structured logs: one JSON line per event on stderr (pino). The hot path logs nothing above
// debug; workers and children create their own logger with the same fields plus where they run.
import { pino, type Logger } from 'pino';
import { threadId } from 'node:worker_threads';

export type { Logger };

export function createLogger(level = 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino(
    { level, base: { pid: process.pid, ...(threadId ? { threadId } : {}), ...bindings } },
    // Synchronous stderr: logs are rare, must not be lost on exit, and must work in any thread.
    pino.destination({ fd: 2, sync: true }),
  );
}
