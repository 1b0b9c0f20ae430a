// process-pool: --processes N children forked up front (the pre-fork server: Apache prefork,
// gunicorn, Node's cluster). Each serves many connections on its own event loop; the accept
// loop stays here and hands every socket to one child over IPC, chosen by --dispatch
// (least-connections or round-robin, see dispatch.ts).
//
// Recycling (Apache's MaxConnectionsPerChild, gunicorn's max-requests): after
// --max-connections-per-child (+ up to 10 % jitter, so children do not all recycle together) a
// child stops taking connections, its replacement is forked at once, and the old one exits when
// its own connections end. Connections that find no accepting child meanwhile wait in the queue;
// none is refused for it.
//
// Crashes: the dead child's connections are lost (theirs only), a replacement is forked; children
// that die before `ready` back off and, past a limit, stop being replaced (RespawnGuard).
import type { Socket } from 'node:net';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import { SwitchboardError } from '../shared/errors.ts';
import { Child, RespawnGuard } from './child.ts';
import { DISPATCH, newCursor } from './dispatch.ts';
import { ModelBase, type ModelContext } from './model.ts';
import { UNREAD_AT_SHUTDOWN } from './wait-queue.ts';

interface Waiting {
  socket: Socket;
  ticket: ConnectionTicket;
}

const EXIT_GRACE_MS = 1_000;

export class ProcessPoolModel extends ModelBase {
  /** One slot per --processes; a slot's child is replaced in place (null while none is running). */
  readonly #slots: (Child | null)[] = [];
  /** Recycled children finishing their connections, no longer in a slot. */
  readonly #retiring = new Set<Child>();
  readonly #limit = new Map<Child, number>();
  readonly #waiting: Waiting[] = [];
  readonly #cursor = newCursor();
  readonly #pick;
  readonly #guard = new RespawnGuard();
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #forked = 0;
  #recycled = 0;
  #draining = false;

  constructor(ctx: ModelContext) {
    super('process-pool', ctx, 'process');
    this.#pick = DISPATCH[ctx.options.dispatch];
  }

