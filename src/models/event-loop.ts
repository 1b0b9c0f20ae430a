// event-loop: every connection multiplexed on the main thread's event loop (epoll underneath),
// the HOWTO's "non-blocking sockets + select". Cheapest per connection; one core at most, and a
// handler that hogs the CPU stalls every connection.
import type { Socket } from 'node:net';
import type { ConnectionTicket } from '../shared/accept-loop.ts';
import { connectionLimits } from '../shared/config.ts';
import { serveConnection, type Connection } from '../shared/connection.ts';
import { loadHandler, type Handler } from '../shared/handler.ts';
import { RequestMetrics, workerLabel } from '../shared/metrics.ts';
import { ModelBase, type ModelContext } from './model.ts';

export class EventLoopModel extends ModelBase {
  #handler!: Handler;
  readonly #connections = new Set<Connection>();
  readonly #limits;
  readonly #metrics = new RequestMetrics(workerLabel(0));

  constructor(ctx: ModelContext) {
    super('event-loop', ctx, null); // starts no thread or process: startup n stays 0
    this.#limits = connectionLimits(ctx.options);
    this.metricsTable.addLocal(this.#metrics);
  }

  protected async onStart(): Promise<void> {
    this.#handler = await loadHandler(this.ctx.handlerUrl);
  }

  protected onAccept(socket: Socket, ticket: ConnectionTicket): void {
    const conn = serveConnection(socket, {
      handler: this.#handler,
      model: this.name,
      connection: ticket.id,
      limits: this.#limits,
      counters: this.counters,
      admit: (address) => ticket.admit(address),
      metrics: this.#metrics,
    });
    this.#connections.add(conn);
    void conn.done.then((summary) => {
      this.#connections.delete(conn);
      ticket.closed(summary);
    });
  }

  protected async onDrain(): Promise<void> {
    for (const conn of this.#connections) conn.drain();
  }

  protected async onClose(): Promise<void> {
    for (const conn of this.#connections) conn.destroy();
  }

  protected workers(): number {
    return 1;
  }
}
