// thread: one worker_threads Worker per connection (the HOWTO's "thread per connection").
// The accept loop's socket moves, unread, to a fresh thread that serves it with the shared
// connection code and exits when it closes. Blocking handlers stall only their own connection;
// the price is a thread start-up per connection (≈ 11 ms bare on an idle Node 26; ≈ 15–16 ms of
// server CPU per connection here with the socket and handler, near a plain JavaScript
// thread-per-connection server's: docs/PERFORMANCE.md), which --spare-threads hides from latency
// (pre-started idle threads) but not from CPU.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Socket } from 'node:net';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import type { ConnectionSummary } from '../shared/connection.ts';
import { SwitchboardError } from '../shared/errors.ts';
import { isMessage, type AdmitMessage, type AdmittedMessage, type ClosedMessage, type MetricsMessage, type DrainMessage, type StartupMessage, type ThreadConnectionMessage } from '../shared/ipc.ts';
import { ModelBase, type ModelContext } from './model.ts';
import { entryFile } from './entries.ts';
import { ThreadWatchdog } from './thread-watchdog.ts';
import { SERVE_QUEUE_SHARE_OF_DRAIN, UNREAD_AT_SHUTDOWN, WaitQueue } from './wait-queue.ts';
import { compileEagerlyInNewThreads, resourceLimits, startupMessage, enableWorkerCompileCache } from './worker-options.ts';

/** OS thread name (≤ 15 chars, visible in /proc/<pid>/task/*\/comm): lets tests count connection threads. */
export const THREAD_NAME = 'sb-conn-thread';
/**
 * Threads starting at once. A burst of connections would otherwise boot hundreds of isolates
 * together: all of them slow, none ready early. In turn, the first connections get answered
 * after one start-up time and the total CPU is the same.
 */
export const MAX_STARTING = Math.max(2, 2 * availableParallelism());

interface Slot {
  /** null while waiting for a start-up turn (MAX_STARTING). */
  worker: Worker | null;
  startedAt: number;
  ready: boolean;
  ticket: ConnectionTicket | null;
  /** The socket until it has been posted to the thread (then it belongs to the thread). */
  socket: Socket | null;
  summary: ConnectionSummary | null;
  /** Settles when the thread is ready (rejects if it died first); already handled. */
  whenReady: Promise<void>;
  settleReady: (err?: Error) => void;
  exited: Promise<void>;
  /** --queue-timeout for a connection waiting on this thread to start (cleared at hand-over). */
  waitTimer: NodeJS.Timeout | null;
  /** Sent away unused (its connection gave up waiting): its exit is expected. */
  dismissed: boolean;
}

export class ThreadModel extends ModelBase {
  readonly #workerData: StartupMessage;
  readonly #watchdog: ThreadWatchdog;
  readonly #threads = new Set<Slot>(); // started, not yet exited
  readonly #startQueue: Slot[] = []; // waiting for a start-up turn
  #starting = 0;
  /** Started threads with no connection yet (ready or still starting), oldest first. */
  #spares: Slot[] = [];
  readonly #queue: WaitQueue;
  #serving = 0; // threads that own a connection (≤ --max-threads)
  #draining = false;
  #closing = false;
  #waited = 0; // connections that found no started thread waiting for them
  #fromSpare = 0;
  #died = 0; // threads that ended without reporting their connection closed

