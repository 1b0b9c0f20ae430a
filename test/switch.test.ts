// Live change under load: 64 closed-loop sessions (each connection carries 25 requests, then a
// new one) while the model is switched event-loop → process-pool → thread-pool → event-loop every
// 2 s for 10 s, and while pools are restarted (a new generation of the same flags). Nothing may be
// refused, lost or answered with an ERROR frame; the p99 during switches is printed beside the
// steady one (timed assertions belong in the benchmark, not here).
import { describe, expect, it } from 'vitest';
import { percentileIn, runSessions, type SessionsResult } from '../harness/sessions.ts';
import { RawPeer } from '../harness/peer.ts';
import { adminStats, adminUrlOf, finalStats } from '../harness/server.ts';
import { infoFrame } from '../harness/wire.ts';
import { startServer, type TestServer } from './helpers/server.ts';

/** Which process and thread answered INFO on a new connection. */
async function servedBy(port: number): Promise<string> {
  const p = await RawPeer.connect(port);
  await p.write(infoFrame());
  await p.waitFrames(1);
  p.destroy();
  const i = JSON.parse(p.frames[0]!.payload.toString()) as { pid: number; threadId: number };
  return `${i.pid}/${i.threadId}`;
}

const LOAD = { sessions: 64, requestsPerConnection: 25, durationMs: 10_000 };

