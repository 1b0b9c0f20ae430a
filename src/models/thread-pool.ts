// thread-pool: a fixed piscina pool of --threads worker threads; each connection is a task
// whose argument is the socket (moved with the transfer list) and which resolves when the
// connection closes. Every thread is an event loop multiplexing up to K = --connections-per-thread
// connections (the Netty/nginx shape); the default K, auto, is ceil(--max-connections ÷ --threads),
// so threads × K covers every connection the accept loop admits and none waits for a slot.
// K = 1 is bounded thread-per-connection with thread reuse (Apache worker MPM): only --threads
// connections are served at once, the others wait unread in the queue (--queue-timeout).
// A balancer of ours (least-busy, like piscina's) sends each connection to the thread serving
// the fewest, so with a large K connections spread evenly instead of filling the first thread.
// We keep at most threads × K tasks in piscina (its own queue stays empty) and queue the rest
// here; on drain the queued ones are served at once, beyond K (their requests were sent before
// the signal; a connection costs a thread only a socket, so no slot is needed to finish them).
import type { Socket } from 'node:net';
import { Piscina } from 'piscina';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import type { ConnectionSummary } from '../shared/connection.ts';
import { SwitchboardError } from '../shared/errors.ts';
import { isMessage, type AdmitMessage, type AdmittedMessage, type DrainMessage, type MetricsMessage, type PoolReadyMessage, type RetireMessage, type PoolStartup, type PoolTask } from '../shared/ipc.ts';
import { entryFile } from './entries.ts';
import { ModelBase, type ModelContext } from './model.ts';
import { ThreadWatchdog, leastBusy } from './thread-watchdog.ts';
import { resourceLimits, startupMessage, enableWorkerCompileCache, trackPoolThreads } from './worker-options.ts';
import { UNREAD_AT_SHUTDOWN, WaitQueue } from './wait-queue.ts';

let channels = 0;

export class ThreadPoolModel extends ModelBase {
  readonly #workerData: PoolStartup;
  readonly #watchdog: ThreadWatchdog;
  #pool!: Piscina;
  /** Drains go out on it; with --proxy-protocol and --max-connections-per-ip, admissions go both ways. */
  #drains: BroadcastChannel | null = null;
  /** limits.admitPeer: the tickets of connections now in the pool, so a worker's AdmitMessage finds its own. */
  readonly #inPool = new Map<number, ConnectionTicket>();
  #died = 0; // connections lost with their thread
  /** Threads a rolling restart is retiring: the balancer gives them no new connection. */
  readonly #retiringThreads = new Set<number>();
  /** Threads that said pool-ready, and who waits for the next new one. */
  readonly #readyThreads = new Set<number>();
  #onNewThread: ((threadId: number) => void) | null = null;
  #running = 0; // connection tasks given to piscina (≤ capacity until a drain: piscina's own queue stays empty)
  #closing = false; // close() has begun: a failed task from here on was cut by the pool's destroy()
  #draining = false; // drain() has begun: the K bound per thread is lifted for queued connections
  readonly #capacity: number; // threads × K: connections served at once
  /** Connections beyond capacity wait here, unread, bounded by --queue and --queue-timeout. */
  readonly #waiting: WaitQueue;

