// Fault 5 — slow reader: a client pipelines 64 KiB ECHOs and never reads. Back-pressure must
// stop the server reading from it (the client's own send buffer stays full), keep the server's
// memory for that connection bounded, and leave other clients unaffected. Then the client reads
// everything: every reply arrives, in order.
//
// The bound (docs: src/shared/connection.ts): reading pauses once the socket's write buffer is
// past its high-water mark or --max-in-flight requests are outstanding, so one connection holds
// at most one read chunk of decoded requests (≤ 64 KiB here), one partial frame (≤ --max-frame)
// and the socket's buffered replies (high-water mark + one chunk): about 2 × max-frame + 128 KiB,
// ~2.2 MiB at the default 1 MiB --max-frame. Kernel socket buffers are not in RSS.
import { FrameClient } from '../../src/shared/client.ts';
import { FrameDecoder, Op, encodeFrame } from '../../src/shared/protocol.ts';
import { rawConnect } from '../../harness/client.ts';
import { runLoad } from '../../harness/load.ts';
import { sleep } from '../../harness/time.ts';
import { connectionCapacity } from '../../harness/variants.ts';
import { pick, Recorder, round, startServer, type FaultContext, type FaultResult } from '../lib.ts';

export const name = 'slow-reader';

export async function run(ctx: FaultContext): Promise<FaultResult> {
  const { variant, scale } = ctx;
  const rec = new Recorder(name, variant);
  const pushMiB = pick(scale, 48, 64, 512);
  // Connection-bound models keep a slot for the other clients (slow peers holding every slot is
  // the slowloris fault's subject, not this one's).
  const readers = Math.max(1, Math.min(pick(scale, 1, 4, 8), connectionCapacity(variant) - 1));
  const server = await startServer(variant, []);
  rec.load = `4 ECHO clients alongside`;
  rec.injected = `${readers} non-reading client(s), each pipelining up to ${pushMiB} MiB of 64 KiB ECHOs`;
  try {
    await runLoad({ port: server.port, clients: 2, requestsPerClient: 50 });
    await sleep(300);
    const before = rec.sample(server.stats());
    // The model's own fixed cost per connection, beyond its children's idle RSS (a V8 isolate per
    // connection under `thread`), measured: a few idle connections, answered once, then closed.
    const n = Math.min(4, connectionCapacity(variant));
    const probes = await Promise.all(Array.from({ length: n }, () => FrameClient.connect(server.port)));
    await Promise.all(probes.map((c) => c.send(Op.INFO, Buffer.alloc(0))));
    await sleep(300);
    const perConnFixedMb = Math.max(0, (rec.beyondChildren(rec.sample(server.stats())) - rec.beyondChildren(before)) / n / 2 ** 20);
    for (const c of probes) c.socket.destroy();
    await sleep(500);
    const base = rec.sample(server.stats());
    const frame = encodeFrame(Op.ECHO, Buffer.alloc(64 * 1024 - 1, 0x5a));
    const total = Math.floor((pushMiB * 2 ** 20) / frame.length);
    const socks = await Promise.all(Array.from({ length: readers }, () => rawConnect(server.port)));
    const sent = socks.map(() => 0);
    const stalledMs = socks.map(() => 0);
    let stop = false;
    // Write until the client's own send buffer holds 8 MiB it cannot flush (the server stopped
    // reading), or everything is queued.
    const writers = socks.map(async (s, k) => {
      s.pause();
      s.on('error', () => {});
      while (!stop && sent[k]! < total) {
        if (s.writableLength > 8 * 2 ** 20) {
          await sleep(50);
          stalledMs[k]! += 50;
          continue;
        }
        s.write(frame);
        sent[k]!++;
        if (sent[k]! % 16 === 0) await new Promise((r) => setImmediate(r));
      }
    });
    const others = runLoad({ port: server.port, clients: 4, durationMs: pick(scale, 2000, 2000, 8000) });
    const sampler = setInterval(() => rec.sample(server.stats()), 200);
    const o = await others;
    stop = true;
    await Promise.all(writers);
    clearInterval(sampler);
    const peak = rec.peakRss;
    // Now read everything back.
    const ok = await Promise.all(
      socks.map(async (s, k) => {
        let n = 0;
        let good = true;
        const dec = new FrameDecoder(0xffff_ffff);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 60_000);
          s.on('data', (c: Buffer) =>
            dec.push(c, (op, p) => {
              if (op !== Op.ECHO || p.length !== frame.length - 5) good = false;
              if (++n >= sent[k]!) {
                clearTimeout(timer);
                resolve();
              }
            }),
          );
          s.resume();
        });
        s.destroy();
        return { n, good, sent: sent[k]! };
      }),
    );
    const growthMb = (peak - base.rss) / 2 ** 20;
    // Beyond the idle cost of the children started meanwhile (process: one per client).
    const beyondMb = (rec.peakBeyondChildren - rec.beyondChildren(base)) / 2 ** 20;
    const perConnBoundMb = 2 * 1 + 0.125; // 2 × max-frame + 128 KiB
    rec.lost = o.lost + ok.reduce((a, r) => a + (r.sent - r.n), 0);
    rec.inputs = ok.reduce((a, r) => a + r.sent, 0);
    rec.crashes = server.alive() ? 0 : 1;
    Object.assign(rec.metrics, {
      rssBeforeMb: round(base.rss / 2 ** 20),
      rssPeakMb: round(peak / 2 ** 20),
      rssGrowthMb: round(growthMb),
      idleChildMb: round((rec.idleChildRss ?? 0) / 2 ** 20),
      fixedPerConnectionMb: round(perConnFixedMb),
      rssGrowthBeyondIdleChildrenMb: round(beyondMb),
      statedBoundPerConnMb: perConnBoundMb,
      pushedMiB: ok.map((r) => round((r.sent * frame.length) / 2 ** 20)),
      clientStalledMs: stalledMs,
      othersOk: o.ok,
      othersErrors: o.errors,
    });
    rec.check('server alive', server.alive());
    rec.check('back-pressure: the non-reading client could not flush its writes', stalledMs.every((ms) => ms >= 500), `stalled ${stalledMs.join(',')} ms`);
    // Generous allowance over the stated bound for allocator and GC slack of the whole process tree.
    // Thread models add a thread heap per other client: allow for that. A child per connection
    // (process) is a fixed cost counted apart, as RSS beyond idle children.
    const allow = Math.round(readers * perConnBoundMb * 4 + 96 + (readers + 4) * perConnFixedMb);
    rec.check(
      `server RSS growth bounded (< ${allow} MiB for ${readers} conn: 4 × the stated bound + 96 MiB slack + the measured fixed cost of ${readers + 4} connections)`,
      beyondMb < allow,
      `${round(beyondMb)} MiB beyond idle children (${round(growthMb)} MiB total; idle child ${round((rec.idleChildRss ?? 0) / 2 ** 20)} MiB, fixed cost per connection ${round(perConnFixedMb)} MiB)`,
    );
    rec.check('other clients unaffected (no error, no loss)', o.errors + o.lost === 0 && o.ok > 0, `${o.ok} ok, ${o.errors} errors, ${o.lost} lost`);
    rec.check('every pipelined request answered once the client reads', ok.every((r) => r.good && r.n === r.sent), JSON.stringify(ok));
  } finally {
    await server.kill();
  }
  return rec.result();
}
