// `switchboard ctl`: the admin endpoint from the command line. Readable output for people,
// --json for scripts. Exit codes as the rest of the CLI: 0 done, 1 the server said no (an HTTP
// error, or /healthz while draining), 2 bad usage, 3 the endpoint could not be reached.
import yargs from 'yargs';
import type { ModelMetrics, ModelStats } from '../models/model.ts';
import type { AcceptStats } from '../shared/accept-loop.ts';

export interface CtlOptions {
  admin: string; // HOST:PORT or a URL
  token?: string;
  json: boolean;
  timeoutMs: number;
}

export type CtlCommand = 'stats' | 'metrics' | 'health' | 'drain' | 'switch' | 'restart';

const ROUTE: Record<CtlCommand, { method: string; path: string }> = {
  stats: { method: 'GET', path: '/stats' },
  metrics: { method: 'GET', path: '/metrics' },
  health: { method: 'GET', path: '/healthz' },
  drain: { method: 'POST', path: '/drain' },
  switch: { method: 'POST', path: '/switch' },
  restart: { method: 'POST', path: '/restart' },
};

/** yargs-parser settings that keep flags as typed: names as written, values as strings, last one wins. */
const AS_WRITTEN = { 'camel-case-expansion': false, 'dot-notation': false, 'parse-numbers': false, 'parse-positional-numbers': false, 'duplicate-arguments-array': false } as const;

/**
 * `ctl switch [ctl options] [serve flags…]` split by yargs: its own options (--admin, --token,
 * --timeout, --json, anywhere) taken out, every other argument kept, in order, as a serve flag.
 */
