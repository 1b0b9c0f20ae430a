// The `serve` flags: their yargs definitions (names, defaults, help text) and their mapping onto
// ServerOptions. The CLI builds `switchboard serve` from these; parseServeFlags() lets anything
// else (the benchmark, the fault runner, tests) turn the same flags into the options a server
// would run with, so no caller keeps its own copy of a default.
import yargs, { type Argv } from 'yargs';
import { DEFAULT_OPTIONS, DISPATCH_POLICIES, fillOptions, type FilledServerOptions, type ServerOptions } from './shared/config.ts';
import { SwitchboardError } from './shared/errors.ts';
import { MODEL_NAMES } from './models/registry.ts';

const D = DEFAULT_OPTIONS;
const seconds = (ms: number) => ms / 1000;
const toMs = (s: number | undefined) => (s === undefined ? undefined : Math.round(s * 1000));

/** Adds every serve flag to `y`. A flag given twice keeps its last value (see lastValueWins). */
export function serveFlags(y: Argv) {
  return y
    .option('model', { alias: 'm', type: 'string', choices: MODEL_NAMES, default: D.model, describe: 'concurrency model (see `switchboard models`)' })
    .option('host', { type: 'string', default: D.host, describe: 'address to listen on; 0.0.0.0 or :: to listen on all interfaces' })
    .option('port', { alias: 'p', type: 'number', default: D.port, describe: 'TCP port (0 = any free port)' })
    .option('handler', { type: 'string', describe: 'path of a handler module (default: the built-in ECHO/WORK/SLEEP/INFO handler)' })
    .option('max-frame', { type: 'number', default: D.maxFrame, group: 'Limits:', describe: 'largest frame accepted, in bytes (L)' })
    .option('max-work', { type: 'number', default: D.maxWork, group: 'Limits:', describe: 'largest WORK iteration count' })
    .option('max-connections', { type: 'number', default: D.maxConnections, group: 'Limits:', describe: 'open connections before new ones get E_BUSY' })
    .option('max-connections-per-ip', { type: 'number', default: D.maxConnectionsPerIp, group: 'Limits:', describe: 'per client address (0 = off)' })
    .option('proxy-protocol', {
      type: 'boolean',
      default: D.proxyProtocol,
      group: 'Behind a load balancer:',
      describe:
        'every connection must start with a PROXY protocol v1 or v2 header (HAProxy send-proxy / send-proxy-v2); its source address is the client for ' +
        '--max-connections-per-ip, logs and INFO. A connection without a valid header within --frame-timeout (or 1 KiB) is closed and counted, never handled. ' +
        'Only for a port nothing but the proxy can reach: anyone who can connect can claim any address',
    })
    .option('max-in-flight', { type: 'number', default: D.maxInFlight, group: 'Limits:', describe: 'unanswered requests per connection before reading pauses' })
    .option('queue', { type: 'number', default: D.queue, group: 'Limits:', describe: 'connections waiting for a thread/child before E_BUSY' })
    .option('idle-timeout', { type: 'number', default: seconds(D.idleTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'close a connection that completes no request for this long' })
    .option('frame-timeout', { type: 'number', default: seconds(D.frameTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'a frame once started must arrive whole within this' })
    .option('request-timeout', { type: 'number', default: seconds(D.requestTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'answer E_TIMEOUT when a handler takes longer; a thread or child whose event loop stays blocked 1 s beyond it (a spinning handler) is ended and replaced' })
    .option('queue-timeout', { type: 'number', default: seconds(D.queueTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'thread, thread-pool, process: a connection waiting this long for a thread/child gets E_BUSY' })
    .option('drain-timeout', { type: 'number', default: seconds(D.drainTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'on SIGTERM/SIGINT, force-close what is still open after this' })
    .option('threads', { type: 'number', default: D.threads, group: 'Thread models:', describe: 'thread-pool/offload: pool size (default: CPU cores)' })
    .option('connections-per-thread', {
      type: 'string',
      default: 'auto',
      group: 'Thread models:',
      describe:
        'thread-pool: connections one thread multiplexes (K). auto: ceil(--max-connections ÷ --threads), so every accepted connection is served at once. ' +
        'A number caps it: connections beyond --threads × K wait, unread, up to --queue-timeout, then E_BUSY; 1 is a thread per connection (Apache worker): only --threads connections are served at once',
    })
    .option('max-threads', { type: 'number', default: D.maxThreads, group: 'Thread models:', describe: 'thread: connection threads at once; connections beyond it wait, unread, in --queue (up to --queue-timeout)' })
    .option('spare-threads', { type: 'number', default: D.spareThreads, group: 'Thread models:', describe: 'thread: idle pre-started threads kept waiting' })
    .option('worker-memory-mb', { type: 'number', default: D.workerMemoryMb, group: 'Thread models:', describe: 'heap limit per worker/child in MiB (0 = none)' })
    .option('processes', { type: 'number', default: D.processes, group: 'Process models:', describe: 'process-pool: children (default: CPU cores)' })
    .option('dispatch', { type: 'string', choices: DISPATCH_POLICIES, default: D.dispatch, group: 'Process models:', describe: 'process-pool: which child gets the next connection' })
    .option('max-connections-per-child', { type: 'number', default: D.maxConnectionsPerChild, group: 'Process models:', describe: 'process-pool: recycle a child after this many (0 = never)' })
    .option('max-processes', { type: 'number', default: D.maxProcesses, group: 'Process models:', describe: 'process: children at once; connections beyond it wait, unread, in --queue (up to --queue-timeout)' })
    .option('spare-processes', { type: 'number', default: D.spareProcesses, group: 'Process models:', describe: 'process: idle pre-forked children kept waiting' })
    .option('config', { type: 'string', describe: 'JSON file of serve flags by their own names ({"model": "thread-pool", "threads": 4}); the command line wins; SIGHUP re-reads it and switches live' })
    .option('admin-port', { type: 'number', group: 'Admin endpoint (off unless --admin-port):', describe: 'HTTP port for GET /metrics (Prometheus), /stats, /healthz and POST /drain (0 = any free port; the serve line prints its URL)' })
    .option('admin-host', { type: 'string', default: '127.0.0.1', group: 'Admin endpoint (off unless --admin-port):', describe: 'address of the admin endpoint; anything but loopback needs --admin-token' })
    .option('admin-token', { type: 'string', group: 'Admin endpoint (off unless --admin-port):', describe: 'bearer token every admin request must carry (≥ 16 characters; default: $SWITCHBOARD_ADMIN_TOKEN). Prefer the variable: arguments show in ps' })
    .option('log-level', { type: 'string', default: D.logLevel, choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], describe: 'structured logs on stderr' })
    .middleware(lastValueWins, true);
}

export type ServeArgs = Awaited<ReturnType<typeof serveFlags>['argv']>;

/**
 * A serve flag given twice keeps its last value (wrappers append overrides) instead of becoming
 * an array. Only for serve: `client echo <text..>` needs its variadic positional.
 */
function lastValueWins(argv: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(argv)) {
    if (key !== '_' && Array.isArray(value)) argv[key] = value.at(-1);
  }
}

export function toServerOptions(a: ServeArgs): ServerOptions {
  return {
    model: a.model,
    host: a.host,
    port: a.port,
    handler: a.handler,
    maxFrame: a['max-frame'],
    maxWork: a['max-work'],
    maxConnections: a['max-connections'],
    maxConnectionsPerIp: a['max-connections-per-ip'],
    proxyProtocol: a['proxy-protocol'],
    maxInFlight: a['max-in-flight'],
    queue: a.queue,
    queueTimeoutMs: toMs(a['queue-timeout']),
    idleTimeoutMs: toMs(a['idle-timeout']),
    frameTimeoutMs: toMs(a['frame-timeout']),
    requestTimeoutMs: toMs(a['request-timeout']),
    drainTimeoutMs: toMs(a['drain-timeout']),
    threads: a.threads,
    connectionsPerThread: perThread(a['connections-per-thread']),
    maxThreads: a['max-threads'],
    spareThreads: a['spare-threads'],
    workerMemoryMb: a['worker-memory-mb'],
    processes: a.processes,
    dispatch: a.dispatch as ServerOptions['dispatch'],
    maxConnectionsPerChild: a['max-connections-per-child'],
    maxProcesses: a['max-processes'],
    spareProcesses: a['spare-processes'],
    logLevel: a['log-level'],
  };
}

/** 'auto' or an integer; anything else is passed on as given, for fillOptions to refuse by name. */
function perThread(v: string | undefined): ServerOptions['connectionsPerThread'] {
  if (v === undefined || v === 'auto') return 'auto';
  const n = Number(v);
  return (v.trim() !== '' && Number.isFinite(n) ? n : v) as number;
}

/** `options.idleTimeoutMs must be …` → `--idle-timeout must be …` (seconds-valued flags say so). */
export function flagMessage(message: string): string {
  return message.replace(/options\.(\w+)/, (_, key: string) => {
    const flag = key.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    return `--${flag}`;
  });
}

/**
 * The options `switchboard serve <flags>` would run with: the same definitions, defaults and
 * checks (`['--threads', '2']` → threads 2, every other option its default). A flag yargs
 * refuses (unknown, a bad choice) or a value fillOptions refuses throws SwitchboardError
 * ERR_INVALID_OPTION naming the flag.
 */
export function parseServeFlags(flags: readonly string[]): FilledServerOptions {
  let args: ServeArgs;
  try {
    args = serveFlags(yargs([...flags]))
      .strict()
      .help(false)
      .version(false)
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      })
      .parseSync();
  } catch (err) {
    throw new SwitchboardError('ERR_INVALID_OPTION', (err as Error).message);
  }
  try {
    return fillOptions(toServerOptions(args));
  } catch (err) {
    if (err instanceof SwitchboardError && err.code === 'ERR_INVALID_OPTION') throw new SwitchboardError(err.code, flagMessage(err.message));
    throw err;
  }
}
