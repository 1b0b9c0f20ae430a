// The parent's side of one forked child, shared by the `process` and `process-pool` models:
// fork → startup → ready handshake, socket hand-off over IPC, the tickets of the connections it
// serves, drain and kill. Plus RespawnGuard, the backoff that keeps a child which dies at
// start-up from turning the server into a fork bomb.
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import { connectionLimits, type FilledServerOptions } from '../shared/config.ts';
import type { MetricsSnapshot } from '../shared/metrics.ts';
import type { ConnectionSummary } from '../shared/connection.ts';
import { isMessage, type AdmitMessage, type ClosedMessage, type MetricsMessage, type ConnectionMessage, type StartupMessage, type ToWorker } from '../shared/ipc.ts';
import type { Logger } from '../shared/log.ts';
import { entryFile } from './entries.ts';

/**
 * Children run with Node's on-disk compile cache (NODE_COMPILE_CACHE, keyed by Node version and
 * file contents): a warm cache skips TypeScript stripping and V8 compilation of the child's
 * modules, which measured here cuts a child's RSS by ≈ 28 MB and a good part of its start-up.
 * An inherited NODE_COMPILE_CACHE wins; NODE_DISABLE_COMPILE_CACHE=1 turns it off (Node's own).
 */
const CHILD_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE || join(tmpdir(), 'node-compile-cache'),
};

/**
 * A child exits by itself when its IPC channel closes, but only if its event loop turns: one stuck
 * in a CPU-spinning handler never sees the parent die, and would spin on as an orphan. Where
 * util-linux's setpriv exists (Linux), children start through it with a parent-death signal, so
 * the kernel SIGKILLs them the moment this process dies, SIGKILL included. setpriv execs node, so
 * the pid and the IPC channel are the child's own.
 */
const SETPRIV = process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) : undefined;

function forkChild(nodeArgs: string[]): ChildProcess {
  const options = { env: CHILD_ENV, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[], serialization: 'json' as const };
  const entry = entryFile('process.child');
  if (!SETPRIV) return fork(entry, [], { ...options, execArgv: nodeArgs });
  // fork() runs `execPath ...execArgv module`: here `setpriv --pdeathsig SIGKILL node ...nodeArgs module`.
  return fork(entry, [], { ...options, execPath: SETPRIV, execArgv: ['--pdeathsig', 'SIGKILL', process.execPath, ...nodeArgs] });
}

/** How often a ready child is pinged; it must answer from its event loop (see PingMessage). */
export const PING_INTERVAL_MS = 1_000;

/** A child that has not said `ready` by then is killed and counted as a failed start. */
export const STARTUP_TIMEOUT_MS = 15_000;

export type ChildState = 'starting' | 'ready' | 'retiring' | 'exited';

export interface ChildEvents {
  ready(child: Child): void;
  /** One of its connections ended (the ticket is already closed). */
  closed(child: Child, summary: Partial<ConnectionSummary>): void;
  /** The process is gone and reaped, its IPC channel read to the end, every ticket closed. */
  exit(child: Child, code: number | null, signal: NodeJS.Signals | null): void;
  /** Its live metrics (every second, and `final` before it exits). */
  metrics(child: Child, snapshot: MetricsSnapshot, final: boolean): void;
}

export interface ChildSpawnOptions {
  model: string;
  options: FilledServerOptions;
  handlerUrl: string;
  log: Logger;
  events: ChildEvents;
}

const detached = (socket: Socket) => (socket as unknown as { _handle: unknown })._handle == null;

