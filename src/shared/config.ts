// Every server option, its default and its rule, in one place. The CLI maps flags onto
// ServerOptions; models and connections read FilledServerOptions (defaults applied, validated).
// Times are milliseconds here; the CLI takes seconds where people think in seconds.
import { availableParallelism } from 'node:os';
import { SwitchboardError } from './errors.ts';

export const DISPATCH_POLICIES = ['least-connections', 'round-robin'] as const;
export type DispatchPolicy = (typeof DISPATCH_POLICIES)[number];

export interface ServerOptions {
  model?: string;
  host?: string;
  port?: number;
  /** Handler module URL (see handlerUrl()); the built-in handler when empty. */
  handler?: string;

  // Protocol and per-connection limits (shared by every model).
  maxFrame?: number;
  maxWork?: number;
  idleTimeoutMs?: number;
  frameTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Requests decoded but not yet answered on one connection before we stop reading from it. */
  maxInFlight?: number;

  // Accept loop.
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  /**
   * Every connection starts with a PROXY protocol header (v1 or v2, HAProxy's `send-proxy` /
   * `send-proxy-v2`): its source address is the client's, for --max-connections-per-ip, logs
   * and INFO. Only for a server that nothing but the proxy can reach.
   */
  proxyProtocol?: boolean;
  drainTimeoutMs?: number;

  // Thread models.
  threads?: number;
  maxThreads?: number;
  spareThreads?: number;
  /**
   * thread-pool: connections one pool thread multiplexes (K). 'auto' (the default) is
   * autoConnectionsPerThread(): enough that threads × K covers maxConnections, so every accepted
   * connection is served; 1 is a thread per connection (Apache worker), the rest wait unread.
   */
  connectionsPerThread?: number | 'auto';
  workerMemoryMb?: number;

  // Process models.
  processes?: number;
  maxProcesses?: number;
  spareProcesses?: number;
  dispatch?: DispatchPolicy;
  maxConnectionsPerChild?: number;

  /** Bounded wait queue for models that can run out of threads/children (`E_BUSY` beyond it). */
  queue?: number;
  /** Longest a connection waits in that queue before `E_BUSY` (0 = no limit). */
  queueTimeoutMs?: number;
  logLevel?: string;
}

/** Every option set and checked; 'auto' values resolved to what the server runs with. */
export type FilledServerOptions = Required<Omit<ServerOptions, 'connectionsPerThread'>> & { connectionsPerThread: number };

const cores = availableParallelism();

/** --connections-per-thread auto: the smallest K with threads × K ≥ maxConnections. */
export function autoConnectionsPerThread(o: Pick<FilledServerOptions, 'maxConnections' | 'threads'>): number {
  return Math.max(1, Math.ceil(o.maxConnections / o.threads));
}

const DEFAULT_MAX_CONNECTIONS = 10_000;

export const DEFAULT_OPTIONS: FilledServerOptions = Object.freeze({
  model: 'event-loop',
  host: '127.0.0.1',
  port: 7070,
  handler: '',
  maxFrame: 1024 * 1024,
  maxWork: 10_000_000,
  idleTimeoutMs: 60_000,
  frameTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  maxInFlight: 1024,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxConnectionsPerIp: 0,
  proxyProtocol: false,
  drainTimeoutMs: 10_000,
  threads: cores,
  maxThreads: 256,
  spareThreads: 0,
  // 'auto' resolved for the defaults above (fillOptions resolves it again for other values).
  connectionsPerThread: autoConnectionsPerThread({ maxConnections: DEFAULT_MAX_CONNECTIONS, threads: cores }),
  workerMemoryMb: 0,
  processes: cores,
  maxProcesses: 64,
  spareProcesses: 0,
  dispatch: 'least-connections',
  maxConnectionsPerChild: 0,
  queue: 1024,
  queueTimeoutMs: 30_000,
  logLevel: 'info',
});

