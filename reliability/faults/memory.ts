// Fault 8 — memory limits. A handler that allocates without bound (ALLOC) under
// --worker-memory-mb: the worker thread (resourceLimits) or child (heap limit) that runs it
// dies, only its connections are affected, the server lives on and replaces it. event-loop has
// no worker to sacrifice: measured with the server's own heap capped (NODE_OPTIONS
// --max-old-space-size), the whole server dies — a documented limitation.
import { Op } from '../../src/shared/protocol.ts';
import { FrameClient } from '../../src/shared/client.ts';
import { echoOk } from '../../harness/client.ts';
import { FAULTY_HANDLER, FaultOp } from '../../harness/fixtures.ts';
import { sleep, withTimeout } from '../../harness/time.ts';
import { connectionCapacity } from '../../harness/variants.ts';
import { pick, Recorder, startServer, type FaultContext, type FaultResult } from '../lib.ts';
import { waitForTree } from '../../harness/proc-tree.ts';

export const name = 'memory';

export async function run(ctx: FaultContext): Promise<FaultResult> {
  const { variant, scale } = ctx;
  const rec = new Recorder(name, variant);
  const mb = 64;
  const rounds = pick(scale, 1, 1, 3);
  const isEventLoop = variant.model === 'event-loop';
  const bystanderCount = Math.max(1, Math.min(4, connectionCapacity(variant) - 1));
  const server = await startServer(
    variant,
    ['--handler', FAULTY_HANDLER, '--worker-memory-mb', String(mb)],
    isEventLoop ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=128`.trim() } : {},
  );
  rec.load = `${bystanderCount} bystander connections`;
  rec.injected = `${rounds} × ALLOC (unbounded heap growth), --worker-memory-mb ${mb}${isEventLoop ? ' (event-loop: --max-old-space-size=128 on the server)' : ''}`;
  try {
    await echoOk(server.port);
    await sleep(300);
    const base = rec.sample(server.stats());
    for (let r = 0; r < rounds && server.alive(); r++) {
      const bystanders = await Promise.all(Array.from({ length: bystanderCount }, () => FrameClient.connect(server.port)));
      const where = await Promise.all(bystanders.map(async (b) => JSON.parse((await b.send(Op.INFO, Buffer.alloc(0))).payload.toString())));
      const victim = await FrameClient.connect(server.port);
      const vInfo = JSON.parse((await victim.send(Op.INFO, Buffer.alloc(0))).payload.toString());
      const sampler = setInterval(() => rec.sample(server.stats()), 100);
      const t0 = performance.now();
      let outcome: string;
      try {
        const f = await withTimeout(victim.send(FaultOp.ALLOC, Buffer.alloc(0)), 30_000, 'ALLOC');
        outcome = f.op === Op.ERROR ? f.payload.toString().split(' ')[0]! : `op ${f.op}`;
      } catch (err) {
        outcome = /no answer/.test((err as Error).message) ? 'no answer' : 'closed';
      }
      const diedMs = performance.now() - t0;
      clearInterval(sampler);
      rec.metrics[`round${r}`] = { outcome, ms: Math.round(diedMs) };
      victim.socket.destroy();
      if (isEventLoop) {
        const code = await Promise.race([server.exited, sleep(5000).then(() => 'alive')]);
        rec.metrics.serverExit = code;
        rec.crashes = code === 'alive' ? 0 : 1;
        rec.check('event-loop: unbounded allocation kills the whole server (documented)', code !== 'alive', String(code));
        rec.limitation = `event-loop has no worker to sacrifice: with the server heap capped at 128 MiB the ALLOC handler killed the whole server in ${Math.round(diedMs)} ms (exit ${code}), all ${bystanderCount + 1} connections lost; without a cap it grows to V8's default heap limit first`;
        for (const b of bystanders) b.socket.destroy();
        break;
      }
      const isolated = variant.model === 'offload' ? () => true : (i: number) => `${where[i].pid}/${where[i].threadId}` !== `${vInfo.pid}/${vInfo.threadId}`;
      const results = await Promise.all(
        bystanders.map(async (b, i) => {
          if (!isolated(i)) return null;
          try {
            const f = await withTimeout(b.send(Op.ECHO, Buffer.from('ok')), 5000, 'ECHO');
            return f.op === Op.ECHO;
          } catch {
            return false;
          }
        }),
      );
      const others = results.filter((x) => x !== null);
      rec.check(`round ${r}: the allocating request ends (error or close)`, outcome !== 'no answer', `${outcome} after ${Math.round(diedMs)} ms`);
      rec.check(`round ${r}: connections on other workers unaffected`, others.every(Boolean), `${others.filter(Boolean).length}/${others.length}`);
      for (const b of bystanders) b.socket.destroy();
    }
    if (!isEventLoop) {
      const t1 = performance.now();
      const back = await waitForTree(server.pid, (s) => s.children >= base.children && s.threads >= base.threads - 1 && s.rss < base.rss + 64 * 2 ** 20, 15_000);
      rec.recoveryMs = performance.now() - t1;
      rec.metrics.rssAfterMb = Math.round(back.stats.rss / 2 ** 20);
      rec.crashes = server.alive() ? 0 : 1;
      rec.check('server alive', server.alive());
      rec.check('replaced, and memory released (RSS < baseline + 64 MiB)', back.ok, `children ${base.children}→${back.stats.children}, threads ${base.threads}→${back.stats.threads}, RSS ${Math.round(base.rss / 2 ** 20)}→${Math.round(back.stats.rss / 2 ** 20)} MiB`);
      rec.check('serves normally afterwards', await echoOk(server.port));
    }
  } finally {
    await server.kill();
  }
  return rec.result();
}
