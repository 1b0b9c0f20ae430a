// The wait queue of the connection-bound models (thread, process): connections that found every
// thread/child busy wait here, unread, in arrival order. The length bound (--queue) is the
// model's to apply; the time bound (--queue-timeout, like HAProxy's `timeout queue`) is applied
// here: a connection that waited that long is refused E_BUSY. A peer cannot tell a long wait from
// a dead server, and the timeouts of a connection (idle, frame) only start once it is served, so
// without this a flood or slow peers holding every slot would leave the rest hanging unanswered.
import type { Socket } from 'node:net';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import type { ErrorCode } from '../shared/errors.ts';

export interface Waiting {
  socket: Socket;
  ticket: ConnectionTicket;
  /** performance.now() when it started waiting. */
  since: number;
}

export class WaitQueue {
  readonly #items: Waiting[] = [];
  readonly #timeoutMs: number;
  readonly #waitingFor: string;
  #timer: NodeJS.Timeout | null = null;
  /** Connections refused for waiting too long, over the server's life. */
  expired = 0;

  /** @param waitingFor what they wait for, for the refusal message ("a connection thread"). */
  constructor(timeoutMs: number, waitingFor: string) {
    this.#timeoutMs = timeoutMs;
    this.#waitingFor = waitingFor;
  }

  get length(): number {
    return this.#items.length;
  }

  push(socket: Socket, ticket: ConnectionTicket): void {
    this.#items.push({ socket, ticket, since: performance.now() });
    this.#arm();
  }

  /** Back to the front (a hand-off that failed), keeping its place in time. */
  unshift(w: Waiting): void {
    this.#items.unshift(w);
    this.#arm();
  }

  shift(): Waiting | undefined {
    return this.#items.shift();
  }

  /** The newest (to refuse it when the queue is over its length bound). */
  pop(): Waiting | undefined {
    return this.#items.pop();
  }

  /** Refuses every waiting connection but the `keep` oldest (still unread: the peer gets the code). */
  refuseAll(code: ErrorCode, message: string, keep = 0): void {
    for (const { socket, ticket } of this.#items.splice(keep)) ticket.refuse(socket, code, message);
  }

  /** Closing: every waiting connection is dropped. */
  destroyAll(): void {
    for (const { socket, ticket } of this.#items.splice(0)) {
      socket.destroy();
      ticket.closed({ reason: 'destroyed' });
    }
  }

  #arm(): void {
    if (this.#timer || this.#timeoutMs <= 0 || this.#items.length === 0) return;
    const head = this.#items[0]!;
    this.#timer = setTimeout(this.#expire, Math.max(0, head.since + this.#timeoutMs - performance.now())).unref();
  }

  #expire = (): void => {
    this.#timer = null;
    const now = performance.now();
    // Oldest first: stop at the first one still within its time.
    while (this.#items.length > 0 && now - this.#items[0]!.since >= this.#timeoutMs) {
      const { socket, ticket } = this.#items.shift()!;
      this.expired++;
      ticket.refuse(socket, 'E_BUSY', `waited ${this.#timeoutMs / 1000} s for ${this.#waitingFor}; try again later`);
    }
    this.#arm();
  };
}
