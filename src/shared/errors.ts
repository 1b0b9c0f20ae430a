// Every error a peer can see travels as an ERROR frame whose text starts with one of these codes
// (docs/PROTOCOL.md). They are stable: clients match on them, so never rename one.
export const ERROR_CODES = [
  'E_UNKNOWN_OP',
  'E_BAD_ARGS',
  'E_TOO_LARGE',
  'E_BAD_FRAME',
  'E_BUSY',
  'E_SHUTTING_DOWN',
  'E_TIMEOUT',
  'E_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/**
 * The code a thrown value should be answered with: its own when it carries a protocol code
 * (a ProtocolError, or any error with `code: 'E_…'` — e.g. from a handler that does not import
 * this module, or an error rebuilt after crossing a thread boundary), else E_INTERNAL.
 */
export function errorCodeOf(err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? code : 'E_INTERNAL';
}

const kProtocolError = Symbol.for('switchboard.ProtocolError');

/**
 * An error meant for the peer. Handlers throw it to answer with a specific code
 * (`throw new ProtocolError('E_BAD_ARGS', 'n must be ≥ 1')`); anything else a handler
 * throws becomes `E_INTERNAL`. Branded with Symbol.for so `instanceof` holds across
 * module copies (a handler loaded by path may import its own copy of this file).
 */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
  get [kProtocolError]() {
    return true;
  }
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kProtocolError] === true;
  }
}

/**
 * Codes of SwitchboardError: failures of the server itself, for the code that called it (never
 * sent to a peer as such). Callers switch on them (the CLI: ERR_INVALID_OPTION is bad usage,
 * anything else a failed start), so never rename one.
 */
export type SwitchboardErrorCode =
  /** An option (or flag) has a bad value, names an unknown model, or is unknown. */
  | 'ERR_INVALID_OPTION'
  /** A model or connection host used out of order (start() twice, serve() before load()). */
  | 'ERR_MODEL_STATE'
  /** The handler module cannot be imported. */
  | 'ERR_HANDLER_LOAD'
  /** The handler module exports neither handle() nor a default function. */
  | 'ERR_HANDLER_EXPORT'
  /** A handler threw a plain error in another thread; the connection answers it E_INTERNAL. */
  | 'ERR_HANDLER_FAILED'
  /** No worker thread of the model could start (the handler fails there, a crash at start-up). */
  | 'ERR_THREAD_START'
  /** No child process of the model could start. */
  | 'ERR_PROCESS_START'
  /** A shared-memory ring (ring.ts) made with a bad capacity, or handed a message it can never hold. */
  | 'ERR_RING_SIZE';

/** Errors of the server itself (bad options, lifecycle misuse, start-up), with a code for callers to switch on. */
export class SwitchboardError extends Error {
  readonly code: SwitchboardErrorCode;
  constructor(code: SwitchboardErrorCode, message: string) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
  }
}