export class Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly spawnedAt = performance.now();
  /** performance.now() when it said ready (0 before). */
  readyAt = 0;
  state: ChildState = 'starting';
  /** Connections handed to it over its lifetime. */
  served = 0;
  /** The watchdog killed it: its event loop stayed blocked past --request-timeout. */
  killedStuck = false;
  /** Set by the model: exiting now is expected (drain, recycle, one-shot), not a crash. */
  expectExit = false;
  /** Settles once the child is gone and cleaned up. */
  readonly gone: Promise<void>;
  /** true once it said `ready`; false if it died first. */
  readonly ready: Promise<boolean>;
  readonly #tickets = new Map<number, ConnectionTicket>();
  readonly #events: ChildEvents;
  readonly #log: Logger;
  #drainSent = false;
  #startupTimer: NodeJS.Timeout | null;
  #pingTimer: NodeJS.Timeout | null = null;
  #lastPong = 0;
  readonly #stuckAfterMs: number;
  #resolveReady!: (ok: boolean) => void;

  constructor(o: ChildSpawnOptions) {
    const execArgv = o.options.workerMemoryMb > 0 ? [`--max-old-space-size=${o.options.workerMemoryMb}`] : [];
    this.#events = o.events;
    this.#log = o.log;
    this.#stuckAfterMs = o.options.requestTimeoutMs;
    // An explicit execArgv: never inherit the parent's (a test runner's loaders, --inspect, …).
    this.proc = forkChild(execArgv);
    this.pid = this.proc.pid ?? -1;
    let resolveGone!: () => void;
    this.gone = new Promise((r) => (resolveGone = r));
    this.ready = new Promise((r) => (this.#resolveReady = r));
    this.#startupTimer = setTimeout(() => {
      this.#log.error({ pid: this.pid, timeoutMs: STARTUP_TIMEOUT_MS }, 'child did not become ready; killing it');
      this.kill();
    }, STARTUP_TIMEOUT_MS).unref();

    this.proc.on('error', (err) => this.#log.error({ err, pid: this.pid }, 'child process error'));
    this.proc.on('message', this.#onMessage);
    // 'close' comes after 'exit' and after the IPC channel is read to the end, so every
    // `closed` the child sent has been counted before we write off the rest.
    this.proc.on('close', (code, signal) => {
      if (this.#startupTimer) clearTimeout(this.#startupTimer);
      if (this.#pingTimer) clearInterval(this.#pingTimer);
      this.state = 'exited';
      for (const ticket of this.#tickets.values()) {
        ticket.closed({ requests: 0, errors: 0, reason: 'reset' });
      }
      this.#tickets.clear();
      this.#resolveReady(false);
      this.#events.exit(this, code, signal);
      resolveGone();
    });
    const startup: StartupMessage = {
      type: 'startup',
      model: o.model,
      handlerUrl: o.handlerUrl,
      limits: connectionLimits(o.options),
      logLevel: o.options.logLevel,
    };
    this.#send(startup);
  }

  /** Connections handed over and not yet reported closed. */
  get active(): number {
    return this.#tickets.size;
  }

  get accepting(): boolean {
    return this.state === 'ready';
  }

  /** Milliseconds from fork() to `ready`, once ready. */
  get startupMs(): number {
    return this.readyAt ? this.readyAt - this.spawnedAt : NaN;
  }

  /**
   * Sends the socket to the child. Returns false, leaving the socket untouched in the parent,
   * when the channel is already closed (the caller re-routes it). If the send fails later, the
   * socket is handed to `onFailed` while it is still usable, else the ticket is closed.
   */
  handOff(socket: Socket, ticket: ConnectionTicket, onFailed: (socket: Socket, ticket: ConnectionTicket) => void): boolean {
    if (!this.proc.connected || this.state === 'exited') return false;
    this.#tickets.set(ticket.id, ticket);
    this.served++;
    const message: ConnectionMessage = { type: 'connection', id: ticket.id };
    // keepOpen false: Node detaches the handle from `socket` now and closes the parent's fd
    // once the child acknowledges it (or when the channel closes first). No fd stays here.
    this.proc.send(message, socket, { keepOpen: false }, (err) => {
      if (!err || !this.#tickets.delete(ticket.id)) return;
      this.#log.warn({ err, pid: this.pid, connection: ticket.id }, 'hand-off to child failed');
      if (!detached(socket) && !socket.destroyed) onFailed(socket, ticket);
      else ticket.closed({ requests: 0, errors: 0, reason: 'reset' });
    });
    return true;
  }

  /** Ask it to finish its connections and exit; it takes no new ones from here on. */
  drain(): void {
    this.expectExit = true;
    if (this.state !== 'exited') this.state = 'retiring';
    if (this.#drainSent) return;
    this.#drainSent = true;
    this.#send({ type: 'drain' });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  #send(message: ToWorker): void {
    if (!this.proc.connected) return;
    this.proc.send(message, (err) => {
      if (err) this.#log.debug({ err, pid: this.pid, type: message.type }, 'message to child not sent');
    });
  }

  #onMessage = (msg: unknown): void => {
    if (isMessage<ClosedMessage>(msg, 'closed')) {
      const ticket = this.#tickets.get(msg.id);
      if (!ticket) return;
      this.#tickets.delete(msg.id);
      ticket.closed(msg.summary);
      this.#events.closed(this, msg.summary);
    } else if (isMessage(msg, 'ready') && this.state === 'starting') {
      if (this.#startupTimer) clearTimeout(this.#startupTimer);
      this.#startupTimer = null;
      this.readyAt = performance.now();
      this.state = 'ready';
      this.#startWatchdog();
      this.#resolveReady(true);
      this.#events.ready(this);
    } else if (isMessage(msg, 'pong')) {
      this.#lastPong = performance.now();
    } else if (isMessage<MetricsMessage>(msg, 'metrics')) {
      this.#events.metrics(this, msg.snapshot, msg.final);
    } else if (isMessage<AdmitMessage>(msg, 'admit')) {
      const ticket = this.#tickets.get(msg.id);
      const refusal = ticket ? ticket.admit(msg.address) : { code: 'E_SHUTTING_DOWN' as const, message: 'connection already closed' };
      this.#send({ type: 'admitted', id: msg.id, refusal });
    }
  };

  /**
   * A handler that spins the CPU blocks the child's event loop: its own request timer can never
   * fire, and every connection it holds is stuck. Only the parent can notice (no pong) and
   * preempt it. Killing it loses just its connections; the model replaces it like any crash.
   */
  #startWatchdog(): void {
    if (this.#stuckAfterMs <= 0) return;
    this.#lastPong = performance.now();
    this.#pingTimer = setInterval(() => {
      const silentMs = performance.now() - this.#lastPong;
      if (silentMs > this.#stuckAfterMs + PING_INTERVAL_MS) {
        this.#log.warn({ pid: this.pid, silentMs: Math.round(silentMs), connections: this.active }, 'child unresponsive (event loop blocked past --request-timeout); killing it');
        if (this.#pingTimer) clearInterval(this.#pingTimer);
        this.killedStuck = true;
        this.kill();
        return;
      }
      this.#send({ type: 'ping' });
    }, PING_INTERVAL_MS).unref();
  }
}

/**
 * Respawn policy after a child dies unexpectedly. A death before `ready` is a failed start
 * (the handler does not load, the entry crashes, start-up timed out); consecutive failed starts
 * back off exponentially (base · 2^(n-1), capped) and after `limit` of them respawning stops for
 * good (logged, reported in stats): the server keeps serving with the children it has. Any child
 * reaching `ready` resets the count. A start cut short by SIGKILL backs off the same way but never
 * counts toward giving up: nothing in a child sends itself SIGKILL (a handler that cannot load
 * exits 1, V8 out of heap aborts), so it came from outside (an operator, the OOM killer, a
 * `kill -9` storm) and says nothing about whether the code can start; giving up on it would leave
 * a slot empty for good once the killing stops (seen: a kill every 500 ms on a loaded machine,
 * where a start takes longer than that). A child that dies after `ready` (killed, or its handler
 * crashed the process) is replaced at once: that costs its own connections, and is bounded by
 * traffic, not by a loop.
 */
export class RespawnGuard {
  readonly limit: number;
  readonly baseMs: number;
  readonly maxMs: number;
  /** Failed starts in a row (any cause): the backoff. */
  consecutiveFailures = 0;
  /** Failed starts in a row not cut by SIGKILL: what gives up. */
  consecutiveOwnFailures = 0;
  failedStarts = 0;
  crashes = 0;
  disabled = false;

  constructor({ limit = 5, baseMs = 100, maxMs = 5_000 } = {}) {
    this.limit = limit;
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  onReady(): void {
    this.consecutiveFailures = 0;
    this.consecutiveOwnFailures = 0;
  }

  /** Records an unexpected death; returns the delay before respawning, or null to stop. */
  onCrash(child: Pick<Child, 'readyAt'>, signal: NodeJS.Signals | null = null): number | null {
    this.crashes++;
    const failedStart = child.readyAt === 0;
    if (failedStart) {
      this.failedStarts++;
      this.consecutiveFailures++;
      if (signal !== 'SIGKILL') this.consecutiveOwnFailures++;
    }
    if (this.consecutiveOwnFailures >= this.limit) this.disabled = true;
    if (this.disabled) return null;
    if (!failedStart) return 0; // it was running: replaced at once, whatever another start does
    return Math.min(this.baseMs * 2 ** (this.consecutiveFailures - 1), this.maxMs);
  }

  stats() {
    return { crashes: this.crashes, failedStarts: this.failedStarts, respawnDisabled: this.disabled };
  }
}
