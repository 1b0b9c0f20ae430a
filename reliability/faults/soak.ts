// Fault 10 — soak: a mixed workload (ECHO, WORK, SLEEP, connection churn) at about half of the
// capacity measured just before, sampling the server tree's RSS, anonymous RSS (the heap-ish
// part: JS heap + malloc; V8's heap itself is not visible from outside), open fds, threads and
// children every 5 s. After warm-up (first 20 %, at least 30 s) the trend must be flat; 0 errors, 0 lost.
//
// `make reliability` soaks every model side by side (runTogether): six 5-minute soaks one after
// another would take 30 of the run's 25 minutes. Each server's capacity is probed alone first;
// then each is paced to half of its capacity divided by the number soaking at once, so the machine
// as a whole runs at about half load, as one soak alone would.
import { Op } from '../../src/shared/protocol.ts';
import { echoOk } from '../../harness/client.ts';
import { runLoad } from '../../harness/load.ts';
import { sleep } from '../../harness/time.ts';
import { connectionCapacity, factsOf } from '../../harness/variants.ts';
import { pick, Recorder, round, startServer, type FaultContext, type FaultResult, type Server } from '../lib.ts';

export const name = 'soak';

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? num / den : 0;
}

const mixed = (c: number, i: number): [number, Buffer, Buffer | null] => {
  const k = i % 10;
  if (k === 7) return [Op.WORK, Buffer.from([0, 0, 0, 100, c & 0xff]), null];
  if (k === 9) return [Op.SLEEP, Buffer.from([0, 0, 0, 5]), Buffer.alloc(0)];
  const p = Buffer.from(`${c}:${i}:${'s'.repeat(100)}`);
  return [Op.ECHO, p, p];
};

/** One soak's server, recorder and pacing, ready to run. */
interface Prepared {
  ctx: FaultContext;
  rec: Recorder;
  server: Server;
  clients: number;
  /** Closed-loop capacity measured alone (req/s). */
  rate: number;
  meanLatMs: number;
}

export async function run(ctx: FaultContext): Promise<FaultResult> {
  return (await runTogether([ctx]))[0]!;
}

/** Soaks every context's variant at once (one server each); results in the contexts' order. */
export async function runTogether(ctxs: FaultContext[]): Promise<FaultResult[]> {
  if (ctxs.some((c) => c.scale === 'test')) {
    return ctxs.map((c) => {
      const rec = new Recorder(name, c.variant);
      rec.notApplicable = 'soak runs only in make reliability';
      return rec.result();
    });
  }
  const prepared: Prepared[] = [];
  try {
    // Probes one at a time, so each capacity is the server's own, not a share.
    for (const ctx of ctxs) prepared.push(await prepare(ctx));
    await Promise.all(
      prepared.map((p) => soak(p, prepared.length).catch((err: Error) => void p.rec.check('soak ran to the end', false, err.message.split('\n')[0]))),
    );
  } finally {
    await Promise.all(prepared.map((p) => p.server.kill()));
  }
  return prepared.map((p) => p.rec.result());
}

async function prepare(ctx: FaultContext): Promise<Prepared> {
  const rec = new Recorder(name, ctx.variant);
  const clients = Math.max(1, Math.min(8, connectionCapacity(ctx.variant) - 2));
  const server = await startServer(ctx.variant, []);
  try {
    await echoOk(server.port);
    // Capacity probe: closed loop.
    const probeS = pick(ctx.scale, 2, 2, 3);
    const probe = await runLoad({ port: server.port, clients, durationMs: probeS * 1000, request: mixed });
    const meanLatMs = probe.latencyUs.mean / 1000;
    ctx.log(`capacity ${Math.round(probe.ok / probeS)} req/s with ${clients} closed-loop clients`);
    return { ctx, rec, server, clients, rate: probe.ok / probeS, meanLatMs };
  } catch (err) {
    await server.kill();
    throw err;
  }
}

