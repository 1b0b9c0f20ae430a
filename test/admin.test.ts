// The admin endpoint (serve --admin-port) and `switchboard ctl`, against real server processes:
// live metrics from every model (figures from threads and children while they run, not at exit),
// the bad-input answers, the token rule, drain over HTTP, and ctl's output and exit codes.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { MODEL_NAMES } from '../src/models/registry.ts';
import { Op } from '../src/shared/protocol.ts';
import { RawPeer } from '../harness/peer.ts';
import { adminUrlOf } from '../harness/server.ts';
import { until } from '../harness/time.ts';
import { echoFrame, infoFrame, sleepFrame } from '../harness/wire.ts';
import { CLI, startServer, type TestServer } from './helpers/server.ts';

const TOKEN = 'test-token-0123456789abcdef';

async function withAdmin(model: string, flags: string[] = []): Promise<{ server: TestServer; url: string; port: number }> {
  const server = await startServer(model, ['--admin-port', '0', ...flags]);
  return { server, url: adminUrlOf(server), port: server.port };
}

const metricValue = (text: string, series: string): number | null => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
};

const ctl = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, 'ctl', ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });

describe.each(MODEL_NAMES)('admin endpoint: %s', (model) => {
  it('GET /metrics is live: requests by op and per-worker connections while they are open; /stats and /healthz agree', async () => {
    const { url, port } = await withAdmin(model);
    const a = await RawPeer.connect(port);
    for (let i = 0; i < 5; i++) await a.write(echoFrame(`r${i}`));
    await a.write(infoFrame());
    await a.waitFrames(6);
    // Threads and children report every second: within a few the counts are there, with `a` still open.
    let text = '';
    const seen = await until(() => {
      void fetch(`${url}/metrics`).then(async (r) => (text = await r.text()));
      return metricValue(text, 'switchboard_requests_total{op="ECHO"}') === 5 && metricValue(text, 'switchboard_requests_total{op="INFO"}') === 1;
    }, 8000, 200);
    expect(seen, text.split('\n').filter((l) => l.startsWith('switchboard_req')).join('\n')).toBe(true);
    expect(metricValue(text, 'switchboard_request_duration_seconds_count')).toBe(6);
    expect(metricValue(text, 'switchboard_connections_active')).toBe(1);
    const perWorker = text.split('\n').filter((l) => l.startsWith('switchboard_worker_active_connections{'));
    expect(perWorker.reduce((n, l) => n + Number(l.split(' ')[1]), 0), perWorker.join('\n')).toBe(1);
    expect(perWorker.every((l) => /worker="(thread:\d+|pid:\d+)"/.test(l))).toBe(true);
    expect(metricValue(text, `switchboard_model_generation{model="${model}"}`)).toBe(1);
    expect(text).toMatch(/^process_cpu_seconds_total /m); // prom-client's Node process metrics
    const stats = (await (await fetch(`${url}/stats`)).json()) as { model: string; metrics: { totals: { requests: Record<string, number> } } };
    expect(stats.model).toBe(model);
    expect(stats.metrics.totals.requests.ECHO).toBe(5);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'serving', model, generation: 1 });
    a.destroy();
  });
});

