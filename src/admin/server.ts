// The admin endpoint (`serve --admin-port P`): node:http on its own port, 127.0.0.1 unless told
// otherwise, a bearer token required on any other address. It reads what the server already
// keeps (stats, live metrics) and can start a drain; every handler answers from memory, at once,
// so it never holds up the accept loop that shares this event loop.
//
//   GET  /metrics  Prometheus text (src/admin/metrics.ts)
//   GET  /stats    the server's stats and live per-worker metrics, JSON
//   GET  /healthz  200 {"status":"serving"}, 503 {"status":"draining"}
//   POST /drain    start a graceful drain, as SIGTERM does → 202
//   POST /switch   {"model": "thread-pool", "threads": 4, …}: the next generation with these serve
//                  flags on top of the current ones → 200 when it serves (see src/server.ts)
//   POST /restart  the same flags as a new generation (fresh threads or children) → 200
//
// Bad requests get a status and a reason in JSON: 404 unknown path, 405 wrong method (with Allow),
// 413 a body over 64 KiB, 400 a body that is not JSON, 401 a missing or wrong token.
import http from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { formatPeer } from '../shared/address.ts';
import { SwitchboardError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { createRegistry, type MetricsSource } from './metrics.ts';
import { adminOptionsError, type AdminOptions } from './options.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export type { AdminOptions } from './options.ts';

export interface AdminTarget extends MetricsSource {
  /** Start a graceful drain (idempotent): what SIGTERM does. */
  drain(): void;
  /** A live switch to these serve flags (on top of the current ones). */
  switch(settings: unknown): Promise<unknown>;
  /** The same flags, a new generation. */
  restart(): Promise<unknown>;
}

export interface AdminServer {
  readonly url: string;
  readonly address: AddressInfo;
  close(): Promise<void>;
}

// Hashing both sides gives equal lengths, so timingSafeEqual never throws and the comparison
// takes the same time whatever the guess.
const digest = (s: string) => createHash('sha256').update(s).digest();
function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  return timingSafeEqual(digest(m?.[1] ?? ''), digest(token)) && m !== null;
}

const ROUTES: Record<string, string> = { '/metrics': 'GET', '/stats': 'GET', '/healthz': 'GET', '/drain': 'POST', '/switch': 'POST', '/restart': 'POST' };

/** A failed switch as an HTTP answer: bad flags 400, a switch already running or a shutdown 409, a start that failed 500. */
function switchFailure(err: unknown): [number, string] {
  const code = (err as { code?: string }).code;
  const message = (err as Error).message ?? String(err);
  if (code === 'ERR_INVALID_OPTION') return [400, message];
  if (code === 'ERR_MODEL_STATE') return [409, message];
  return [500, `the new generation failed to start, the current one keeps serving: ${message}`];
}

export async function startAdmin(target: AdminTarget, o: AdminOptions, log: Logger): Promise<AdminServer> {
  const problem = adminOptionsError(o);
  if (problem) throw new SwitchboardError('ERR_INVALID_OPTION', problem);
  const registry = createRegistry(target);

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.headersSent) return;
      const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
      res.writeHead(status, { 'content-type': typeof body === 'string' ? registry.contentType : 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(text);
    };
    const fail = (status: number, error: string, headers: Record<string, string> = {}) => send(status, { error }, headers);
    if (o.token && !tokenMatches(req.headers.authorization, o.token)) {
      return fail(401, 'missing or wrong bearer token (Authorization: Bearer <--admin-token>)', { 'www-authenticate': 'Bearer' });
    }
    // The path as sent, without the query: nothing here parses a URL that could throw.
    const path = (req.url ?? '/').split('?')[0]!;
    const method = ROUTES[path];
    if (!method) return fail(404, `no such path ${path}; try ${Object.keys(ROUTES).join(', ')}`);
    if (req.method !== method) return fail(405, `${req.method} not allowed on ${path}; use ${method}`, { allow: method });

    // A body is read whole (bounded) before anything acts on it.
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      fail(413, `body of ${declared} bytes is over the ${MAX_BODY_BYTES}-byte limit`, { connection: 'close' });
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        fail(413, `body over the ${MAX_BODY_BYTES}-byte limit`, { connection: 'close' });
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let body: unknown = null;
      if (size > 0) {
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch (err) {
          return fail(400, `body is not JSON: ${(err as Error).message}`);
        }
      }
      void respond(path, body).catch((err: Error) => fail(500, err.message));
    });
    req.on('error', () => res.destroy());

    async function respond(p: string, body: unknown): Promise<void> {
      switch (p) {
        case '/metrics':
          return send(200, await registry.metrics());
        case '/stats':
          return send(200, { generation: target.generation(), draining: target.draining(), ...target.stats(), metrics: target.metrics() });
        case '/healthz':
          return target.draining() ? send(503, { status: 'draining' }) : send(200, { status: 'serving', model: target.stats().model, generation: target.generation() });
        case '/drain':
          if (body !== null && (typeof body !== 'object' || Array.isArray(body) || Object.keys(body as object).length > 0)) return fail(400, 'POST /drain takes no body (or {})');
          log.info({}, 'drain requested over the admin endpoint');
          target.drain();
          return send(202, { status: 'draining' });
        case '/switch':
        case '/restart': {
          if (p === '/switch' && (body === null || typeof body !== 'object' || Array.isArray(body))) return fail(400, 'POST /switch needs a JSON object of serve flags, e.g. {"model": "thread-pool", "threads": 4}');
          if (p === '/restart' && body !== null && (typeof body !== 'object' || Object.keys(body as object).length > 0)) return fail(400, 'POST /restart takes no body (or {})');
          if (target.draining()) return fail(409, 'the server is draining');
          try {
            return send(200, await (p === '/switch' ? target.switch(body) : target.restart()));
          } catch (err) {
            const [status, reason] = switchFailure(err);
            return fail(status, reason);
          }
        }
      }
    }
  });
  // Slow or idle admin clients must not hold sockets for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.host, port: o.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'admin endpoint failed'));
  const address = server.address() as AddressInfo;
  return {
    url: `http://${formatPeer(address.address, address.port)}`,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
