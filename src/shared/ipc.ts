// Messages between the accept loop's side (main thread / parent process) and the threads or
// children that serve connections. One file holds every message shape so both sides agree.
// Sockets never appear inside a message body: they travel in the transfer list
// (worker_threads) or as the sendHandle (child_process) beside it.
import type { ConnectionLimits } from './config.ts';
import type { ConnectionSummary } from './connection.ts';

/** Sent once, right after a worker/child starts: what to serve and how. */
export interface StartupMessage {
  type: 'startup';
  model: string;
  handlerUrl: string;
  limits: ConnectionLimits;
  logLevel: string;
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

export type ToWorker = StartupMessage | ConnectionMessage | DrainMessage;
export type FromWorker = ReadyMessage | ClosedMessage;

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