async function post(url: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const res = await fetch(`${url}${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body), headers, signal: AbortSignal.timeout(60_000) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function started(model: string, flags: string[] = []): Promise<{ server: TestServer; url: string }> {
  // --drain-timeout 30: a replaced generation keeps its connections until their clients close them.
  const server = await startServer(model, ['--admin-port', '0', '--drain-timeout', '30', '--log-level', 'info', ...flags]);
  return { server, url: adminUrlOf(server) };
}

/** Runs the load; at each `at` ms runs `change`; returns the load's result and each change's answer and time. */
async function underLoad(port: number, changes: { at: number; change: () => Promise<{ status: number; json: Record<string, unknown> }> }[]) {
  const t0 = performance.now();
  const load = runSessions({ port, ...LOAD });
  const answers: { status: number; json: Record<string, unknown>; from: number; to: number }[] = [];
  for (const { at, change } of changes) {
    const wait = at - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const from = performance.now() - t0;
    const answer = await change();
    answers.push({ ...answer, from, to: performance.now() - t0 });
  }
  return { result: await load, answers };
}

function expectNothingLost(r: SessionsResult): void {
  expect(r.errorFrames, r.firstProblem ?? '').toEqual({});
  expect(r.lost, r.firstProblem ?? '').toBe(0);
  expect(r.connectFailed, r.firstProblem ?? '').toBe(0);
  expect(r.wrong).toBe(0);
  expect(r.ok).toBeGreaterThan(1000);
}

/** p99 inside the windows from each change's start to 1 s after it answered, and outside them. */
function p99s(r: SessionsResult, answers: { from: number; to: number }[]): string {
  const inWindow = r.samples.filter(([t]) => answers.some((a) => t >= a.from && t < a.to + 1000));
  const steady = r.samples.filter(([t]) => t > 1000 && !answers.some((a) => t >= a.from && t < a.to + 1000));
  const fmt = (v: number | null) => (v === null ? '–' : `${(v / 1000).toFixed(2)} ms`);
  return `p99 during changes ${fmt(percentileIn(inWindow, 99))} (${inWindow.length} answers), steady ${fmt(percentileIn(steady, 99))} (${steady.length} answers)`;
}

describe('live switch under load', () => {
  it('event-loop → process-pool → thread-pool → event-loop every 2 s for 10 s: 0 refused, 0 lost, 0 error frames', async () => {
    const { server, url } = await started('event-loop');
    const to = (settings: Record<string, unknown>) => () => post(url, '/switch', settings);
    const { result, answers } = await underLoad(server.port, [
      { at: 2000, change: to({ model: 'process-pool', processes: 2 }) },
      { at: 4000, change: to({ model: 'thread-pool', threads: 2 }) },
      { at: 6000, change: to({ model: 'event-loop' }) },
      { at: 8000, change: to({ model: 'process-pool', processes: 2 }) },
    ]);
    expect(answers.map((a) => [a.status, a.json.model, a.json.generation])).toEqual([
      [200, 'process-pool', 2],
      [200, 'thread-pool', 3],
      [200, 'event-loop', 4],
      [200, 'process-pool', 5],
    ]);
    expectNothingLost(result);
    console.log(`switch under load: ${result.ok} answers over ${result.connections} connections; ${p99s(result, answers)}`);
    // New connections are served by the last generation.
    const p = await RawPeer.connect(server.port);
    await p.write(infoFrame());
    await p.waitFrames(1);
    expect(JSON.parse(p.frames[0]!.payload.toString())).toMatchObject({ model: 'process-pool' });
    p.destroy();
    // Every replaced generation retired once its connections were done, well before --drain-timeout.
    const stats = (await (await fetch(`${url}/stats`)).json()) as { generation: number; retiring: number; accept: { refused: number } };
    expect(stats.generation).toBe(5);
    expect(stats.accept.refused).toBe(0);
    expect(server.stderr()).toMatch(/"generation":4,"model":"event-loop".*"msg":"previous generation retired"/);
    expect(await server.stop(20_000)).toBe(0);
    expect(finalStats(server.stderr())?.accept.refused).toBe(0);
  });

  it('--handler can change live only with a token: 400 on an endpoint without one', async () => {
    const { url } = await started('event-loop');
    const r = await post(url, '/switch', { handler: '/tmp/any-module.mjs' });
    expect(r.status).toBe(400);
    expect(String(r.json.error)).toMatch(/--handler loads code.*--admin-token/);
  });

  it('a switch that cannot start (a handler that does not load) changes nothing: 500 with the reason, the old generation keeps serving', async () => {
    const token = 'switch-test-token-0123456789';
    const { server, url } = await started('thread-pool', ['--threads', '1', '--admin-token', token]);
    const bad = await post(url, '/switch', { model: 'process-pool', handler: '/nonexistent/handler.ts' }, token);
    expect(bad.status).toBe(500);
    expect(String(bad.json.error)).toMatch(/failed to start.*keeps serving/);
    const typo = await post(url, '/switch', { modle: 'event-loop' }, token);
    expect(typo.status).toBe(400);
    expect(String(typo.json.error)).toMatch(/modle/);
    const p = await RawPeer.connect(server.port);
    await p.write(infoFrame());
    await p.waitFrames(1);
    expect(JSON.parse(p.frames[0]!.payload.toString())).toMatchObject({ model: 'thread-pool' });
    p.destroy();
    const stats = (await (await fetch(`${url}/stats`, { headers: { authorization: `Bearer ${token}` } })).json()) as { generation: number };
    expect(stats.generation).toBe(1);
  });
});

describe.each([
  ['process-pool', ['--processes', '2']],
  ['thread-pool', ['--threads', '2']],
])('rolling restart under load: %s', (model, flags) => {
  it('two restarts during 10 s of load: fresh threads or children, 0 refused, 0 lost, 0 error frames', async () => {
    const { server, url } = await started(model, flags);
    const before = new Set<unknown>();
    for (let i = 0; i < 12; i++) before.add(await servedBy(server.port));
    const restart = () => post(url, '/restart');
    const { result, answers } = await underLoad(server.port, [
      { at: 3000, change: restart },
      { at: 6500, change: restart },
    ]);
    // Both pools replace their children or threads one at a time, in place: generation 1 stays.
    const expected = [[200, 'rolling', model, 1, 2], [200, 'rolling', model, 1, 2]];
    expect(answers.map((a) => [a.status, a.json.kind, a.json.model, a.json.generation, a.json.replaced])).toEqual(expected);
    expectNothingLost(result);
    console.log(`${model} rolling restart under load: ${result.ok} answers; ${p99s(result, answers)}`);
    const stats = await adminStats(url);
    expect(stats.lifecycle.starts).toBe(6); // 2 workers, replaced twice
    expect(stats.lifecycle.respawns).toBe(0); // replaced on purpose, not after a crash
    // Every child or thread that served before the first restart is gone: INFO is answered by a new one.
    for (let i = 0; i < 12; i++) expect(before.has(await servedBy(server.port))).toBe(false);
    expect(await server.stop(20_000)).toBe(0);
  });
});