describe('admin endpoint: bad input and access', () => {
  it('404 unknown path, 405 wrong method with Allow, 413 a body over 64 KiB, 400 bad JSON — each with its reason', async () => {
    const { url } = await withAdmin('event-loop');
    const notFound = await fetch(`${url}/nope`);
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as { error: string }).error).toMatch(/no such path \/nope/);
    const wrong = await fetch(`${url}/metrics`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    const big = await fetch(`${url}/drain`, { method: 'POST', body: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    const bad = await fetch(`${url}/drain`, { method: 'POST', body: '{"model":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/not JSON/);
    // A request target no URL parser accepts is still only a 404, not a crash.
    const raw = await new Promise<string>((resolve, reject) => {
      const u = new URL(url);
      const c = net.connect(Number(u.port), u.hostname, () => c.end('GET //[ HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('close', () => resolve(got));
      c.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 404/);
    // None of it drained or stopped the server.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('with --admin-token every request needs the bearer token: missing or wrong → 401', async () => {
    const { url } = await withAdmin('event-loop', ['--admin-token', TOKEN]);
    expect((await fetch(`${url}/stats`)).status).toBe(401);
    expect((await fetch(`${url}/stats`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await fetch(`${url}/stats`, { headers: { authorization: TOKEN } })).status).toBe(401);
    expect((await fetch(`${url}/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('refuses to start on a non-loopback address without a token, or with a short one (exit 2, the reason)', () => {
    const run = (flags: string[]) => spawnSync(process.execPath, [CLI, 'serve', '--port', '0', ...flags], { encoding: 'utf8', timeout: 20_000 });
    const open = run(['--admin-port', '0', '--admin-host', '0.0.0.0']);
    expect(open.status).toBe(2);
    expect(open.stderr).toMatch(/not a loopback address.*--admin-token/);
    const short = run(['--admin-port', '0', '--admin-token', 'short']);
    expect(short.status).toBe(2);
    expect(short.stderr).toMatch(/at least 16 characters/);
    const alone = run(['--admin-token', TOKEN]);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toMatch(/needs --admin-port/);
  });

  it('off unless --admin-port: the serve line names no admin URL', async () => {
    const server = await startServer('event-loop');
    expect(server.listeningLine).not.toMatch(/admin/);
  });
});

describe('drain over the admin endpoint, and switchboard ctl', () => {
  it('POST /drain: 202, /healthz 503 while the drain runs, the request in flight is answered, exit 0', async () => {
    const { server, url, port } = await withAdmin('thread-pool');
    const p = await RawPeer.connect(port);
    await p.write(sleepFrame(1500));
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${url}/drain`, { method: 'POST' });
    expect(res.status).toBe(202);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: 'draining' });
    await p.waitFrames(1, 5000);
    expect(p.frames[0]!.op).toBe(Op.SLEEP);
    expect(await server.exited).toBe(0);
  });

  it('ctl stats | health | metrics | drain: readable output, --json, and exit codes (0, 1 draining, 3 unreachable)', async () => {
    const { server, url } = await withAdmin('process-pool', ['--processes', '2', '--admin-token', TOKEN]);
    const admin = url.replace('http://', '');
    const env = { SWITCHBOARD_ADMIN_TOKEN: TOKEN };
    const stats = ctl(['stats', '--admin', admin], env);
    expect(stats.status, stats.stderr).toBe(0);
    expect(stats.stdout).toMatch(/^model\s+process-pool \(generation 1, running\)/m);
    expect(stats.stdout).toMatch(/^worker\s+connections\s+served\s+requests/m);
    const json = ctl(['stats', '--admin', admin, '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ model: 'process-pool', generation: 1 });
    expect(ctl(['metrics', '--admin', admin], env).stdout).toMatch(/^switchboard_workers 2$/m);
    const noToken = ctl(['stats', '--admin', admin], { SWITCHBOARD_ADMIN_TOKEN: '' });
    expect(noToken.status).toBe(1);
    expect(noToken.stderr).toMatch(/HTTP 401/);
    expect(ctl(['health', '--admin', admin], env).stdout.trim()).toBe('serving');
    const drain = ctl(['drain', '--admin', admin], env);
    expect(drain.status, drain.stderr).toBe(0);
    expect(drain.stdout.trim()).toBe('draining');
    expect(await server.exited).toBe(0);
    const gone = ctl(['health', '--admin', admin], env);
    expect(gone.status).toBe(3);
    expect(gone.stderr).toMatch(/cannot reach the admin endpoint/);
  });

  it('ctl switch: its own options anywhere, the rest sent as serve flags; a bad flag exits 2 and changes nothing', async () => {
    const { url, port } = await withAdmin('event-loop');
    const admin = url.replace('http://', '');
    const typo = ctl(['switch', '--model', 'thread-pool', '--threadz', '2', '--admin', admin]);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/threadz/);
    const badTimeout = ctl(['switch', '--model', 'thread-pool', '--timeout', 'soon', '--admin', admin]);
    expect(badTimeout.status).toBe(2);
    expect(badTimeout.stderr).toMatch(/--timeout must be a number of seconds/);
    const info = async () => {
      const p = await RawPeer.connect(port);
      await p.write(infoFrame());
      await p.waitFrames(1, 5000);
      p.destroy();
      return JSON.parse(p.frames[0]!.payload.toString('utf8')) as { model: string };
    };
    expect((await info()).model).toBe('event-loop'); // the refused switches changed nothing
    const sw = ctl(['switch', '--admin', admin, '--model', 'thread-pool', '--threads=1', '--json', '--connections-per-thread', '8']);
    expect(sw.status, sw.stderr).toBe(0);
    expect(JSON.parse(sw.stdout)).toMatchObject({ generation: 2, model: 'thread-pool', previous: { generation: 1, model: 'event-loop' } });
    expect((await info()).model).toBe('thread-pool');
  });
});
