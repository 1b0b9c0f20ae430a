// process: a child process per connection, the HOWTO's "fork a subprocess per connection".
// Each accepted socket travels as a handle over IPC to a child that serves that one connection
// on its own event loop and exits when it closes. The fork is the cost: a whole Node process per
// connection, ≈ 110 ms of CPU from fork to ready and ≈ 53 MB RSS per child on this project's
// 2-core VM on a busy day (README, Models); `make bench`'s churn workload measured ≈ 56 ms of
// server CPU per connection (results/latest.md). Warm spares (--spare-processes, Apache
// prefork's MinSpareServers) hide the latency, not the CPU. At most --max-processes children
// exist at once (spares included); beyond that connections wait in a bounded queue (--queue),
// then get E_BUSY. On SIGTERM the waiting ones are still served as children free up (their
// requests were sent before the signal), for half of --drain-timeout: a fork per connection
// makes a long queue outlast the drain, so the ones still waiting then are refused unread.
import type { Socket } from 'node:net';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import { SwitchboardError } from '../shared/errors.ts';
import { Child, RespawnGuard } from './child.ts';
import { ModelBase, type ModelContext } from './model.ts';
import { SERVE_QUEUE_SHARE_OF_DRAIN, UNREAD_AT_SHUTDOWN, WaitQueue } from './wait-queue.ts';

/** After a drain, children get this long to exit by themselves before close() kills them. */
const EXIT_GRACE_MS = 1_000;
/** Longest a needed fork waits for a stream of new connections to pause (see #replenish). */
const FORK_DEFER_MAX_MS = 50;

export class ProcessModel extends ModelBase {
  readonly #children = new Set<Child>();
  /** Ready children with no connection yet (warm spares). */
  readonly #idle: Child[] = [];
  readonly #waiting: WaitQueue;
  readonly #guard = new RespawnGuard();
  #starting = 0;
  #forked = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #forkScheduled: NodeJS.Immediate | null = null;
  #acceptedThisTurn = false;
  #lastForkAt = 0;
  #draining = false;

