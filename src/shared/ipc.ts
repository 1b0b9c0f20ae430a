// Messages between the accept loop's side (main thread / parent process) and the threads or
// children that serve connections. One file holds every message shape so both sides agree.
// Sockets never appear inside a message body: they travel in the transfer list
// (worker_threads) or as the sendHandle (child_process) beside it.
import type { ConnectionLimits } from './config.ts';
import type { ConnectionSummary, Refusal } from './connection.ts';

/** Sent once, right after a worker/child starts: what to serve and how. */
export interface StartupMessage {
  type: 'startup';
  model: string;
  handlerUrl: string;
  limits: ConnectionLimits;
  logLevel: string;
  /** worker_threads models: the stuck-thread watchdog's table (src/shared/heartbeat.ts). */
  heartbeat?: Int32Array;
}

/** main → worker/child: serve this connection (the socket travels beside the message). */
export interface ConnectionMessage {
  type: 'connection';
  id: number;
}

/** main → worker/child: finish your connections gracefully, then exit. */
export interface DrainMessage {
  type: 'drain';
}

/** worker/child → main: the handler is loaded, send connections. */
export interface ReadyMessage {
  type: 'ready';
}

/** worker/child → main: a connection ended. */
export interface ClosedMessage {
  type: 'closed';
  id: number;
  summary: ConnectionSummary;
}

/**
 * worker/child → main (--proxy-protocol with --max-connections-per-ip): may connection `id`,
 * whose PROXY header named `address`, be served? Only the accept loop counts clients.
 */
export interface AdmitMessage {
  type: 'admit';
  id: number;
  address: string;
}

/** main → worker/child: the answer to an AdmitMessage (refusal null: serve it). */
export interface AdmittedMessage {
  type: 'admitted';
  id: number;
  refusal: Refusal;
}

/** worker/child → main: this thread's live metrics (every second, and `final` before it exits). */
export interface MetricsMessage {
  type: 'metrics';
  snapshot: import('./metrics.ts').MetricsSnapshot;
  final: boolean;
}

// ── worker_threads models (thread, thread-pool, offload) ──────────────────────────────────
// worker_threads cannot send a handle "beside" a message: it must sit inside the posted value
// and in the transfer list. These shapes name that value; nothing else of the socket is read.

/** main → `thread` worker: serve this connection; `socket` is also in the transfer list. */
export interface ThreadConnectionMessage extends ConnectionMessage {
  socket: import('node:net').Socket;
}

/** workerData of every thread-pool worker: the startup message plus a shared drain flag. */
export interface PoolStartup extends StartupMessage {
  /** Int32Array over a SharedArrayBuffer; [0] = 1 once the server drains (seen by late-started workers too). */
  drainFlag: Int32Array;
  /** BroadcastChannel on which a DrainMessage wakes the workers already running. */
  drainChannel: string;
}

/**
 * thread-pool rolling restart, main → workers: thread `threadId` takes no new connection (the
 * balancer already skips it), exits once its connections have ended, and drains what is still
 * open after `graceMs`. Its replacement says PoolReadyMessage.
 */
export interface RetireMessage {
  type: 'retire';
  threadId: number;
  graceMs: number;
}

/** thread-pool worker → main: this thread has loaded the handler and takes connections. */
export interface PoolReadyMessage {
  type: 'pool-ready';
  threadId: number;
}

/** A thread-pool task: one connection (`socket` is in the transfer list), or the start-up ping. */
export type PoolTask = { type: 'connection'; id: number; socket: import('node:net').Socket } | { type: 'ping' };

/**
 * An offload pool thread's workerData: its two rings (src/shared/ring.ts), requests in and
 * answers out, whose messages offload-wire.ts encodes.
 */
export interface OffloadStartup extends StartupMessage {
  requests: SharedArrayBuffer;
  answers: SharedArrayBuffer;
  maxWork: number;
}

/**
 * Liveness: the parent pings a child every second; the child's event loop answers. A child that
 * stays silent longer than --request-timeout is stuck (a handler spinning the CPU) and is killed.
 */
export interface PingMessage {
  type: 'ping';
}
export interface PongMessage {
  type: 'pong';
}

export type ToWorker = StartupMessage | ConnectionMessage | DrainMessage | PingMessage | AdmittedMessage;
export type FromWorker = ReadyMessage | ClosedMessage | PongMessage | AdmitMessage | MetricsMessage;

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
