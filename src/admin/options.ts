// The admin endpoint's options and the rule that refuses them: apart from server.ts so the CLI can
// check --admin-* flags before it starts anything, without loading prom-client.

export interface AdminOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Bearer token; required unless `host` is a loopback address. */
  token?: string;
}

/** 127.0.0.0/8, ::1 and localhost: the only places an admin endpoint may listen without a token. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** The refusal to start, as a reason (null: fine). */
export function adminOptionsError(o: AdminOptions): string | null {
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) return `--admin-port must be an integer 0..65535 (got ${o.port})`;
  if (!isLoopback(o.host) && !o.token) return `--admin-host ${o.host} is not a loopback address: the admin endpoint can drain the server, so give --admin-token (or SWITCHBOARD_ADMIN_TOKEN)`;
  if (o.token !== undefined && o.token.length < 16) return '--admin-token must be at least 16 characters';
  return null;
}