export function splitSwitchArgs(args: readonly string[]): { admin?: string; token?: string; timeout?: string; json: boolean; serveArgs: string[] } {
  const a = yargs([...args])
    .parserConfiguration({ ...AS_WRITTEN, 'unknown-options-as-args': true })
    .options({ admin: { type: 'string' }, token: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean', default: false } })
    .help(false)
    .version(false)
    .parseSync();
  return { admin: a.admin, token: a.token, timeout: a.timeout, json: a.json, serveArgs: a._.map(String) };
}

/**
 * `ctl switch`'s serve flags as the settings object POST /switch takes, parsed by yargs:
 * ['--model', 'thread-pool', '--threads=4', '--proxy-protocol', '--no-x'] →
 * {model: 'thread-pool', threads: '4', 'proxy-protocol': true, x: false}. The server checks them
 * (the CLI has already, with the serve flags' own definitions: parseServeFlags).
 */
export function flagsToSettings(flags: readonly string[]): Record<string, string | boolean> {
  const { _: rest, $0: _program, ...settings } = yargs([...flags]).parserConfiguration(AS_WRITTEN).help(false).version(false).parseSync();
  if (rest.length) throw new Error(`expected a serve flag (--name [value]), got "${rest[0]}"`);
  return settings as Record<string, string | boolean>;
}

export function adminUrl(admin: string): string {
  return /^https?:\/\//.test(admin) ? admin.replace(/\/$/, '') : `http://${admin}`;
}

type Stats = ModelStats & { accept: AcceptStats; generation: number; draining: boolean; metrics: ModelMetrics };

/** Runs one command; prints its result; returns the exit code. */
export async function runCtl(command: CtlCommand, o: CtlOptions & { settings?: Record<string, unknown> }, out = (s: string) => process.stdout.write(s), err = (s: string) => process.stderr.write(s)): Promise<number> {
  const { method, path } = ROUTE[command];
  const url = `${adminUrl(o.admin)}${path}`;
  let res: Response;
  try {
    const body = command === 'switch' ? JSON.stringify(o.settings ?? {}) : undefined;
    res = await fetch(url, {
      method,
      headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body,
      // A switch waits for the new generation to start (children: up to ~15 s each).
      signal: AbortSignal.timeout(command === 'switch' || command === 'restart' ? Math.max(o.timeoutMs, 60_000) : o.timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    err(`switchboard ctl: cannot reach the admin endpoint at ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}\n`);
    return 3;
  }
  const text = await res.text();
  if (command === 'metrics') {
    if (!res.ok) return reportHttpError(res.status, text, err);
    out(text);
    return 0;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    err(`switchboard ctl: ${url} answered HTTP ${res.status} with something other than JSON: ${text.slice(0, 200)}\n`);
    return 1;
  }
  if (command === 'health') {
    out(o.json ? `${JSON.stringify(body)}\n` : `${(body as { status?: string }).status ?? `HTTP ${res.status}`}\n`);
    return res.status === 200 ? 0 : 1;
  }
  if (!res.ok) return reportHttpError(res.status, text, err);
  if (o.json) out(`${JSON.stringify(body, null, 2)}\n`);
  else if (command === 'stats') out(formatStats(body as Stats));
  else if (command === 'restart' && (body as { kind?: string }).kind === 'rolling') {
    const r = body as { generation: number; model: string; replaced: number; ms: number };
    out(`${r.model}: ${r.replaced} ${r.model === 'thread-pool' ? 'threads' : 'children'} replaced one at a time in ${r.ms} ms (generation ${r.generation} stays)\n`);
  } else if (command === 'switch' || command === 'restart') {
    const r = body as { generation: number; model: string; previous: { generation: number; model: string }; startMs: number; connectionsLeft: number };
    out(`generation ${r.generation} (${r.model}) serving new connections after a ${r.startMs} ms start; generation ${r.previous.generation} (${r.previous.model}) finishes its ${r.connectionsLeft} connection(s), then closes\n`);
  } else out(`${(body as { status: string }).status}\n`);
  return 0;
}

function reportHttpError(status: number, text: string, err: (s: string) => void): number {
  let reason = text.trim();
  try {
    reason = (JSON.parse(text) as { error?: string }).error ?? reason;
  } catch {
    /* not JSON: print as is */
  }
  err(`switchboard ctl: HTTP ${status}: ${reason}\n`);
  return 1;
}

/** The stats people read: what runs, how busy it is, how the work is spread. */
export function formatStats(s: Stats): string {
  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const L: string[] = [];
  L.push(`model      ${s.model} (generation ${s.generation}, ${s.draining ? 'draining' : s.state})`);
  L.push(`workers    ${s.workers}   started ${s.lifecycle.starts}, exited ${s.lifecycle.exits}, respawned ${s.lifecycle.respawns}, recycled ${s.lifecycle.recycles}, watchdog kills ${s.lifecycle.watchdogKills}`);
  const refused = Object.entries(s.accept.refusedBy).map(([k, v]) => `${k} ${v}`).join(', ');
  L.push(`connections active ${s.accept.active}, queued ${s.connections.queued}, accepted ${s.accept.accepted}, refused ${s.accept.refused}${refused ? ` (${refused})` : ''}`);
  const t = s.metrics.totals;
  const byOp = Object.entries(t.requests).map(([k, v]) => `${k} ${v}`).join(', ');
  const errors = Object.entries(t.errors).map(([k, v]) => `${k} ${v}`).join(', ');
  L.push(`requests   ${total(t.requests)}${byOp ? ` (${byOp})` : ''}; errors ${total(t.errors)}${errors ? ` (${errors})` : ''}`);
  if (t.duration.count > 0) L.push(`duration   mean ${((t.duration.sum / t.duration.count) * 1e6).toFixed(0)} µs over ${t.duration.count} requests`);
  L.push('');
  L.push('worker            connections  served  requests');
  for (const w of s.metrics.workers) L.push(`${w.worker.padEnd(17)} ${String(w.activeConnections).padStart(11)} ${String(w.connections).padStart(7)} ${String(total(w.requests)).padStart(9)}`);
  if (!s.metrics.workers.length) L.push('(none has reported yet: threads and children report every second)');
  return `${L.join('\n')}\n`;
}