  protected async onStart(): Promise<void> {
    for (let i = 0; i < this.ctx.options.processes; i++) this.#spawn(i);
    const ready = await Promise.all(this.#slots.map((c) => c!.ready));
    if (!ready.some(Boolean)) {
      await this.onClose();
      throw new SwitchboardError('ERR_PROCESS_START', 'process-pool: no child started (see the log above)');
    }
  }

  protected onAccept(socket: Socket, ticket: ConnectionTicket): void {
    if (this.#dispatch(socket, ticket)) return;
    // No child at all, and none coming (a respawn waits out its backoff, ≤ 5 s): refuse. One
    // coming: wait for it in the bounded queue, as behind busy children.
    if (!this.#slots.some(Boolean) && this.#retryTimers.size === 0) {
      ticket.refuse(socket, 'E_BUSY', 'no child process is running');
    } else if (this.#waiting.length >= this.ctx.options.queue) {
      ticket.refuse(socket, 'E_BUSY', 'no child is taking connections and the queue is full');
    } else {
      this.#waiting.push({ socket, ticket });
    }
  }

  protected async onDrain(): Promise<void> {
    this.#draining = true;
    this.#clearRetries();
    // Queued connections keep their place: they go out as children become ready, then drain.
    // With no child at all (every slot waiting out a respawn backoff, which the drain cancels)
    // none will come: refuse them now, unread, rather than cut them at the deadline.
    if (!this.#slots.some(Boolean)) this.#refuseWaiting(UNREAD_AT_SHUTDOWN, 'E_SHUTTING_DOWN');
    for (const child of this.#all()) if (child.state !== 'starting' || this.#waiting.length === 0) child.drain();
  }

  protected async onClose(): Promise<void> {
    this.#draining = true;
    this.#clearRetries();
    // Nothing of these was read: the peer learns none of it was processed.
    this.#refuseWaiting(UNREAD_AT_SHUTDOWN, 'E_SHUTTING_DOWN');
    const children = this.#all();
    for (const child of children) child.drain();
    const all = Promise.all(children.map((c) => c.gone));
    let timer: NodeJS.Timeout | undefined;
    if (!children.some((c) => c.active > 0)) await Promise.race([all, new Promise((r) => (timer = setTimeout(r, EXIT_GRACE_MS)))]);
    clearTimeout(timer);
    for (const child of this.#all()) child.kill();
    await all;
  }

  protected queued(): number {
    return this.#waiting.length;
  }

  protected workers(): number {
    return this.#all().length;
  }

  protected extraStats(): Record<string, unknown> {
    const slots = this.#slots.map((c) => (c ? { pid: c.pid, state: c.state, active: c.active, served: c.served } : null));
    return {
      dispatch: this.ctx.options.dispatch,
      children: slots,
      retiring: this.#retiring.size,
      forked: this.#forked,
      recycled: this.#recycled,
      ...this.#guard.stats(),
    };
  }

  #all(): Child[] {
    return [...(this.#slots.filter(Boolean) as Child[]), ...this.#retiring];
  }

  /** Hands the socket to a child picked by the policy; false if none is taking connections. */
  #dispatch(socket: Socket, ticket: ConnectionTicket): boolean {
    for (;;) {
      const child = this.#pick(this.#slots.filter(Boolean) as Child[], this.#cursor);
      if (!child) return false;
      const sent = child.handOff(socket, ticket, (s, t) => this.#reroute(s, t));
      if (!sent) {
        child.state = 'retiring'; // its channel is gone; 'close' will replace it
        continue;
      }
      if (this.#draining) child.drain();
      else {
        const limit = this.#limit.get(child);
        if (limit !== undefined && child.served >= limit) this.#recycle(child);
      }
      return true;
    }
  }

  #reroute(socket: Socket, ticket: ConnectionTicket): void {
    if (!this.#dispatch(socket, ticket)) this.#waiting.unshift({ socket, ticket });
  }

  #flushWaiting(): void {
    while (this.#waiting.length > 0) {
      const w = this.#waiting[0]!;
      if (!this.#dispatch(w.socket, w.ticket)) return;
      this.#waiting.shift();
    }
  }

  /**
   * A rolling restart: each child in turn is replaced the way a recycle does it (out of its slot,
   * a replacement forked at once, the old one exits when its connections end), and the next waits
   * until that replacement is ready, so at most one slot is ever without a ready child and no
   * connection is refused (one that finds none waits in the queue for the replacement).
   */
  rollingRestart(): Promise<{ replaced: number; ms: number }> {
    return this.rollOver(async () => {
      let replaced = 0;
      for (let slot = 0; slot < this.#slots.length; slot++) {
        const old = this.#slots[slot];
        if (!old || this.#draining || this.state === 'closed') continue;
        this.#recycle(old, false);
        const fresh = this.#slots[slot];
        if (!fresh || !(await fresh.ready)) throw new SwitchboardError('ERR_PROCESS_START', `rolling restart: the replacement for slot ${slot} did not start; ${replaced} of ${this.#slots.length} children replaced, the rest keep serving`);
        replaced++;
      }
      return replaced;
    });
  }

  /** Served its share (or a rolling restart): out of the slot, replacement forked now, exits when its connections end. */
  #recycle(child: Child, counted = true): void {
    const slot = this.#slots.indexOf(child);
    child.state = 'retiring';
    child.expectExit = true;
    if (counted) {
      this.#recycled++;
      this.lifecycle.recycles++;
    }
    this.#retiring.add(child);
    if (child.active === 0) child.drain();
    this.ctx.log.info({ pid: child.pid, served: child.served }, counted ? 'recycling child' : 'replacing child (rolling restart)');
    if (slot >= 0) this.#spawn(slot);
  }

  #spawn(slot: number): void {
    this.#forked++;
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
          if (c.state === 'retiring' && c.active === 0) c.drain();
        },
        metrics: (_c, snapshot, final) => this.metricsTable.update(snapshot, final),
        exit: (c, code, signal) => this.#onExit(c, slot, code, signal),
      },
    });
    const max = this.ctx.options.maxConnectionsPerChild;
    if (max > 0) this.#limit.set(child, max + Math.floor(Math.random() * (Math.round(max * 0.1) + 1)));
    this.#slots[slot] = child;
  }

  #onReady(child: Child): void {
    this.startup.add(child.startupMs);
    this.#guard.onReady();
    this.#flushWaiting();
    if (this.#draining && child.active === 0) child.drain();
  }

  #onExit(child: Child, slot: number, code: number | null, signal: NodeJS.Signals | null): void {
    this.lifecycle.exits++;
    if (child.killedStuck) this.lifecycle.watchdogKills++;
    this.#limit.delete(child);
    this.#retiring.delete(child);
    const inSlot = this.#slots[slot] === child;
    if (inSlot) this.#slots[slot] = null;
    if (child.expectExit || this.#draining || this.state === 'closed' || !inSlot) {
      return;
    }
    const delay = this.#guard.onCrash(child, signal);
    this.ctx.log.warn({ pid: child.pid, code, signal, served: child.served, slot }, 'child died unexpectedly; replacing it');
    if (delay === null) {
      this.ctx.log.error(
        { failedStarts: this.#guard.failedStarts, running: this.#slots.filter(Boolean).length },
        'children keep dying at start-up; not forking any more, serving with the rest',
      );
      if (!this.#slots.some(Boolean)) this.#refuseWaiting('no child process is running');
      return;
    }
    this.lifecycle.respawns++;
    if (delay === 0) this.#spawn(slot);
    else {
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        if (!this.#draining && this.#slots[slot] === null) this.#spawn(slot);
      }, delay);
      this.#retryTimers.add(timer);
    }
  }

  #refuseWaiting(why: string, code: 'E_BUSY' | 'E_SHUTTING_DOWN' = 'E_BUSY'): void {
    for (const { socket, ticket } of this.#waiting.splice(0)) ticket.refuse(socket, code, why);
  }

  #clearRetries(): void {
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
  }
}