  constructor(ctx: ModelContext) {
    super('thread', ctx, 'thread');
    // Slots for every thread alive at once: serving, spares, and exiting ones not yet reaped.
    const { maxThreads, spareThreads, requestTimeoutMs } = ctx.options;
    this.#watchdog = new ThreadWatchdog(maxThreads + spareThreads + MAX_STARTING + 1, requestTimeoutMs, ctx.log);
    this.#workerData = startupMessage('thread', ctx, this.#watchdog.table);
    this.#queue = new WaitQueue(ctx.options.queueTimeoutMs, 'a connection thread', {
      onWaited: (ms) => this.queueWait.observe(ms),
      log: ctx.log,
      slots: () => `--max-threads ${maxThreads} connection threads`,
    });
  }

  protected async onStart(): Promise<void> {
    enableWorkerCompileCache();
    compileEagerlyInNewThreads();
    // The ready handshake proves the handler loads in a thread before we listen. With no spares
    // wanted, one probe thread starts and is sent away again.
    const first = Array.from({ length: Math.max(1, this.ctx.options.spareThreads) }, () => this.#spawn());
    this.#spares.push(...first);
    await Promise.all(first.map((slot) => slot.whenReady));
    if (this.ctx.options.spareThreads === 0) this.#dismissSpares();
    this.#watchdog.watch(() => this.#workers());
  }

  protected onAccept(socket: Socket, ticket: ConnectionTicket): void {
    const { maxThreads, queue } = this.ctx.options;
    if (this.#serving < maxThreads) this.#assign(socket, ticket);
    else if (this.#queue.length < queue) {
      this.#waited++;
      this.#queue.push(socket, ticket);
    } else ticket.refuse(socket, 'E_BUSY', `all ${maxThreads} connection threads busy and ${queue} connections waiting`);
  }

  protected async onDrain(): Promise<void> {
    this.#draining = true;
    this.#dismissSpares();
    const drain: DrainMessage = { type: 'drain' };
    for (const slot of this.#threads) if (slot.ticket && !slot.socket) slot.worker!.postMessage(drain);
    // Queued connections are still served (their requests may predate the signal): #pump hands
    // them to threads as slots free, and #handOver tells those threads to drain at once; for
    // half of --drain-timeout, after which the ones still waiting are refused unread.
    this.#queue.stopServingAfter(this.ctx.options.drainTimeoutMs * SERVE_QUEUE_SHARE_OF_DRAIN);
  }

  protected async onClose(): Promise<void> {
    this.#closing = true;
    this.#watchdog.stop();
    // Connections never handed to a thread were not read: the peer gets E_SHUTTING_DOWN.
    this.#queue.refuseAll('E_SHUTTING_DOWN', UNREAD_AT_SHUTDOWN);
    for (const slot of this.#startQueue.splice(0)) {
      if (slot.socket && slot.ticket) slot.ticket.refuse(slot.socket, 'E_SHUTTING_DOWN', UNREAD_AT_SHUTDOWN);
      slot.socket = null;
      slot.ticket = null;
    }
    const exits = [...this.#threads].map((slot) => {
      void slot.worker!.terminate();
      return slot.exited;
    });
    await Promise.all(exits);
  }

  protected workers(): number {
    return this.#threads.size;
  }

  protected queued(): number {
    return this.#queue.queued;
  }

  protected oldestWaitMs(): number {
    return this.#queue.oldestWaitMs();
  }

  protected lifecycleNow() {
    return { ...this.lifecycle, watchdogKills: this.#watchdog.terminated };
  }

  protected extraStats(): Record<string, unknown> {
    return {
      threadsAlive: this.#threads.size,
      serving: this.#serving,
      spares: this.#spares.length,
      waitedForThread: this.#waited,
      queueTimedOut: this.#queue.expired,
      queueEpisodes: this.#queue.episodes,
      servedBySpare: this.#fromSpare,
      threadsDied: this.#died,
      threadsTerminatedStuck: this.#watchdog.terminated,
    };
  }

  *#workers(): Iterable<Worker> {
    for (const slot of this.#threads) if (slot.worker) yield slot.worker;
  }

  // ── threads ──────────────────────────────────────────────────────────────────────────────

  #spawn(): Slot {
    let settleReady!: (err?: Error) => void;
    const whenReady = new Promise<void>((resolve, reject) => (settleReady = (err) => (err ? reject(err) : resolve())));
    whenReady.catch(() => {});
    const slot: Slot = { worker: null, startedAt: 0, ready: false, ticket: null, socket: null, summary: null, whenReady, settleReady, exited: Promise.resolve(), waitTimer: null, dismissed: false };
    this.#startQueue.push(slot);
    this.#startMore();
    return slot;
  }

  #startMore(): void {
    while (this.#starting < MAX_STARTING && this.#startQueue.length > 0 && !this.#closing) this.#start(this.#startQueue.shift()!);
  }

  #start(slot: Slot): void {
    this.#starting++;
    slot.startedAt = performance.now();
    const worker = new Worker(entryFile('thread.worker'), {
      name: THREAD_NAME,
      workerData: this.#workerData,
      resourceLimits: resourceLimits(this.ctx),
    });
    slot.worker = worker;
    this.lifecycle.starts++;
    let failure: Error | null = null;
    slot.exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        this.lifecycle.exits++;
        if (!slot.ready) {
          this.#starting--;
          slot.settleReady(new SwitchboardError('ERR_THREAD_START', `connection thread failed to start: ${failure?.message ?? `exit code ${code}`}`));
        }
        resolve(this.#onExit(slot, code));
        this.#startMore();
      }),
    );
    worker.on('message', (msg: unknown) => {
      if (isMessage(msg, 'ready')) this.#onReady(slot);
      else if (isMessage<ClosedMessage>(msg, 'closed')) slot.summary = msg.summary;
      else if (isMessage<MetricsMessage>(msg, 'metrics')) this.metricsTable.update(msg.snapshot, msg.final);
      else if (isMessage<AdmitMessage>(msg, 'admit')) {
        const refusal = slot.ticket?.id === msg.id ? slot.ticket.admit(msg.address) : { code: 'E_SHUTTING_DOWN' as const, message: 'connection already closed' };
        worker.postMessage({ type: 'admitted', id: msg.id, refusal } satisfies AdmittedMessage);
      }
    });
    // An uncaught error ends the thread; 'exit' follows and does the bookkeeping.
    worker.on('error', (err: Error) => {
      failure = err;
      if (!this.#closing) this.ctx.log.warn({ err, connection: slot.ticket?.id }, 'connection thread failed');
    });
    this.#threads.add(slot);
  }

  #onReady(slot: Slot): void {
    slot.ready = true;
    this.#starting--;
    slot.settleReady();
    this.#startMore();
    this.startup.add(performance.now() - slot.startedAt);
    if (slot.ticket) this.#handOver(slot);
  }

  /** `since`: when the connection started waiting (accepted, or queued), for --queue-timeout. */
  #assign(socket: Socket, ticket: ConnectionTicket, since = performance.now()): void {
    this.#serving++;
    // Prefer a spare that is already ready; then one still starting (it started earlier than a
    // fresh one would); else start a thread for this connection.
    let i = this.#spares.findIndex((s) => s.ready);
    if (i < 0 && this.#spares.length > 0) i = 0;
    let slot: Slot;
    if (i >= 0) {
      slot = this.#spares.splice(i, 1)[0]!;
      if (slot.ready) this.#fromSpare++;
      else this.#waited++;
    } else {
      this.#waited++;
      slot = this.#spawn();
    }
    slot.ticket = ticket;
    slot.socket = socket;
    if (slot.ready) this.#handOver(slot);
    else if (this.ctx.options.queueTimeoutMs > 0) {
      // Waiting for a thread to start is waiting too: under a connection flood, starts fall far
      // behind, and without a bound these connections would hang unanswered.
      slot.waitTimer = setTimeout(() => this.#giveUp(slot), Math.max(0, since + this.ctx.options.queueTimeoutMs - performance.now())).unref();
    }
    this.#topUpSpares();
  }

  /** Its connection waited --queue-timeout for this thread to start: refuse it; the thread becomes a spare, or leaves. */
  #giveUp(slot: Slot): void {
    slot.waitTimer = null;
    const { socket, ticket } = slot;
    if (!socket || !ticket) return;
    slot.socket = null;
    slot.ticket = null;
    this.#serving--;
    this.#queue.expired++;
    ticket.refuse(socket, 'E_BUSY', `waited ${this.ctx.options.queueTimeoutMs / 1000} s for a connection thread; try again later`);
    if (!this.#draining && this.#spares.length < this.ctx.options.spareThreads) this.#spares.push(slot);
    else this.#dismiss(slot);
    this.#pump();
  }

  #handOver(slot: Slot): void {
    if (slot.waitTimer) clearTimeout(slot.waitTimer);
    slot.waitTimer = null;
    const socket = slot.socket!;
    slot.socket = null;
    const msg: ThreadConnectionMessage = { type: 'connection', id: slot.ticket!.id, socket };
    slot.worker!.postMessage(msg, [socket]);
    if (this.#draining) slot.worker!.postMessage({ type: 'drain' } satisfies DrainMessage);
  }

  #onExit(slot: Slot, code: number): void {
    this.#threads.delete(slot);
    if (slot.waitTimer) clearTimeout(slot.waitTimer);
    const spare = this.#spares.indexOf(slot);
    if (spare >= 0) this.#spares.splice(spare, 1);
    const ticket = slot.ticket;
    if (ticket) {
      this.#serving--;
      if (slot.socket) {
        // Died before it was ready: the socket never left this thread, so we can still answer.
        if (this.#closing) ticket.refuse(slot.socket, 'E_SHUTTING_DOWN', UNREAD_AT_SHUTDOWN);
        else ticket.refuse(slot.socket, 'E_INTERNAL', 'connection thread failed to start');
        slot.socket = null;
      } else {
        if (!slot.summary) this.#died++;
        this.addSummary(slot.summary ?? undefined);
        ticket.closed(slot.summary ?? { reason: 'reset' });
      }
    } else if (code !== 0 && !this.#closing && !this.#draining && !slot.dismissed) {
      this.ctx.log.warn({ code }, 'spare thread exited');
    }
    this.#pump();
    // Replace a spare only if it had got as far as ready: a thread that cannot even start
    // would otherwise be restarted in a loop.
    if (slot.ready || ticket) this.#topUpSpares();
  }

  #pump(): void {
    while (!this.#closing && this.#queue.length > 0 && this.#serving < this.ctx.options.maxThreads) {
      const { socket, ticket, since } = this.#queue.shift()!;
      this.#assign(socket, ticket, since);
    }
  }

  #topUpSpares(): void {
    if (this.#draining || this.#closing) return;
    while (this.#spares.length < this.ctx.options.spareThreads) this.#spares.push(this.#spawn());
  }

  #dismissSpares(): void {
    for (const slot of this.#spares.splice(0)) this.#dismiss(slot);
  }

  /** Sends away a thread that has no connection. */
  #dismiss(slot: Slot): void {
    slot.dismissed = true;
    if (slot.ready) slot.worker!.postMessage({ type: 'drain' } satisfies DrainMessage);
    else if (slot.worker) void slot.worker.terminate(); // still loading: nothing to finish
    else this.#startQueue.splice(this.#startQueue.indexOf(slot), 1); // never started
  }
}
