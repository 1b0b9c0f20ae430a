// Entry of every child forked by the `process` and `process-pool` models (run by Node directly
// via child_process.fork). A thin adapter from the IPC channel onto ConnectionHost:
//
//   parent ── startup ──▶ child      load the handler
//   parent ◀── ready ──── child
//   parent ── connection{id} + socket handle ──▶ child    serve it on this event loop
//   parent ◀── closed{id, summary} ── child
//   parent ── drain ──▶ child        finish every connection, flush IPC, exit 0
//
// The socket arrives as a handle over the IPC channel (SCM_RIGHTS), so this process reads and
// writes it directly. If the channel disconnects (the parent died, even by SIGKILL) the child
// drains briefly and exits on its own: no orphans.
//
// Imports only from src/shared/.
import { flushCompileCache } from 'node:module';
import type { Socket } from 'node:net';
import { ConnectionHost } from '../shared/connection-host.ts';
import type { ConnectionSummary } from '../shared/connection.ts';
import { isMessage, type AdmittedMessage, type ClosedMessage, type ConnectionMessage, type FromWorker, type StartupMessage } from '../shared/ipc.ts';
import type { Logger } from '../shared/log.ts';

/** After the parent is gone, connections get this long to finish before we exit anyway. */
const ORPHAN_DRAIN_MS = 1_000;

if (typeof process.send !== 'function') {
  console.error('process.child.ts is the entry of a forked child; run `switchboard serve --model process|process-pool`');
  process.exit(2);
}

let host: ConnectionHost | null = null;
let startup: StartupMessage | null = null;

/** The logger loads on first use: pino is a large share of a child's start-up time and memory. */
async function log(level: 'warn' | 'error', obj: object, msg: string): Promise<void> {
  const { createLogger } = await import('../shared/log.ts');
  const logger: Logger = createLogger(startup?.logLevel ?? 'info', { model: startup?.model, role: 'child' });
  logger[level](obj, msg);
}
let exiting = false;
/** Sends this child's last metrics report (set once the handler has loaded). */
let sendFinalMetrics: (() => void) | null = null;
let unsent = 0; // IPC messages not yet written: exiting before they are would lose them
let onFlushed: (() => void) | null = null;

function send(message: FromWorker): void {
  if (!process.connected) return;
  unsent++;
  process.send!(message, undefined, {}, () => {
    if (--unsent === 0) onFlushed?.();
  });
}

function flushed(): Promise<void> {
  if (unsent === 0 || !process.connected) return Promise.resolve();
  return new Promise((resolve) => (onFlushed = resolve));
}

async function start(msg: StartupMessage): Promise<void> {
  startup = msg;
  host = new ConnectionHost({ model: msg.model, handlerUrl: msg.handlerUrl, limits: msg.limits, ask: send });
  try {
    await host.load();
  } catch (err) {
    await log('error', { err }, 'child could not load the handler');
    process.exit(1);
  }
  sendFinalMetrics = host.reportMetrics((snapshot, final) => send({ type: 'metrics', snapshot, final }));
  send({ type: 'ready' });
  // Write the compile cache now (not at exit, which a SIGKILL skips) so the next child starts warm.
  setImmediate(() => flushCompileCache?.());
}

function serve(msg: ConnectionMessage, socket: Socket | undefined): void {
  const id = msg.id;
  const report = (summary: ConnectionSummary) => send({ type: 'closed', id, summary } satisfies ClosedMessage);
  // The handle can be lost in transit (the peer reset before it arrived): report it closed.
  if (!host || !socket || typeof socket.write !== 'function') {
    if (socket && typeof socket.destroy === 'function') socket.destroy();
    report({ requests: 0, errors: 0, reason: 'reset' });
    return;
  }
  void host.serve(socket, id).then(report);
}

async function drainAndExit(limitMs: number | null): Promise<void> {
  if (exiting) return;
  exiting = true;
  if (host) {
    const drained = host.drain();
    if (limitMs === null) await drained;
    else {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, limitMs)))]);
      clearTimeout(timer);
      host.destroyAll();
    }
  }
  // host.drain() settles a microtask before the last connection's `closed` is queued: let it go out.
  await new Promise((r) => setImmediate(r));
  sendFinalMetrics?.();
  await flushed();
  process.exit(0);
}

process.on('message', (msg: unknown, handle: unknown) => {
  if (isMessage<ConnectionMessage>(msg, 'connection')) serve(msg, handle as Socket | undefined);
  else if (isMessage<StartupMessage>(msg, 'startup')) void start(msg);
  else if (isMessage(msg, 'drain')) void drainAndExit(null);
  else if (isMessage(msg, 'ping')) send({ type: 'pong' });
  else if (isMessage<AdmittedMessage>(msg, 'admitted')) host?.admitted(msg);
});

// Parent gone (exited, crashed, SIGKILLed): nobody will send a drain; finish briefly and leave.
process.on('disconnect', () => {
  if (!exiting) void log('warn', {}, 'parent disconnected; draining and exiting');
  void drainAndExit(ORPHAN_DRAIN_MS);
});

// Ctrl+C reaches the whole process group; the parent decides when children drain.
process.on('SIGINT', () => {});
// A SIGTERM aimed at this child alone: drain like the parent would ask.
process.on('SIGTERM', () => void drainAndExit(null));
