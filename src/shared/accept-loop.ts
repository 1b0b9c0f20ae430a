// The one accept loop. A single net.Server owns accept(); each new socket is numbered,
// checked against the server-wide limits and handed, unread, to whichever model runs the
// connections. The loop never reads a byte itself (pauseOnConnect), so the model can move the
// socket to a worker thread or a child process untouched.
import net, { type AddressInfo, type Socket } from 'node:net';
import type { FilledServerOptions } from './config.ts';
import { formatPeer } from './address.ts';
import { refuseConnection, type CloseReason, type ConnectionSummary, type Refusal } from './connection.ts';
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
  /**
   * --proxy-protocol with --max-connections-per-ip: count this connection against the client
   * its PROXY header named (the TCP peer is the proxy). Null admits; a refusal is already
   * counted, and the connection answers it and closes. At most once per connection.
   */
  admit(address: string): Refusal;
}

export interface ConnectionSink {
  accept(socket: Socket, ticket: ConnectionTicket): void;
}

export interface AcceptStats {
  accepted: number;
  active: number;
  refused: number;
  /**
   * `refused` by reason: max-connections, per-ip (--max-connections-per-ip), queue (the model's
   * wait queue full or waited too long: E_BUSY), shutting-down, start-failed (E_INTERNAL).
   */
  refusedBy: Record<string, number>;
  /** --proxy-protocol: connections closed for a missing, malformed, oversized or late header. */
  badProxyHeader: number;
}

/** stopAccepting(): how long the listener stays open after a drain begins (see there). */
const FINAL_ACCEPT_MIN_MS = 200;
/** …and at most, while connections keep arriving. */
const FINAL_ACCEPT_MAX_MS = 1_000;
/** …checking this often whether any arrived. */
const FINAL_ACCEPT_POLL_MS = 20;

export class AcceptLoop {
  readonly #server: net.Server;
  #sink: ConnectionSink;
  #options: FilledServerOptions;
  readonly #log: Logger;
  readonly #perIp = new Map<string, number>();
  #nextId = 1;
  #active = 0;
  #refused = 0;
  readonly #refusedBy: Record<string, number> = {};
  #badProxy = 0;

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

  /**
   * A live switch: connections accepted from now on go to `sink` under `options`' limits; the
   * ones already handed over stay with the sink they went to. The listening socket, the
   * connection numbers and the per-address counts carry on.
   */
  switchTo(sink: ConnectionSink, options: FilledServerOptions): void {
    this.#sink = sink;
    this.#options = options;
  }

  /**
   * Stop accepting new connections; connections already handed over are the model's to finish.
   * Resolves once the listener is closed.
   *
   * Not at once. A connection its peer already sees as established can still be on its way to
   * this process: in the listen backlog behind a busy turn (a fork blocks the main thread
   * 30–150 ms), or with its handshake's last ACK not yet processed by a loaded kernel. Closing the
   * listener resets all of those (RST), though their peers may have sent requests: on a loaded
   * 2-core box a SIGTERM 100 ms after 20 connects reset the last 1–6 of them, some more than
   * 60 ms after the signal. So the listener stays open for FINAL_ACCEPT_MIN_MS, and on while
   * connections keep arriving, up to FINAL_ACCEPT_MAX_MS; what it takes then is served and drained
   * like the rest.
   */
  async stopAccepting(): Promise<void> {
    const started = performance.now();
    while (this.#server.listening) {
      const before = this.#nextId;
      await new Promise((resolve) => setTimeout(resolve, FINAL_ACCEPT_POLL_MS));
      const elapsed = performance.now() - started;
      if (elapsed >= FINAL_ACCEPT_MAX_MS || (elapsed >= FINAL_ACCEPT_MIN_MS && this.#nextId === before)) break;
    }
    if (this.#server.listening) this.#server.close();
  }

  stats(): AcceptStats {
    return { accepted: this.#nextId - 1, active: this.#active, refused: this.#refused, refusedBy: { ...this.#refusedBy }, badProxyHeader: this.#badProxy };
  }

  #onConnection = (socket: Socket): void => {
    const id = this.#nextId++;
    const ip = socket.remoteAddress ?? '';
    const { maxConnections, proxyProtocol } = this.#options;
    if (this.#active >= maxConnections) {
      this.#countRefusal('max-connections');
      refuseConnection(socket, 'E_BUSY', `server at its limit of ${maxConnections} connections`);
      return;
    }
    // Behind a PROXY-protocol balancer every TCP peer is the balancer: clients are counted when
    // their connection's header names them (ticket.admit), not here.
    let counted: string | null = null;
    if (!proxyProtocol) {
      const refusal = this.#countPeer(ip);
      if (refusal) {
        refuseConnection(socket, refusal.code, refusal.message);
        return;
      }
      counted = ip;
    }
    this.#active++;
    // Debug only (the fields are built only then): pairs a connection id with the peer's port,
    // which is how a test or an operator finds one connection's story in the log.
    if (this.#log.isLevelEnabled('debug')) this.#log.debug({ connection: id, peer: formatPeer(ip, socket.remotePort) }, 'connection accepted');
    let open = true;
    const ticket: ConnectionTicket = {
      id,
      remoteAddress: ip,
      closed: (summary) => {
        if (!open) return;
        open = false;
        this.#active--;
        if (summary?.reason) this.#onClosedBecause(summary.reason);
        // The client as the PROXY header named it when there was one, else the TCP peer. Guarded:
        // the fields object would be built on every close even with debug off.
        if (this.#log.isLevelEnabled('debug')) this.#log.debug({ connection: id, peer: summary?.peer ?? ip, reason: summary?.reason, requests: summary?.requests }, 'connection closed');
        if (counted !== null) this.#uncountPeer(counted);
        counted = null;
      },
      refuse: (s, code, message) => {
        ticket.closed();
        this.#countRefusal(code === 'E_BUSY' ? 'queue' : code === 'E_SHUTTING_DOWN' ? 'shutting-down' : 'start-failed');
        refuseConnection(s, code, message);
      },
      admit: (address) => {
        if (!open || counted !== null) return null;
        const refusal = this.#countPeer(address);
        if (!refusal) counted = address;
        return refusal;
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

  /** --max-connections-per-ip: counts one more connection from `address`, or refuses it (counted). */
  #countPeer(address: string): Refusal {
    const limit = this.#options.maxConnectionsPerIp;
    const from = this.#perIp.get(address) ?? 0;
    if (limit > 0 && from >= limit) {
      this.#countRefusal('per-ip');
      return { code: 'E_BUSY', message: `limit of ${limit} connections per client address reached` };
    }
    this.#perIp.set(address, from + 1);
    return null;
  }

  #countRefusal(reason: string): void {
    this.#refused++;
    this.#refusedBy[reason] = (this.#refusedBy[reason] ?? 0) + 1;
  }

  #uncountPeer(address: string): void {
    const left = (this.#perIp.get(address) ?? 1) - 1;
    if (left > 0) this.#perIp.set(address, left);
    else this.#perIp.delete(address);
  }

  #onClosedBecause(reason: CloseReason): void {
    if (reason === 'bad-proxy') this.#badProxy++;
  }
}
