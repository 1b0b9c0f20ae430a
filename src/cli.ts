#!/usr/bin/env node
// switchboard's command line: parses and validates flags, then calls into src/. Nothing else.
//
// Exit codes (all commands):
//   0  success
//   1  the server answered with an ERROR frame (client) / shutdown missed its deadline (serve)
//   2  bad usage: unknown command or flag, invalid value
//   3  could not reach the server, or it closed/timed out before answering
//   4  the server failed to start (port in use, handler failed to load, …)
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_OPTIONS, DISPATCH_POLICIES, type ServerOptions } from './shared/config.ts';
import { SwitchboardError } from './shared/errors.ts';
import { MODELS, MODEL_NAMES } from './models/registry.ts';
import { FrameClient, ServerError } from './shared/client.ts';
import { Op, OP_NAMES, parseError } from './shared/protocol.ts';
import { createLogger } from './shared/log.ts';

export const EXIT = { OK: 0, ERROR_REPLY: 1, USAGE: 2, UNREACHABLE: 3, START_FAILED: 4 } as const;

const D = DEFAULT_OPTIONS;
const seconds = (ms: number) => ms / 1000;
const toMs = (s: number | undefined) => (s === undefined ? undefined : Math.round(s * 1000));

function serveOptions(y: Argv) {
  return y
    .option('model', { alias: 'm', type: 'string', choices: MODEL_NAMES, default: D.model, describe: 'concurrency model (see `switchboard models`)' })
    .option('host', { type: 'string', default: D.host, describe: 'address to listen on; 0.0.0.0 or :: to listen on all interfaces' })
    .option('port', { alias: 'p', type: 'number', default: D.port, describe: 'TCP port (0 = any free port)' })
    .option('handler', { type: 'string', describe: 'path of a handler module (default: the built-in ECHO/WORK/SLEEP/INFO handler)' })
    .option('max-frame', { type: 'number', default: D.maxFrame, group: 'Limits:', describe: 'largest frame accepted, in bytes (L)' })
    .option('max-work', { type: 'number', default: D.maxWork, group: 'Limits:', describe: 'largest WORK iteration count' })
    .option('max-connections', { type: 'number', default: D.maxConnections, group: 'Limits:', describe: 'open connections before new ones get E_BUSY' })
    .option('max-connections-per-ip', { type: 'number', default: D.maxConnectionsPerIp, group: 'Limits:', describe: 'per client address (0 = off)' })
    .option('max-in-flight', { type: 'number', default: D.maxInFlight, group: 'Limits:', describe: 'unanswered requests per connection before reading pauses' })
    .option('queue', { type: 'number', default: D.queue, group: 'Limits:', describe: 'connections waiting for a thread/child before E_BUSY' })
    .option('idle-timeout', { type: 'number', default: seconds(D.idleTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'close a connection that completes no request for this long' })
    .option('frame-timeout', { type: 'number', default: seconds(D.frameTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'a frame once started must arrive whole within this' })
    .option('request-timeout', { type: 'number', default: seconds(D.requestTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'answer E_TIMEOUT when a handler takes longer; a thread or child whose event loop stays blocked 1 s beyond it (a spinning handler) is ended and replaced' })
    .option('queue-timeout', { type: 'number', default: seconds(D.queueTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'thread, thread-pool, process: a connection waiting this long for a thread/child gets E_BUSY' })
    .option('drain-timeout', { type: 'number', default: seconds(D.drainTimeoutMs), group: 'Timeouts (seconds, 0 = off):', describe: 'on SIGTERM/SIGINT, force-close what is still open after this' })
    .option('threads', { type: 'number', default: D.threads, group: 'Thread models:', describe: 'thread-pool/offload: pool size (default: CPU cores)' })
    .option('connections-per-thread', { type: 'number', default: D.connectionsPerThread, group: 'Thread models:', describe: 'thread-pool: connections one thread multiplexes' })
    .option('max-threads', { type: 'number', default: D.maxThreads, group: 'Thread models:', describe: 'thread: connection threads at once' })
    .option('spare-threads', { type: 'number', default: D.spareThreads, group: 'Thread models:', describe: 'thread: idle pre-started threads kept waiting' })
    .option('worker-memory-mb', { type: 'number', default: D.workerMemoryMb, group: 'Thread models:', describe: 'heap limit per worker/child in MiB (0 = none)' })
    .option('processes', { type: 'number', default: D.processes, group: 'Process models:', describe: 'process-pool: children (default: CPU cores)' })
    .option('dispatch', { type: 'string', choices: DISPATCH_POLICIES, default: D.dispatch, group: 'Process models:', describe: 'process-pool: which child gets the next connection' })
    .option('max-connections-per-child', { type: 'number', default: D.maxConnectionsPerChild, group: 'Process models:', describe: 'process-pool: recycle a child after this many (0 = never)' })
    .option('max-processes', { type: 'number', default: D.maxProcesses, group: 'Process models:', describe: 'process: children at once' })
    .option('spare-processes', { type: 'number', default: D.spareProcesses, group: 'Process models:', describe: 'process: idle pre-forked children kept waiting' })
    .option('log-level', { type: 'string', default: D.logLevel, choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], describe: 'structured logs on stderr' });
}

type ServeArgs = Awaited<ReturnType<typeof serveOptions>['argv']>;

function toServerOptions(a: ServeArgs): ServerOptions {
  return {
    model: a.model,
    host: a.host,
    port: a.port,
    handler: a.handler,
    maxFrame: a['max-frame'],
    maxWork: a['max-work'],
    maxConnections: a['max-connections'],
    maxConnectionsPerIp: a['max-connections-per-ip'],
    maxInFlight: a['max-in-flight'],
    queue: a.queue,
    queueTimeoutMs: toMs(a['queue-timeout']),
    idleTimeoutMs: toMs(a['idle-timeout']),
    frameTimeoutMs: toMs(a['frame-timeout']),
    requestTimeoutMs: toMs(a['request-timeout']),
    drainTimeoutMs: toMs(a['drain-timeout']),
    threads: a.threads,
    connectionsPerThread: a['connections-per-thread'],
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

/** `options.idleTimeoutMs must be …` → `--idle-timeout must be …` (seconds-valued flags say so). */
function flagMessage(message: string): string {
  return message.replace(/options\.(\w+)/, (_, key: string) => {
    const flag = key.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    return `--${flag}`;
  });
}

async function serve(args: ServeArgs): Promise<number> {
  const { startServer } = await import('./server.ts');
  const log = createLogger(args['log-level']);
  let server;
  try {
    server = await startServer(toServerOptions(args), log);
  } catch (err) {
    if (err instanceof SwitchboardError && err.code === 'ERR_INVALID_OPTION') {
      console.error(`switchboard serve: ${flagMessage(err.message)}`);
      return EXIT.USAGE;
    }
    console.error(`switchboard serve: cannot start: ${(err as Error).message}`);
    return EXIT.START_FAILED;
  }
  const { address, port } = server.address;
  const host = address.includes(':') ? `[${address}]` : address;
  console.log(`switchboard listening on ${host}:${port} (model ${server.options.model}, pid ${process.pid})`);
  log.info({ address, port, model: server.options.model }, 'listening');

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        log.warn({ signal }, 'second signal: closing now');
        void server.model.close().then(() => resolve(EXIT.ERROR_REPLY));
        return;
      }
      log.info({ signal, drainTimeoutMs: server.options.drainTimeoutMs }, 'draining');
      void server.stop().then((drained) => {
        const stats = server.stats();
        if (drained) log.info({ stats }, 'drained, exiting');
        else log.warn({ stats }, 'drain deadline passed; remaining connections were closed');
        resolve(drained ? EXIT.OK : EXIT.ERROR_REPLY);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

// ── client ──────────────────────────────────────────────────────────────────────────────

interface ClientArgs {
  host: string;
  port: number;
  timeout: number;
}

async function runClient(args: ClientArgs, op: number, payload: Buffer, print: (p: Buffer) => string): Promise<number> {
  let client: FrameClient;
  try {
    client = await FrameClient.connect(args.port, args.host, { timeoutMs: args.timeout * 1000 });
  } catch (err) {
    console.error(`switchboard client: cannot connect to ${args.host}:${args.port}: ${(err as Error).message}`);
    return EXIT.UNREACHABLE;
  }
  const timer = setTimeout(() => {
    console.error(`switchboard client: no answer within ${args.timeout} s`);
    client.socket.destroy();
  }, args.timeout * 1000);
  try {
    const frame = await client.send(op, payload);
    if (frame.op === Op.ERROR) {
      const { code, message } = parseError(frame.payload);
      console.error(`${code} ${message}`);
      return EXIT.ERROR_REPLY;
    }
    if (frame.op !== op) {
      console.error(`switchboard client: expected a ${OP_NAMES[op]} reply, got op 0x${frame.op.toString(16)}`);
      return EXIT.ERROR_REPLY;
    }
    console.log(print(frame.payload));
    return EXIT.OK;
  } catch (err) {
    if (err instanceof ServerError) return EXIT.ERROR_REPLY;
    console.error(`switchboard client: ${(err as Error).message}`);
    return EXIT.UNREACHABLE;
  } finally {
    clearTimeout(timer);
    await client.close();
  }
}

const u32 = (n: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
};

function clientCommands(y: Argv<ClientArgs>) {
  const done = async (p: Promise<number>): Promise<void> => {
    process.exitCode = await p;
  };
  const uint = (name: string) => (v: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new Error(`${name} must be an integer 0..4294967295`);
    return v;
  };
  return y
    .command(
      'echo <text..>',
      'ECHO: the server sends the same bytes back',
      (c) => c.positional('text', { type: 'string', array: true, demandOption: true }),
      (a) => done(runClient(a, Op.ECHO, Buffer.from((a.text as string[]).join(' ')), (p) => p.toString('utf8'))),
    )
    .command(
      'work <n> [seed]',
      'WORK: n rounds of SHA-256 over the seed; prints the hex digest',
      (c) =>
        c
          .positional('n', { type: 'number', demandOption: true, coerce: uint('n') })
          .positional('seed', { type: 'string', default: '', describe: 'seed bytes, as UTF-8 text' }),
      (a) => done(runClient(a, Op.WORK, Buffer.concat([u32(a.n), Buffer.from(a.seed)]), (p) => p.toString('hex'))),
    )
    .command(
      'sleep <ms>',
      'SLEEP: the server answers after ms milliseconds',
      (c) => c.positional('ms', { type: 'number', demandOption: true, coerce: uint('ms') }),
      (a) => {
        const started = performance.now();
        return done(runClient(a, Op.SLEEP, u32(a.ms), () => `slept ${a.ms} ms (answered after ${Math.round(performance.now() - started)} ms)`));
      },
    )
    .command(
      'info',
      'INFO: which model, process and thread served this connection (JSON)',
      (c) => c,
      (a) => done(runClient(a, Op.INFO, Buffer.alloc(0), (p) => p.toString('utf8'))),
    )
    .demandCommand(1, 'name an op: echo, work, sleep or info');
}

// ── main ────────────────────────────────────────────────────────────────────────────────

export async function main(argv = hideBin(process.argv)): Promise<void> {
  if (argv[0] === 'bench') {
    // The benchmark harness has its own flags (`switchboard bench --help`): hand everything over.
    const { spawnSync } = await import('node:child_process');
    const run = new URL('../bench/run.ts', import.meta.url).pathname;
    process.exitCode = spawnSync(process.execPath, [run, ...argv.slice(1)], { stdio: 'inherit' }).status ?? 1;
    return;
  }
  const modelList = MODEL_NAMES.map((m) => `  ${m.padEnd(13)} ${MODELS[m].summary}`).join('\n');
  await yargs(argv)
    .scriptName('switchboard')
    .usage('$0 <command> [options]\n\nOne TCP accept loop, interchangeable concurrency models, and a benchmark harness to compare them.')
    .command(
      'serve',
      'run the server with one concurrency model',
      (y) =>
        serveOptions(y)
          // A serve flag given twice keeps its last value (wrappers append overrides) instead of
          // becoming an array. Only here: `client echo <text..>` needs its variadic positional.
          .middleware((argv) => {
            for (const [key, value] of Object.entries(argv)) {
              if (key !== '_' && Array.isArray(value)) (argv as Record<string, unknown>)[key] = value.at(-1);
            }
          }, true)
          .example('$0 serve --model event-loop --port 7070', 'all connections on one thread')
          .example('$0 serve --port 0 --idle-timeout 5', 'any free port; drop connections idle for 5 s')
          .epilogue(`Models:\n${modelList}\n\nSIGTERM or SIGINT drains: no new connections, every request already read is answered, then exit 0 (1 if --drain-timeout had to cut connections). A second signal closes at once.`),
      async (a) => {
        process.exitCode = await serve(a);
      },
    )
    .command(
      'client',
      'send one request and print the reply (exit 1 on an ERROR reply, 3 if unreachable)',
      (y) =>
        clientCommands(
          y
            .option('host', { type: 'string', default: '127.0.0.1', describe: 'server address' })
            .option('port', { alias: 'p', type: 'number', default: D.port, describe: 'server port' })
            .option('timeout', { type: 'number', default: 70, describe: 'seconds to wait for the reply' }),
        ).example('$0 client --port 7070 work 1000 seed', 'prints the 32-byte digest in hex'),
      () => {},
    )
    .command('models', 'list the concurrency models', {}, () => console.log(modelList))
    .command('bench', 'run the benchmark harness (bench/run.ts; `switchboard bench --help` for its flags)', {}, () => {})
    .demandCommand(1, 'name a command: serve, client, models')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err, y) => {
      if (err) throw err;
      console.error(y.help === undefined ? msg : `${msg}\n\nRun with --help for usage.`);
      process.exit(EXIT.USAGE);
    })
    .parseAsync();
}

await main();
