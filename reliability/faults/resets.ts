// Fault 4 — resets: clients that reset (RST) mid-frame, mid-pipeline (with requests still being
// worked on), and while the server is writing a 1 MiB reply. Afterwards the server's open fds,
// OS threads and child processes return to their baseline (from /proc), and — in-process, on
// the shared connection code every model runs — no timer is left behind (async_hooks count).
import { createHook } from 'node:async_hooks';
import net from 'node:net';
import { DEFAULT_OPTIONS, connectionLimits } from '../../src/shared/config.ts';
import { serveConnection } from '../../src/shared/connection.ts';
import { handle } from '../../src/shared/builtin-handler.ts';
import { Op, encodeFrame } from '../../src/shared/protocol.ts';
import { echoOk, rawConnect } from '../../harness/client.ts';
import { sleep } from '../../harness/time.ts';
import { pick, Recorder, startServer, type FaultContext, type FaultResult } from '../lib.ts';
import { treeBreakdown, waitForTree } from '../../harness/proc-tree.ts';

export const name = 'resets';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

async function resetMidFrame(port: number): Promise<void> {
  const s = await rawConnect(port);
  s.on('error', () => {});
  s.write(Buffer.concat([encodeFrame(Op.SLEEP, u32(30)), encodeFrame(Op.ECHO, Buffer.alloc(2000, 1)).subarray(0, 900)]));
  await sleep(20);
  s.resetAndDestroy();
}

async function resetMidPipeline(port: number): Promise<void> {
  const s = await rawConnect(port);
  s.on('error', () => {});
  const frames: Buffer[] = [];
  for (let i = 0; i < 50; i++) frames.push(i % 10 === 0 ? encodeFrame(Op.SLEEP, u32(40)) : i % 7 === 0 ? encodeFrame(Op.WORK, Buffer.concat([u32(2000), Buffer.from('x')])) : encodeFrame(Op.ECHO, Buffer.alloc(500, i)));
  s.write(Buffer.concat(frames));
  await sleep(15);
  s.resetAndDestroy();
}

async function resetDuringBigReply(port: number): Promise<boolean> {
  const s = await rawConnect(port);
  s.on('error', () => {});
  const big = encodeFrame(Op.ECHO, Buffer.alloc(1024 * 1024 - 1, 9)); // L = 1 MiB, the default --max-frame
  s.write(Buffer.concat([big, big, big, big]));
  // Read a little of the reply (the server is writing), then reset.
  const started = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    s.once('data', () => {
      clearTimeout(timer);
      s.pause();
      resolve(true);
    });
  });
  s.resetAndDestroy();
  return started;
}

/** Live Timeout resources in this process, counted with async_hooks. */
function timerCounter() {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { count: () => live.size, stop: () => hook.disable() };
}

/** The shared connection code (serveConnection), in this process: resets leave no timer behind. */
export async function inProcessTimerCheck(rounds: number): Promise<{ before: number; after: number; ok: boolean }> {
  const limits = connectionLimits({ ...DEFAULT_OPTIONS, requestTimeoutMs: 5000, frameTimeoutMs: 5000, idleTimeoutMs: 5000 });
  const conns: Promise<unknown>[] = [];
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
    conns.push(serveConnection(sock, { handler: handle, model: 'in-process', connection: conns.length + 1, limits }).done);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const counter = timerCounter();
  try {
    await sleep(50);
    const before = counter.count();
    for (let i = 0; i < rounds; i++) {
      await resetMidFrame(port);
      await resetMidPipeline(port);
    }
    await resetDuringBigReply(port);
    await Promise.all(conns);
    // SLEEP requests answered after their connection died keep their own timers ≤ 40 ms.
    const deadline = performance.now() + 3000;
    while (counter.count() > before && performance.now() < deadline) await sleep(50);
    const after = counter.count();
    return { before, after, ok: after <= before };
  } finally {
    counter.stop();
    server.close();
  }
}

