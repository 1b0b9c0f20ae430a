// The handler contract. A handler is a module, loaded by path in whichever thread or process
// serves the connection, exporting `handle` (or a default export) with this signature. It sees
// decoded requests only: no sockets, no framing, no idea which model runs it.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { SwitchboardError } from './errors.ts';

export interface HandlerContext {
  /** Name of the concurrency model serving this connection. */
  readonly model: string;
  readonly pid: number;
  readonly threadId: number;
  /** Server-wide sequence number of this connection (1, 2, 3, … in accept order). */
  readonly connection: number;
  /** Requests received on this connection so far, this one included. */
  readonly requests: number;
  /** Upper bound for WORK's iteration count (`--max-work`). */
  readonly maxWork: number;
  /**
   * The client as `address:port` (IPv6 in brackets): the TCP peer, or with --proxy-protocol the
   * source the PROXY header named ('' if the socket had already gone).
   */
  readonly peer: string;
}

export interface HandlerResult {
  op: number;
  payload: Uint8Array;
}

/** Whether a handler's answer can be framed: {op: 0..255, payload: Uint8Array} that fits a frame. */
export function isHandlerResult(result: unknown): result is HandlerResult {
  if (result === null || typeof result !== 'object') return false;
  const { op, payload } = result as Partial<HandlerResult>;
  return Number.isInteger(op) && op! >= 0 && op! <= 0xff && payload instanceof Uint8Array && payload.length + 1 <= 0xffff_ffff;
}

/**
 * Returns the response, or a promise of it. Throw a ProtocolError to answer with a specific
 * error code; anything else thrown (or rejected) is answered with E_INTERNAL and the connection
 * stays usable.
 */
export type Handler = (op: number, payload: Buffer, context: HandlerContext) => HandlerResult | Promise<HandlerResult>;

export const BUILTIN_HANDLER = new URL('./builtin-handler.ts', import.meta.url).href;

/**
 * Resolves a `--handler` argument (path relative to cwd, absolute path or URL) to a module URL.
 * A file: or data: URL is kept as given, query included, and every thread and child imports
 * exactly that: a handler can take parameters that way (bench/handlers/slowed.ts?us=N).
 */
export function handlerUrl(spec: string | undefined): string {
  if (!spec || spec === 'builtin') return BUILTIN_HANDLER;
  if (/^(file|data):/.test(spec)) return spec;
  return pathToFileURL(resolve(spec)).href;
}

/** Imports a handler module and returns its function; fails with a clear message if it has none. */
export async function loadHandler(url: string): Promise<Handler> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (err) {
    throw new SwitchboardError('ERR_HANDLER_LOAD', `cannot load handler ${url}: ${(err as Error).message}`);
  }
  const fn = typeof mod.handle === 'function' ? mod.handle : mod.default;
  if (typeof fn !== 'function') {
    throw new SwitchboardError('ERR_HANDLER_EXPORT', `handler ${url} exports neither handle() nor a default function`);
  }
  return fn as Handler;
}