  constructor(ctx: ModelContext) {
    super('process', ctx, 'process');
    // The front of the queue waits for children already starting or for --max-processes room:
    // only the rest are queued for capacity (stats, and the queueing warning).
    this.#waiting = new WaitQueue(ctx.options.queueTimeoutMs, 'a child process', {
      onWaited: (ms) => this.queueWait.observe(ms),
      log: ctx.log,
      slots: () => `--max-processes ${ctx.options.maxProcesses} children`,
      ahead: () => this.#starting + Math.max(0, this.ctx.options.maxProcesses - this.#children.size),
    });
  }

  protected async onStart(): Promise<void> {
    // Start the spares (at least one, which proves the child entry and handler load) and wait.
    const first = Array.from({ length: Math.max(1, this.ctx.options.spareProcesses) }, () => this.#spawn());
    await Promise.all(first.map((c) => c.ready));
    if (this.#idle.length === 0) {
      await this.onClose();
      throw new SwitchboardError('ERR_PROCESS_START', 'process: no child started (see the log above)');
    }
  }

  protected onAccept(socket: Socket, ticket: ConnectionTicket): void {
    this.#acceptedThisTurn = true;
    const child = this.#idle.shift();
    if (child) {
      this.#give(child, socket, ticket);
      this.#replenish();
      return;
    }
    this.#waiting.push(socket, ticket);
    this.#replenish();
    const cannotStart = this.#guard.disabled && this.#children.size === 0;
    if (cannotStart || this.queued() > this.ctx.options.queue) {
      const w = this.#waiting.pop()!;
      const why = cannotStart ? 'no child process can start' : `${this.ctx.options.maxProcesses} children busy and the queue is full`;
      w.ticket.refuse(w.socket, 'E_BUSY', why);
    }
  }

  protected async onDrain(): Promise<void> {
    this.#draining = true;
    // Children busy with a connection drain it. Waiting connections are still served: their
    // peers sent requests before the signal, which refusing them unread would lose. A spare
    // takes the oldest now; the rest get children as they are forked (at most --max-processes at
    // once, as ever), each drained at once — for half of --drain-timeout. A fork per connection
    // makes a long queue outlast any drain (200 clients at --max-processes 16 took > 20 s on 2
    // cores), and one handed over near the deadline would be cut mid-request, its read requests
    // lost; so the ones still waiting then are refused E_SHUTTING_DOWN, unread.
    this.#waiting.stopServingAfter(this.ctx.options.drainTimeoutMs * SERVE_QUEUE_SHARE_OF_DRAIN);
    this.#dispatchWaiting();
    for (const child of this.#idle.splice(0)) child.drain();
    for (const child of this.#children) if (child.state === 'retiring') child.drain();
    this.#replenish();
  }

  protected async onClose(): Promise<void> {
    this.#draining = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#forkScheduled) clearImmediate(this.#forkScheduled);
    // Nothing of these was read: the peer learns none of it was processed.
    this.#waiting.refuseAll('E_SHUTTING_DOWN', UNREAD_AT_SHUTDOWN);
    const children = [...this.#children];
    for (const child of children) child.drain();
    const all = Promise.all(children.map((c) => c.gone));
    let timer: NodeJS.Timeout | undefined;
    // Nothing to finish (drained, or idle): give them a moment to exit cleanly; else kill now.
    const busy = children.some((c) => c.active > 0);
    if (!busy) await Promise.race([all, new Promise((r) => (timer = setTimeout(r, EXIT_GRACE_MS)))]);
    clearTimeout(timer);
    for (const child of this.#children) child.kill();
    await all;
  }

  /** Waiting connections beyond what starting children and free --max-processes room will take. */
  protected queued(): number {
    return this.#waiting.queued;
  }

  protected oldestWaitMs(): number {
    return this.#waiting.oldestWaitMs();
  }

  protected workers(): number {
    return this.#children.size;
  }

  protected extraStats(): Record<string, unknown> {
    let busy = 0;
    for (const c of this.#children) if (c.state === 'retiring') busy++;
    return {
      children: { starting: this.#starting, idle: this.#idle.length, busy, total: this.#children.size },
      forked: this.#forked,
      queueTimedOut: this.#waiting.expired,
      queueEpisodes: this.#waiting.episodes,
      ...this.#guard.stats(),
    };
  }

  /** A child serves exactly one connection: it is retiring from the moment it gets it. */
  #give(child: Child, socket: Socket, ticket: ConnectionTicket): void {
    child.state = 'retiring';
    const sent = child.handOff(socket, ticket, (s, t) => {
      child.drain();
      this.#reroute(s, t);
    });
    if (!sent) this.#reroute(socket, ticket);
    else if (this.#draining) child.drain();
  }

  #reroute(socket: Socket, ticket: ConnectionTicket): void {
    this.#waiting.unshift({ socket, ticket, since: performance.now() });
    this.#dispatchWaiting();
    this.#replenish();
  }

  #dispatchWaiting(): void {
    while (this.#waiting.length > 0 && this.#idle.length > 0) {
      const w = this.#waiting.shift()!;
      this.#give(this.#idle.shift()!, w.socket, w.ticket);
    }
  }

  /**
   * Start children until every waiting connection has one coming and the spares are topped up,
   * one fork per event-loop turn, and accepting first. fork() blocks this thread until the child
   * has exec'd (libuv waits for it: a few ms idle, 30–150 ms measured on a loaded 2-core box), and
   * Node accepts one connection per loop turn; forking back to back would throttle accept() to
   * the fork rate. So while connections keep arriving, forks wait (up to FORK_DEFER_MAX_MS):
   * a burst is accepted (and queued) at once, then its children are forked.
   */
  #replenish(): void {
    if (this.#forkScheduled) return;
    this.#forkScheduled = setImmediate(() => {
      this.#forkScheduled = null;
      if (this.state === 'closed' || this.#retryTimer || this.#guard.disabled || this.#forksWanted() <= 0) return;
      const accepting = this.#acceptedThisTurn && performance.now() - this.#lastForkAt < FORK_DEFER_MAX_MS;
      this.#acceptedThisTurn = false;
      if (!accepting) {
        this.#spawn();
        this.#lastForkAt = performance.now();
      }
      if (this.#forksWanted() > 0) this.#replenish();
    });
  }

  #forksWanted(): number {
    const spares = this.#draining ? 0 : this.ctx.options.spareProcesses;
    const want = spares + this.#waiting.length - this.#starting - this.#idle.length;
    return Math.min(want, this.ctx.options.maxProcesses - this.#children.size);
  }

  #spawn(): Child {
    this.#forked++;
    this.#starting++;
    this.lifecycle.starts++;
    const child = new Child({
      model: this.name,
      options: this.ctx.options,
      handlerUrl: this.ctx.handlerUrl,
      log: this.ctx.log,
      events: {
        ready: (c) => this.#onReady(c),
        closed: (c, summary) => {
          this.addSummary(summary);
          if (c.active === 0) c.drain(); // its one connection is over: exit
        },
        metrics: (_c, snapshot, final) => this.metricsTable.update(snapshot, final),
        exit: (c, code, signal) => this.#onExit(c, code, signal),
      },
    });
    this.#children.add(child);
    return child;
  }

  #onReady(child: Child): void {
    this.#starting--;
    this.startup.add(child.startupMs);
    this.#guard.onReady();
    const w = this.#waiting.shift();
    if (w) this.#give(child, w.socket, w.ticket);
    // Not wanted any more: draining, or the connection it was forked for left the queue (peer
    // gone, --queue-timeout) and the spares are full. Keep one even with --spare-processes 0:
    // the start-up probe, which serves the first connection.
    else if (this.#draining || this.#idle.length >= Math.max(1, this.ctx.options.spareProcesses)) child.drain();
    else this.#idle.push(child);
  }

  #onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    this.lifecycle.exits++;
    if (child.killedStuck) this.lifecycle.watchdogKills++;
    this.#children.delete(child);
    const idleAt = this.#idle.indexOf(child);
    if (idleAt >= 0) this.#idle.splice(idleAt, 1);
    if (child.readyAt === 0) this.#starting--;
    if (!child.expectExit && this.state !== 'closed') {
      const delay = this.#guard.onCrash(child, signal);
      this.ctx.log.warn({ pid: child.pid, code, signal, served: child.served }, 'child died unexpectedly');
      if (delay === null) {
        this.ctx.log.error({ failedStarts: this.#guard.consecutiveFailures }, 'children keep dying at start-up; not forking any more');
        if (this.#children.size === 0) this.#refuseWaiting('no child process can start');
        return;
      }
      this.lifecycle.respawns++;
      if (delay > 0 && !this.#retryTimer) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          this.#replenish();
        }, delay).unref();
        return;
      }
    }
    this.#replenish();
  }

  #refuseWaiting(why: string): void {
    this.#waiting.refuseAll('E_BUSY', why);
  }
}