export async function run(ctx: FaultContext): Promise<FaultResult> {
  const { variant, scale } = ctx;
  const rec = new Recorder(name, variant);
  const rounds = pick(scale, 10, 20, 200);
  const server = await startServer(variant, []);
  rec.load = 'resets only, then an ECHO check';
  rec.injected = `${rounds} resets mid-frame + ${rounds} mid-pipeline (50 reqs incl. SLEEP/WORK) + ${Math.ceil(rounds / 10)} during 4×1 MiB replies`;
  try {
    // One warm-up round (lazy threads and children, libuv pool), then the baseline.
    await resetMidFrame(server.port);
    await resetMidPipeline(server.port);
    await resetDuringBigReply(server.port);
    await echoOk(server.port);
    await sleep(500);
    // A child still starting (a spare forked after the warm-up) has fewer fds and threads than it
    // will have: a baseline taken then is one low, and its replacement reads as a leak (seen here:
    // one child at 22 fds in the baseline, every fresh child at 23). Take it once the tree holds still.
    const baseTree = await stableTree(server.pid);
    const base = rec.sample(server.stats());
    let bigStarted = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 10 }, async (_, w) => {
        for (let i = w; i < rounds; i += 10) {
          await resetMidFrame(server.port);
          await resetMidPipeline(server.port);
          if (i % 10 === 0 && (await resetDuringBigReply(server.port))) bigStarted++;
          rec.sample(server.stats());
        }
      }),
    );
    const back = await waitForTree(server.pid, (s) => s.fds <= base.fds && s.threads <= base.threads && s.children <= base.children, 10_000);
    rec.sample(back.stats);
    rec.recoveryMs = performance.now() - t0;
    rec.inputs = rounds * 2 + Math.ceil(rounds / 10);
    rec.crashes = server.alive() ? 0 : 1;
    const timers = await inProcessTimerCheck(Math.min(rounds, 20));
    Object.assign(rec.metrics, {
      before: { fds: base.fds, threads: base.threads, children: base.children },
      after: { fds: back.stats.fds, threads: back.stats.threads, children: back.stats.children },
      bigRepliesInterrupted: bigStarted,
      inProcessTimers: timers,
    });
    // Not back: which process holds what (a thread name tells a logger's worker from a libuv pool).
    const treeDiff = back.ok ? '' : describeTreeDiff(baseTree, treeBreakdown(server.pid));
    rec.check('server alive', server.alive());
    rec.check('the server was writing a 1 MiB reply when reset', bigStarted > 0, `${bigStarted}`);
    rec.check(
      'fds, threads and children back to baseline',
      back.ok,
      `fds ${base.fds}→${back.stats.fds}, threads ${base.threads}→${back.stats.threads}, children ${base.children}→${back.stats.children}${treeDiff}`,
    );
    rec.check('no timer left behind by the shared connection code', timers.ok, `${timers.before} → ${timers.after}`);
    rec.check('serves normally afterwards', await echoOk(server.port));
  } finally {
    await server.kill();
  }
  return rec.result();
}

/** The tree's breakdown once two samples 250 ms apart agree (same processes, fds, threads), or after 5 s. */
async function stableTree(root: number): Promise<ReturnType<typeof treeBreakdown>> {
  let prev = treeBreakdown(root);
  for (const until = performance.now() + 5_000; performance.now() < until; ) {
    await sleep(250);
    const now = treeBreakdown(root);
    if (JSON.stringify(now) === JSON.stringify(prev)) return now;
    prev = now;
  }
  return prev;
}

/** The processes whose fds or threads differ between two breakdowns, compactly: "; pid 12 (new): fds 23, threads {…}". */
function describeTreeDiff(before: ReturnType<typeof treeBreakdown>, after: ReturnType<typeof treeBreakdown>): string {
  const was = new Map(before.map((p) => [p.pid, p]));
  const parts: string[] = [];
  for (const p of after) {
    const b = was.get(p.pid);
    const threads = JSON.stringify(p.threads);
    if (!b) parts.push(`pid ${p.pid} (new): fds ${p.fds}, threads ${threads}`);
    else if (b.fds !== p.fds || JSON.stringify(b.threads) !== threads) parts.push(`pid ${p.pid}: fds ${b.fds}→${p.fds}, threads ${JSON.stringify(b.threads)}→${threads}`);
  }
  // With their fds at baseline: a child replaced by one with an fd more is not a leak in the parent.
  const gone = before.filter((b) => !after.some((p) => p.pid === b.pid)).map((b) => `${b.pid} (fds ${b.fds})`);
  return `; ${parts.join('; ') || 'no process differs'}${gone.length ? `; gone: ${gone.join(', ')}` : ''}`;
}