/** The limits a connection needs, wherever it runs: a plain object, safe to post to a worker or child. */
export interface ConnectionLimits {
  maxFrame: number;
  maxWork: number;
  idleTimeoutMs: number;
  frameTimeoutMs: number;
  requestTimeoutMs: number;
  maxInFlight: number;
  /** Read a PROXY protocol header before the first frame (--proxy-protocol). */
  proxyProtocol: boolean;
  /**
   * Ask the accept loop to admit the header's source address before serving (its per-address
   * count): only when both --proxy-protocol and --max-connections-per-ip are on, since the TCP
   * peer is then the proxy and the accept loop could not count clients when it accepted.
   */
  admitPeer: boolean;
}

export function connectionLimits(o: FilledServerOptions): ConnectionLimits {
  const { maxFrame, maxWork, idleTimeoutMs, frameTimeoutMs, requestTimeoutMs, maxInFlight, proxyProtocol } = o;
  const admitPeer = proxyProtocol && o.maxConnectionsPerIp > 0;
  return { maxFrame, maxWork, idleTimeoutMs, frameTimeoutMs, requestTimeoutMs, maxInFlight, proxyProtocol, admitPeer };
}

type Rule = (v: unknown) => boolean;
const int = (min: number, max = Number.MAX_SAFE_INTEGER): Rule => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const RULES: { [K in keyof FilledServerOptions]: [Rule, string] } = {
  model: [(v) => typeof v === 'string' && v.length > 0, 'a model name'],
  host: [(v) => typeof v === 'string' && v.length > 0, 'a host name or address'],
  port: [int(0, 65535), 'an integer 0..65535'],
  handler: [(v) => typeof v === 'string', 'a module path or URL'],
  maxFrame: [int(1, 0xffff_ffff), 'an integer 1..4294967295'],
  maxWork: [int(1, 0xffff_ffff), 'an integer 1..4294967295'],
  idleTimeoutMs: [int(0), 'a non-negative integer (0 = off)'],
  frameTimeoutMs: [int(0), 'a non-negative integer (0 = off)'],
  requestTimeoutMs: [int(0), 'a non-negative integer (0 = off)'],
  maxInFlight: [int(1), 'a positive integer'],
  maxConnections: [int(1), 'a positive integer'],
  maxConnectionsPerIp: [int(0), 'a non-negative integer (0 = off)'],
  proxyProtocol: [(v) => typeof v === 'boolean', 'true or false'],
  drainTimeoutMs: [int(0), 'a non-negative integer'],
  threads: [int(1, 1024), 'an integer 1..1024'],
  maxThreads: [int(1, 65536), 'an integer 1..65536'],
  spareThreads: [int(0, 1024), 'an integer 0..1024'],
  connectionsPerThread: [int(1), 'a positive integer or "auto"'],
  workerMemoryMb: [int(0), 'a non-negative integer (0 = no limit)'],
  processes: [int(1, 1024), 'an integer 1..1024'],
  maxProcesses: [int(1, 65536), 'an integer 1..65536'],
  spareProcesses: [int(0, 1024), 'an integer 0..1024'],
  dispatch: [(v) => (DISPATCH_POLICIES as readonly unknown[]).includes(v), `one of ${DISPATCH_POLICIES.join(', ')}`],
  maxConnectionsPerChild: [int(0), 'a non-negative integer (0 = never recycle)'],
  queue: [int(0), 'a non-negative integer'],
  queueTimeoutMs: [int(0), 'a non-negative integer (0 = off)'],
  logLevel: [(v) => ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(v as string), 'a pino level'],
};

/**
 * Applies defaults, resolves 'auto' (connectionsPerThread, from the filled maxConnections and
 * threads) and checks every option; throws `options.<name> must be <rule>`.
 */
export function fillOptions(options: ServerOptions = {}): FilledServerOptions {
  const filled = { ...DEFAULT_OPTIONS };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (filled as Record<string, unknown>)[key] = value;
  }
  if (options.connectionsPerThread === undefined || options.connectionsPerThread === 'auto') {
    filled.connectionsPerThread = autoConnectionsPerThread(filled);
  }
  for (const key of Object.keys(RULES) as (keyof FilledServerOptions)[]) {
    const [ok, rule] = RULES[key];
    if (!ok(filled[key])) {
      throw new SwitchboardError('ERR_INVALID_OPTION', `options.${key} must be ${rule} (got ${JSON.stringify(filled[key])})`);
    }
  }
  return filled;
}