async function soak(p: Prepared, together: number): Promise<void> {
  const { ctx, rec, server, clients, rate } = p;
  const { variant, scale } = ctx;
  const seconds = ctx.soakSeconds ?? pick(scale, 20, 20, 300);
  const sampleMs = pick(scale, 2000, 2000, 5000);
  // Half capacity, shared with the others soaking now: pace each client (closed loop + pause).
  const target = rate / 2 / together;
  const perClient = target / clients;
  const pauseMs = Math.max(0, 1000 / perClient - p.meanLatMs);
  const share = together > 1 ? `, / ${together} soaking side by side` : '';
  rec.load = `${clients} paced clients + 1 churning (new conn / 10 req), ~${Math.round(target)} req/s (half of ${Math.round(rate)} measured alone${share}), ${seconds} s`;
  rec.injected = 'mixed ECHO/WORK 100/SLEEP 5 ms, connection churn';
  await sleep(500);
  const samples: { t: number; rss: number; anon: number; fds: number; threads: number; children: number }[] = [];
  const t0 = performance.now();
  let nextLog = 60;
  const sampler = setInterval(() => {
    const s = rec.sample(server.stats());
    const t = (performance.now() - t0) / 60_000;
    samples.push({ t, rss: s.rss, anon: s.anon, fds: s.fds, threads: s.threads, children: s.children });
    if (t * 60 >= nextLog) {
      ctx.log(`${Math.round(t * 60)} / ${seconds} s: RSS ${round(s.rss / 2 ** 20)} MiB, ${s.fds} fds, ${s.threads} threads, ${s.children} children`);
      nextLog += 60;
    }
  }, sampleMs);
  const [main, churn] = await Promise.all([
    runLoad({ port: server.port, clients, durationMs: seconds * 1000, request: mixed, pauseMs }),
    runLoad({ port: server.port, clients: 1, durationMs: seconds * 1000, request: mixed, pauseMs: 5, churnEvery: 10 }),
  ]);
  clearInterval(sampler);
  // Warm-up: the first 20 % or 30 s, whichever is longer, but never more than half the run
  // (heaps and caches grow to their working size).
  const warmupS = Math.min(30, seconds / 2);
  const steady = samples.filter((x, i) => i >= Math.floor(samples.length * 0.2) && x.t * 60 >= warmupS);
  const xs = steady.map((s) => s.t);
  const mib = (b: number) => b / 2 ** 20;
  const rssSlope = slope(xs, steady.map((s) => mib(s.rss)));
  const anonSlope = slope(xs, steady.map((s) => mib(s.anon)));
  const fdSlope = slope(xs, steady.map((s) => s.fds));
  const threadSlope = slope(xs, steady.map((s) => s.threads));
  const meanRss = steady.reduce((a, s) => a + mib(s.rss), 0) / Math.max(1, steady.length);
  const errors = main.errors + churn.errors;
  const lost = main.lost + churn.lost;
  rec.inputs = main.ok + churn.ok + errors;
  rec.lost = lost;
  rec.crashes = server.alive() ? 0 : 1;
  Object.assign(rec.metrics, {
    requests: rec.inputs,
    reqPerSec: Math.round(rec.inputs / seconds),
    soakingTogether: together,
    capacityReqPerSec: Math.round(rate),
    samples: samples.length,
    rssSlopeMibPerMin: round(rssSlope, 2),
    rssAnonSlopeMibPerMin: round(anonSlope, 2),
    fdSlopePerMin: round(fdSlope, 2),
    threadSlopePerMin: round(threadSlope, 2),
    meanRssMib: round(meanRss),
    errorCodes: { ...main.errorCodes, ...churn.errorCodes },
    series: samples.map((s) => [round(s.t * 60, 0), round(mib(s.rss)), s.fds, s.threads, s.children]),
  });
  rec.reasonNote = `RSS ${round(rssSlope, 2)} MiB/min, fds ${round(fdSlope, 2)}/min after warm-up`;
  rec.check('server alive', server.alive());
  rec.check('0 errors, 0 lost', errors === 0 && lost === 0, `${errors} errors ${JSON.stringify(rec.metrics.errorCodes)}, ${lost} lost`);
  // Flat: the fitted drift over the steady window stays under 10 % of the mean RSS (and 1 fd/min).
  const windowMin = xs.length ? xs[xs.length - 1]! - xs[0]! : 0;
  // Only growth counts against it; a falling trend is no leak.
  const flat = rssSlope * windowMin < meanRss * 0.1;
  const trend = `${round(rssSlope, 2)} MiB/min over ${round(windowMin * 60, 0)} s, mean ${round(meanRss)} MiB`;
  // thread starts a worker per connection, and Node does not give all of an ended worker's
  // memory back (its malloc arena stays: nodejs/node#45685, #51868; measured in bare Node by
  // bench/worker-churn-rss.mjs), so RSS grows with connections started. Reported per connection.
  const connsPerMin = (churn.ok + churn.errors) / 10 / (seconds / 60);
  if (!flat && variant.model === 'thread' && rec.checks.every((c) => c.ok)) {
    const kib = (rssSlope * 1024) / Math.max(1, connsPerMin);
    rec.metrics.rssKibPerConnectionStarted = round(kib, 1);
    rec.limitation = `${factsOf({ model: 'thread' }).startsPerConnection}: RSS grew ${trend}, ≈ ${round(kib, 0)} KiB per connection started (${round(connsPerMin, 0)}/min): Node keeps part of every ended worker's memory (nodejs/node#45685); thread-pool reuses its threads; 0 errors, 0 lost`;
  } else rec.check('RSS trend flat (growth over the window < 10 % of mean)', flat, trend);
  const meanFds = steady.reduce((a, s) => a + s.fds, 0) / Math.max(1, steady.length);
  rec.check('fd trend flat (growth over the window ≤ max(4, 10 % of mean))', fdSlope * windowMin <= Math.max(4, meanFds * 0.1), `${round(fdSlope, 2)}/min, mean ${round(meanFds)}`);
}
