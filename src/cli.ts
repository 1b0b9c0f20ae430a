#!/usr/bin/env node
// switchboard's command line: parses and validates flags, then calls into src/. Nothing else.
//
// Exit codes (all commands):
//   0  success
//   1  the server answered with an ERROR frame (client)
//   2  bad usage: unknown command or flag, invalid value
//   3  could not reach the server, or it closed/timed out before answering
//   4  the server failed to start (port in use, handler failed to load, …)
//   5  serve: shutdown cut connections (--drain-timeout passed, or a second signal closed at once)
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_OPTIONS } from './shared/config.ts';
import { SwitchboardError } from './shared/errors.ts';
import { flagMessage, serveFlags, toServerOptions, type ServeArgs } from './serve-flags.ts';
import { MODELS, MODEL_NAMES } from './models/registry.ts';
import { FrameClient, ServerError } from './shared/client.ts';
import { Op, OP_NAMES, parseError } from './shared/protocol.ts';
import { createLogger } from './shared/log.ts';
import { adminOptionsError } from './admin/options.ts';
import { formatPeer } from './shared/address.ts';

export const EXIT = { OK: 0, ERROR_REPLY: 1, USAGE: 2, UNREACHABLE: 3, START_FAILED: 4, DRAIN_INCOMPLETE: 5 } as const;

const D = DEFAULT_OPTIONS;