  constructor(ctx: ModelContext) {
    super('thread-pool', ctx, 'thread');
    // Slots for every thread plus replacements started while a dead one is still listed.
    this.#watchdog = new ThreadWatchdog(2 * ctx.options.threads + 4, ctx.options.requestTimeoutMs, ctx.log);
    this.#workerData = {
      ...startupMessage('thread-pool', ctx, this.#watchdog.table),
      drainFlag: new Int32Array(new SharedArrayBuffer(4)),
      drainChannel: `switchboard:thread-pool:${process.pid}:${++channels}`,
    };
    const { threads, connectionsPerThread } = ctx.options;
    this.#capacity = threads * connectionsPerThread;
    this.#waiting = new WaitQueue(ctx.options.queueTimeoutMs, 'a pool thread', {
      onWaited: (ms) => this.queueWait.observe(ms),
      log: ctx.log,
      slots: () => `--threads ${threads} × --connections-per-thread ${connectionsPerThread} = ${this.#capacity} connections`,
    });
  }

  /** Connections one thread may hold: K, or (draining) as many as it is given. */
  #perThread = (): number => (this.#draining ? Infinity : this.ctx.options.connectionsPerThread);

  protected async onStart(): Promise<void> {
    enableWorkerCompileCache();
    const { threads, connectionsPerThread } = this.ctx.options;
    this.#pool = new Piscina({
      filename: entryFile('thread-pool.worker'),
      minThreads: threads,
      maxThreads: threads,
      // piscina's per-thread bound leaves room for the queue to be served on drain; our balancer
      // applies K (#perThread) until then.
      concurrentTasksPerWorker: connectionsPerThread + this.ctx.options.queue,
      loadBalancer: leastBusy(this.#perThread, (id, now) => this.#retiringThreads.has(id) || this.#watchdog.stalled(id, now)),
      // Tasks live as long as their connection: an idle thread must keep running its event
      // loop (sockets, timers), never park in Atomics.wait between tasks.
      atomics: 'disabled',
      // We bound the wait queue ourselves (onAccept) so a refused socket never left this thread.
      maxQueue: Infinity,
      idleTimeout: Infinity,
      resourceLimits: resourceLimits(this.ctx),
      workerData: this.#workerData,
    });
    // A thread that dies with no task running is reported here; without a listener it would
    // be thrown on the main thread.
    this.#pool.on('error', (err) => this.ctx.log.warn({ err }, 'pool thread failed'));
    trackPoolThreads(this.#pool, this.lifecycle, () => this.#closing || this.restarting);
    // Threads → here: their parentPort, which piscina re-emits as the pool's 'message' event
    // (only this thread hears it). Here → threads: the drain channel, which every thread hears.
    this.#drains = new BroadcastChannel(this.#workerData.drainChannel);
    this.#pool.on('message', (msg: unknown) => {
      if (isMessage<MetricsMessage>(msg, 'metrics')) return this.metricsTable.update(msg.snapshot, msg.final);
      if (isMessage<PoolReadyMessage>(msg, 'pool-ready')) {
        const fresh = !this.#readyThreads.has(msg.threadId);
        this.#readyThreads.add(msg.threadId);
        if (fresh) this.#onNewThread?.(msg.threadId);
        return;
      }
      if (!isMessage<AdmitMessage>(msg, 'admit')) return;
      const ticket = this.#inPool.get(msg.id);
      const refusal = ticket ? ticket.admit(msg.address) : { code: 'E_SHUTTING_DOWN' as const, message: 'connection already closed' };
      this.#drains?.postMessage({ type: 'admitted', id: msg.id, refusal } satisfies AdmittedMessage);
    });
    (this.#drains as unknown as { unref(): void }).unref();
    // Ready handshake: one ping per thread (the balancer gives each to an idle thread) proves
    // the handler loads and has every thread warm before we listen. Its answer times that
    // thread's start-up (the threads start together); replacements piscina starts later are not timed.
    try {
      const startedAt = performance.now();
      const ping = async () => {
        await this.#pool.run({ type: 'ping' } satisfies PoolTask);
        this.startup.add(performance.now() - startedAt);
      };
      await Promise.all(Array.from({ length: threads }, ping));
    } catch (err) {
      await this.#pool.destroy();
      throw new SwitchboardError('ERR_THREAD_START', `thread-pool failed to start: ${(err as Error).message}`);
    }
    this.#watchdog.watch(() => this.#pool.threads);
  }

  protected onAccept(socket: Socket, ticket: ConnectionTicket): void {
    if (this.#running < this.#capacity) return this.#run(socket, ticket);
    // Queued here rather than in piscina, so --queue 0 means "no waiting", a refusal is decided
    // while the socket is still ours, and --queue-timeout can take a connection back out.
    if (this.#waiting.length >= this.ctx.options.queue) {
      ticket.refuse(socket, 'E_BUSY', `all ${this.ctx.options.threads} threads full and ${this.ctx.options.queue} connections waiting`);
      return;
    }
    this.#waiting.push(socket, ticket);
  }

  #run(socket: Socket, ticket: ConnectionTicket): void {
    this.#running++;
    const task: PoolTask = { type: 'connection', id: ticket.id, socket };
    const admitting = this.ctx.options.proxyProtocol && this.ctx.options.maxConnectionsPerIp > 0;
    if (admitting) this.#inPool.set(ticket.id, ticket);
    this.#pool.run(task, { transferList: [socket] as never }).finally(() => admitting && this.#inPool.delete(ticket.id)).then(
      (summary: ConnectionSummary) => {
        this.addSummary(summary);
        ticket.closed(summary);
        this.#next();
      },
      (err: Error) => {
        // The thread died (crash, process.exit, memory limit) or close() destroyed the pool: the
        // connection went with it. piscina starts a replacement thread by itself. Told apart by
        // our own state: piscina's errors carry no code, only text.
        socket.destroy(); // no-op once moved; closes it if it was still queued in piscina
        if (!this.#closing) {
          this.#died++;
          this.ctx.log.warn({ err, connection: ticket.id }, 'connection lost with its thread');
        }
        ticket.closed({ reason: 'reset' });
        this.#next();
      },
    );
  }

  /**
   * A rolling restart, one thread at a time: the balancer stops giving it connections, it exits
   * once its connections have ended (drained after --drain-timeout if they have not), piscina
   * starts its replacement, and the next thread goes only when that one has said it is ready.
   * The other threads serve meanwhile, so no connection is refused.
   */
  async rollingRestart(): Promise<{ replaced: number; ms: number } | null> {
    // One thread: retiring it would leave new connections waiting, unread, until its connections
    // end. The server restarts it as a new generation instead (null).
    if (this.ctx.options.threads < 2) return null;
    return this.rollOver(async () => {
      let replaced = 0;
      for (const worker of [...this.#pool.threads]) {
        if (this.#draining || this.#closing) break;
        const id = worker.threadId;
        this.#retiringThreads.add(id);
        const limitMs = this.ctx.options.drainTimeoutMs + 30_000;
        const next = new Promise<number | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), limitMs);
          this.#onNewThread = (t) => {
            clearTimeout(timer);
            resolve(t);
          };
        });
        this.#drains?.postMessage({ type: 'retire', threadId: id, graceMs: this.ctx.options.drainTimeoutMs } satisfies RetireMessage);
        const fresh = await next;
        this.#onNewThread = null;
        this.#retiringThreads.delete(id);
        this.#readyThreads.delete(id);
        if (fresh === null) throw new SwitchboardError('ERR_THREAD_START', `rolling restart: no replacement for thread ${id} within ${limitMs} ms; ${replaced} of ${this.ctx.options.threads} threads replaced`);
        replaced++;
      }
      return replaced;
    });
  }

  /** A connection task ended: the oldest waiting connection takes its place. */
  #next(): void {
    this.#running--;
    const w = this.state === 'closed' ? undefined : this.#waiting.shift();
    if (w) this.#run(w.socket, w.ticket);
  }

  protected async onDrain(): Promise<void> {
    this.#draining = true;
    Atomics.store(this.#workerData.drainFlag, 0, 1);
    this.#drains?.postMessage({ type: 'drain' } satisfies DrainMessage);
    // Queued connections hold requests their peers sent before the signal: serve them now, spread
    // over the threads beyond K, each drained as it starts (the drain flag) — not after the served
    // ones close, which with peers that hold their connection open costs a linger per wave.
    for (let w = this.#waiting.shift(); w; w = this.#waiting.shift()) this.#run(w.socket, w.ticket);
  }

  protected async onClose(): Promise<void> {
    this.#closing = true;
    this.#watchdog.stop();
    this.#waiting.refuseAll('E_SHUTTING_DOWN', UNREAD_AT_SHUTDOWN); // empty after a drain; not after a second signal
    this.#drains?.close();
    this.#drains = null;
    await this.#pool?.destroy();
  }

  protected workers(): number {
    return this.#pool?.threads.length ?? 0;
  }

  protected queued(): number {
    return this.#waiting.queued;
  }

  protected oldestWaitMs(): number {
    return this.#waiting.oldestWaitMs();
  }

  protected lifecycleNow() {
    return { ...this.lifecycle, watchdogKills: this.#watchdog.terminated };
  }

  protected extraStats(): Record<string, unknown> {
    return {
      threadsAlive: this.workers(),
      connectionsPerThread: this.ctx.options.connectionsPerThread,
      connectionsLostWithThread: this.#died,
      threadsTerminatedStuck: this.#watchdog.terminated,
      queueTimedOut: this.#waiting.expired,
      queueEpisodes: this.#waiting.episodes,
    };
  }
}
