// The one accept loop. A single net.Server owns accept(); each new socket is numbered,
// checked against the server-wide limits and handed, unread, to whichever model runs the
// connections. The loop never reads a byte itself (pauseOnConnect), so the model can move the
// socket to a worker thread or a child process untouched.
import net, { type AddressInfo, type Socket } from 'node:net';
import type { FilledServerOptions } from './config.ts';
import { refuseConnection, type ConnectionSummary } from './connection.ts';
import type { ErrorCode } from './errors.ts';
import type { Logger } from './log.ts';

/** What the accept loop hands a model with each socket. */
export interface ConnectionTicket {
  /** Server-wide sequence number of this connection (1, 2, …). */
  readonly id: number;
  readonly remoteAddress: string;
  /** The model reports that the connection is over (idempotent); frees its slot. */
  closed(summary?: Partial<ConnectionSummary>): void;
  /** Turn the connection away with an ERROR frame (the socket must still be unread and here). */
  refuse(socket: Socket, code: ErrorCode, message: string): void;
}

export interface ConnectionSink {
  accept(socket: Socket, ticket: ConnectionTicket): void;
}

export interface AcceptStats {
  accepted: number;
  active: number;
  refused: number;
}

export class AcceptLoop {
  readonly #server: net.Server;
  readonly #sink: ConnectionSink;
  readonly #options: FilledServerOptions;
  readonly #log: Logger;
  readonly #perIp = new Map<string, number>();
  #nextId = 1;
  #active = 0;
  #refused = 0;

  constructor(sink: ConnectionSink, options: FilledServerOptions, log: Logger) {
    this.#sink = sink;
    this.#options = options;
    this.#log = log;
    this.#server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, this.#onConnection);
    // Accept errors (EMFILE, ENFILE) must not end the loop: log them, keep serving the others.
    this.#server.on('error', (err) => this.#log.error({ err }, 'accept failed'));
  }

  listen(): Promise<AddressInfo> {
    const { host, port } = this.#options;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ host, port, backlog: 4096 }, () => {
        this.#server.off('error', onError);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Stop accepting new connections; connections already handed over are the model's to finish. */
  stopAccepting(): void {
    if (this.#server.listening) this.#server.close();
  }

  stats(): AcceptStats {
    return { accepted: this.#nextId - 1, active: this.#active, refused: this.#refused };
  }

  #onConnection = (socket: Socket): void => {
    const id = this.#nextId++;
    const ip = socket.remoteAddress ?? '';
    const { maxConnections, maxConnectionsPerIp } = this.#options;
    if (this.#active >= maxConnections) {
      this.#refused++;
      refuseConnection(socket, 'E_BUSY', `server at its limit of ${maxConnections} connections`);
      return;
    }
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (maxConnectionsPerIp > 0 && fromIp >= maxConnectionsPerIp) {
      this.#refused++;
      refuseConnection(socket, 'E_BUSY', `limit of ${maxConnectionsPerIp} connections per client address reached`);
      return;
    }
    this.#active++;
    this.#perIp.set(ip, fromIp + 1);
    let open = true;
    const ticket: ConnectionTicket = {
      id,
      remoteAddress: ip,
      closed: () => {
        if (!open) return;
        open = false;
        this.#active--;
        const left = (this.#perIp.get(ip) ?? 1) - 1;
        if (left > 0) this.#perIp.set(ip, left);
        else this.#perIp.delete(ip);
      },
      refuse: (s, code, message) => {
        ticket.closed();
        this.#refused++;
        refuseConnection(s, code, message);
      },
    };
    try {
      this.#sink.accept(socket, ticket);
    } catch (err) {
      // A failed hand-off costs this one connection, never the loop.
      this.#log.error({ err, connection: id }, 'hand-off to model failed');
      ticket.closed();
      socket.destroy();
    }
  };
}