/** `commandLine`: the serve flags as typed (after `serve`), for --config's precedence and live changes. */
async function serve(args: ServeArgs, commandLine: string[]): Promise<number> {
  const { startServer } = await import('./server.ts');
  const log = createLogger(args['log-level']);
  const admin = adminArgs(args);
  if (typeof admin === 'string') {
    console.error(`switchboard serve: ${admin}`);
    return EXIT.USAGE;
  }
  const { readConfigFlags, effectiveOptions, Control } = await import('./admin/control.ts');
  let configFlags: string[] = [];
  let server;
  try {
    // --config FILE: its settings under the command line's (the command line wins).
    if (args.config) configFlags = readConfigFlags(args.config);
    server = await startServer(args.config ? effectiveOptions(configFlags, commandLine) : toServerOptions(args), log);
  } catch (err) {
    if (err instanceof SwitchboardError && err.code === 'ERR_INVALID_OPTION') {
      console.error(`switchboard serve: ${flagMessage(err.message)}`);
      return EXIT.USAGE;
    }
    console.error(`switchboard serve: cannot start: ${(err as Error).message}`);
    return EXIT.START_FAILED;
  }
  // Signal handlers first, then the "listening" line: whoever waits for that line may send
  // SIGTERM at once, and before process.on() a SIGTERM would kill us without a drain.
  let draining = false;
  let onSignal!: (signal: NodeJS.Signals | 'admin') => void;
  const exitCode = new Promise<number>((resolve) => {
    let signals = 0;
    onSignal = (signal) => {
      if (signal === 'admin' && draining) return; // POST /drain twice is one drain, not a second signal
      draining = true;
      if (++signals > 1) {
        log.warn({ signal }, 'second signal: closing now');
        void server.model.close().then(() => resolve(EXIT.DRAIN_INCOMPLETE));
        return;
      }
      log.info({ signal, drainTimeoutMs: server.options.drainTimeoutMs }, 'draining');
      void server.stop().then((drained) => {
        const stats = server.stats();
        if (drained) log.info({ stats }, 'drained, exiting');
        else log.warn({ stats }, 'drain deadline passed; remaining connections were closed');
        resolve(drained ? EXIT.OK : EXIT.DRAIN_INCOMPLETE);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  const control = new Control(server, { commandLine, configFlags, configFile: args.config, log });
  // SIGHUP: re-read --config (the command line on top) and switch to it live; a bad file is
  // refused with the reason in the log and the running configuration stays.
  process.on('SIGHUP', () => {
    if (!draining) void control.reload().catch((err: Error) => log.error({ reason: err.message }, 'SIGHUP: switch failed; the running configuration stays'));
  });
  let adminUrl = '';
  if (admin) {
    const { startAdmin } = await import('./admin/server.ts');
    const running = server;
    try {
      const endpoint = await startAdmin(
        {
          stats: () => running.stats(),
          metrics: () => running.metrics(),
          generation: () => running.generation,
          draining: () => draining,
          drain: () => onSignal('admin'),
          switch: (settings) => control.switch(settings, { allowHandler: Boolean(admin.token) }),
          restart: () => control.restart(),
        },
        admin,
        log,
      );
      adminUrl = `; admin ${endpoint.url}`;
      void exitCode.then(() => endpoint.close());
    } catch (err) {
      console.error(`switchboard serve: cannot start the admin endpoint on ${admin.host}:${admin.port}: ${(err as Error).message}`);
      await server.model.close();
      return EXIT.START_FAILED;
    }
  }
  const { address, port } = server.address;
  console.log(`switchboard listening on ${formatPeer(address, port)} (model ${server.options.model}, pid ${process.pid})${adminUrl}`);
  log.info({ address, port, model: server.options.model, admin: adminUrl.slice(8) || undefined }, 'listening');
  return exitCode;
}

/** The admin endpoint's flags: null when off, a reason when they are wrong, else its options. */
function adminArgs(args: ServeArgs): { host: string; port: number; token?: string } | null | string {
  if (args['admin-port'] === undefined) return args['admin-token'] ? '--admin-token needs --admin-port' : null;
  const token = args['admin-token'] ?? process.env.SWITCHBOARD_ADMIN_TOKEN ?? undefined;
  const o = { host: args['admin-host'], port: args['admin-port'], token: token || undefined };
  const problem = adminOptionsError(o);
  return problem ?? o;
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

/**
 * `ctl switch [ctl options] [serve flags…]`: the ctl options are taken out, everything else is a
 * serve flag for the next generation (checked here first, so a typo exits 2 before it is sent).
 */
async function ctlSwitch(rest: string[]): Promise<void> {
  const { flagsToSettings, runCtl, splitSwitchArgs } = await import('./admin/ctl.ts');
  const { parseServeFlags } = await import('./serve-flags.ts');
  const { serveArgs, ...own } = splitSwitchArgs(rest);
  let settings: Record<string, string | boolean>;
  try {
    settings = flagsToSettings(serveArgs);
    if (serveArgs.length === 0) throw new Error('name what to switch to, e.g. ctl switch --model thread-pool');
    if (own.timeout !== undefined && !(Number(own.timeout) > 0)) throw new Error(`--timeout must be a number of seconds > 0, got "${own.timeout}"`);
    parseServeFlags(serveArgs);
  } catch (err) {
    console.error(`switchboard ctl switch: ${flagMessage((err as Error).message)}`);
    process.exitCode = EXIT.USAGE;
    return;
  }
  process.exitCode = await runCtl('switch', {
    admin: own.admin ?? '127.0.0.1:9090',
    token: own.token ?? process.env.SWITCHBOARD_ADMIN_TOKEN,
    json: own.json,
    timeoutMs: Math.max(100, Number(own.timeout ?? 60) * 1000),
    settings,
  });
}

// ── main ────────────────────────────────────────────────────────────────────────────────

export async function main(argv = hideBin(process.argv)): Promise<void> {
  if (argv[0] === 'ctl' && argv[1] === 'switch') return ctlSwitch(argv.slice(2));
  const runners: Record<string, string> = { bench: '../bench/run.ts', recommend: '../bench/recommend/run.ts', agent: '../bench/agent.ts' };
  if (argv[0] && Object.hasOwn(runners, argv[0])) {
    // The benchmark harness has its own flags (`switchboard bench --help`): hand everything over.
    const { spawnSync } = await import('node:child_process');
    const run = new URL(runners[argv[0]]!, import.meta.url).pathname;
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
        serveFlags(y)
          .example('$0 serve --model event-loop --port 7070', 'all connections on one thread')
          .example('$0 serve --port 0 --idle-timeout 5', 'any free port; drop connections idle for 5 s')
          .epilogue(`Models:\n${modelList}\n\nSIGTERM or SIGINT drains: no new connections, every request already read is answered, and so is every connection still waiting for a thread or child (one still waiting after half of --drain-timeout gets E_SHUTTING_DOWN, unread), then exit 0 (5 if --drain-timeout had to cut connections). A second signal closes at once (exit 5).`),
      async (a) => {
        process.exitCode = await serve(a, argv.slice(argv.indexOf('serve') + 1));
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
    .command(
      'ctl <command>',
      'talk to a running server\'s admin endpoint (serve --admin-port): stats, metrics, health, drain',
      (y) =>
        y
          .positional('command', {
            choices: ['stats', 'metrics', 'health', 'drain', 'switch', 'restart'] as const,
            describe:
              'stats: what runs and how busy; metrics: the Prometheus text; health: serving or draining; drain: start a graceful drain (as SIGTERM); ' +
              'switch [serve flags…]: a new generation with these flags on top of the current ones (e.g. --model thread-pool --threads 4), started and ready before it takes connections; ' +
              'restart: the same flags as a new generation (fresh threads or children); the old generation finishes its connections',
          })
          .option('admin', { type: 'string', default: '127.0.0.1:9090', describe: 'the admin endpoint, HOST:PORT or a URL (the serve line prints it)' })
          .option('token', { type: 'string', describe: 'bearer token (default: $SWITCHBOARD_ADMIN_TOKEN)' })
          .option('json', { type: 'boolean', default: false, describe: 'print the JSON answer (for scripts)' })
          .option('timeout', { type: 'number', default: 5, describe: 'seconds to wait for the answer' })
          .example('$0 ctl stats --admin 127.0.0.1:9090', 'model, workers, connections, requests by op, per-worker spread')
          .example('$0 ctl health --admin 10.0.0.5:9090 --json', 'exit 0 serving, 1 draining, 3 unreachable')
          .example('$0 ctl switch --admin 127.0.0.1:9090 --model process-pool --processes 4', 'switch model live: no connection refused or dropped')
          .epilogue('Exit codes: 0 done, 1 the server refused (HTTP error) or is draining (health), 2 bad usage, 3 unreachable.'),
      async (a) => {
        const { runCtl } = await import('./admin/ctl.ts');
        process.exitCode = await runCtl(a.command as 'stats', {
          admin: a.admin,
          token: a.token ?? process.env.SWITCHBOARD_ADMIN_TOKEN,
          json: a.json,
          timeoutMs: Math.max(100, a.timeout * 1000),
        });
      },
    )
    .command('models', 'list the concurrency models', {}, () => console.log(modelList))
    .command('bench', 'run the benchmark harness (bench/run.ts; `switchboard bench --help` for its flags; --handler H --mix F for yours)', {}, () => {})
    .command('recommend', 'which model for your handler and traffic: profiles it, runs a targeted set of cells, prints a ready serve command with its evidence (`switchboard recommend --help`)', {}, () => {})
    .command('agent', 'on a server\'s host: report its CPU and RSS to a benchmark run from another host (`switchboard agent --help`)', {}, () => {})
    .demandCommand(1, 'name a command: serve, client, ctl, models, bench, recommend, agent')
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
