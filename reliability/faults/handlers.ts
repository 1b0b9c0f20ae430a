// Fault 6 — hung and crashing handlers (test/fixtures/faulty-handler.ts): one that never
// settles (HANG), one that throws (THROW), one that exits its thread/process (EXIT) and one that
// spins the CPU forever (SPIN). HANG → E_TIMEOUT after --request-timeout, connection usable.
// THROW → E_INTERNAL, connection usable. EXIT and SPIN: where the model can preempt, only the
// connections of that worker/child are affected, others keep working, and a replacement appears
// (a new connection is served and nothing is left spinning). event-loop cannot: a handler that
// exits ends the server, one that spins stalls every connection — measured, reported as a
// limitation.
import { readFileSync } from 'node:fs';
import { FrameClient } from '../../src/shared/client.ts';
import { Op, parseError } from '../../src/shared/protocol.ts';
import { echoOk } from '../../harness/client.ts';
import { FAULTY_HANDLER, FaultOp } from '../../harness/fixtures.ts';
import { sleep, withTimeout } from '../../harness/time.ts';
import { connectionCapacity } from '../../harness/variants.ts';
import { pick, Recorder, startServer, type FaultContext, type FaultResult, type Server } from '../lib.ts';
import { descendants, waitForTree } from '../../harness/proc-tree.ts';

export const name = 'handlers';

/** CPU seconds used by a pid tree so far (utime + stime of every process, all threads). */
function cpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of [root, ...descendants(root)]) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return ticks / 100;
}

async function cpuShare(root: number, ms: number): Promise<number> {
  const a = cpuSeconds(root);
  await sleep(ms);
  return Math.max(0, cpuSeconds(root) - a) / (ms / 1000);
}

interface Peer {
  client: FrameClient;
  where: string;
}

async function peer(port: number): Promise<Peer> {
  const client = await FrameClient.connect(port);
  const info = await withTimeout(client.send(Op.INFO, Buffer.alloc(0)), 10_000, 'INFO');
  const { pid, threadId } = JSON.parse(info.payload.toString());
  return { client, where: `${pid}/${threadId}` };
}

async function echoes(p: Peer, timeoutMs: number): Promise<boolean> {
  try {
    const f = await withTimeout(p.client.send(Op.ECHO, Buffer.from('still here')), timeoutMs, 'ECHO');
    return f.op === Op.ECHO && f.payload.toString() === 'still here';
  } catch {
    return false;
  }
}

/** Sends a misbehaving request; resolves with the error code answered, 'closed', or 'no answer'. */
async function misbehave(p: Peer, op: number, timeoutMs: number): Promise<string> {
  try {
    const f = await withTimeout(p.client.send(op, Buffer.alloc(0)), timeoutMs, 'fault op');
    return f.op === Op.ERROR ? parseError(f.payload).code : `op ${f.op}`;
  } catch (err) {
    return /no answer/.test((err as Error).message) ? 'no answer' : 'closed';
  }
}

export async function run(ctx: FaultContext): Promise<FaultResult> {
  const { variant, scale } = ctx;
  const rec = new Recorder(name, variant);
  const timeoutS = pick(scale, 1, 1, 2);
  // Bystanders plus the victim must fit in what the variant serves at once.
  const others = Math.max(1, Math.min(pick(scale, 4, 8, 16), connectionCapacity(variant) - 1));
  const flags = ['--handler', FAULTY_HANDLER, '--request-timeout', String(timeoutS), '--drain-timeout', '1'];
  const limitMs = timeoutS * 1000 + 4000;
  rec.load = `${others} other connections checked before/after each fault`;
  rec.injected = `HANG, THROW, EXIT, SPIN handlers; --request-timeout ${timeoutS} s`;
  const isEventLoop = variant.model === 'event-loop';
  let server: Server = await startServer(variant, flags);
  const servers: Server[] = [server];
  try {
    await echoOk(server.port);
    await sleep(300);
    const base = rec.sample(server.stats());

    // HANG and THROW: answered, connection stays usable.
    {
      const p = await peer(server.port);
      const t0 = performance.now();
      const hang = await misbehave(p, FaultOp.HANG, limitMs);
      rec.metrics.hangAnsweredMs = Math.round(performance.now() - t0);
      rec.check('HANG answered E_TIMEOUT', hang === 'E_TIMEOUT', hang);
      rec.check('connection usable after E_TIMEOUT', await echoes(p, 5000));
      const thr = await misbehave(p, FaultOp.THROW, limitMs);
      rec.check('THROW answered E_INTERNAL', thr === 'E_INTERNAL', thr);
      rec.check('connection usable after E_INTERNAL', await echoes(p, 5000));
      p.client.socket.destroy();
    }

    // EXIT and SPIN.
    const cases = [['EXIT', FaultOp.EXIT], ['SPIN', FaultOp.SPIN]] as const;
    for (const [label, op] of cases) {
      if (isEventLoop && !server.alive()) {
        server = await startServer(variant, flags);
        servers.push(server);
      }
      const bystanders = await Promise.all(Array.from({ length: others }, () => peer(server.port)));
      const victim = await peer(server.port);
      const t0 = performance.now();
      const outcome = await misbehave(victim, op, limitMs);
      const answeredMs = performance.now() - t0;
      rec.metrics[`${label.toLowerCase()}Outcome`] = outcome;
      rec.metrics[`${label.toLowerCase()}AnsweredMs`] = Math.round(answeredMs);
      // offload: every connection lives on the main thread (INFO names the pool thread that
      // ran it), so every bystander counts as on another worker.
      const shared = (b: Peer) => variant.model !== 'offload' && b.where === victim.where;
      const sameWorker = bystanders.filter(shared);
      const otherWorker = bystanders.filter((b) => !shared(b));
      const okOthers = (await Promise.all(otherWorker.map((b) => echoes(b, 3000)))).filter(Boolean).length;
      const okSame = (await Promise.all(sameWorker.map((b) => echoes(b, 1000)))).filter(Boolean).length;
      rec.metrics[`${label.toLowerCase()}Bystanders`] = { sameWorker: sameWorker.length, sameWorkerOk: okSame, otherWorker: otherWorker.length, otherWorkerOk: okOthers };
      for (const b of [...bystanders, victim]) b.client.socket.destroy();
      if (isEventLoop) {
        if (label === 'EXIT') {
          const code = await Promise.race([server.exited, sleep(3000).then(() => 'alive')]);
          rec.metrics.exitServerExit = code;
          rec.check('event-loop: a handler that exits ends the server (documented)', code !== 'alive', String(code));
          rec.limitation = `event-loop cannot isolate: EXIT ended the whole server (exit ${code})`;
        } else {
          const share = await cpuShare(server.pid, 1000);
          const fresh = await echoOk(server.port, 2000);
          rec.metrics.spinCpuShare = Math.round(share * 100) / 100;
          rec.check('event-loop: a spinning handler stalls every connection (documented)', outcome === 'no answer' && !fresh && okOthers + okSame === 0, `victim ${outcome}, ${okOthers + okSame}/${bystanders.length} others answered, new conn ${fresh ? 'served' : 'not served'}, CPU ${Math.round(share * 100)}%`);
          rec.limitation = `event-loop cannot preempt: SPIN stalled all ${bystanders.length} other connections and new ones (0 answers, server at ${Math.round(share * 100)}% CPU until killed); EXIT ended the whole server (exit ${rec.metrics.exitServerExit})`;
        }
        continue;
      }
      rec.check(`${label}: the victim's request ends (error frame or close) within request-timeout + 4 s`, outcome !== 'no answer', `${outcome} after ${Math.round(answeredMs)} ms`);
      rec.check(`${label}: connections on other workers unaffected`, okOthers === otherWorker.length, `${okOthers}/${otherWorker.length}`);
      // Replacement: new connections are served, the tree returns to its baseline shape, and
      // nothing is left spinning.
      const t1 = performance.now();
      let served = false;
      while (!served && performance.now() - t1 < 10_000) served = await echoOk(server.port, 2000);
      const back = await waitForTree(server.pid, (s) => s.children >= base.children && s.threads >= base.threads - 1, 10_000);
      rec.recoveryMs = Math.max(rec.recoveryMs ?? 0, performance.now() - t0);
      // offload answers the victim E_TIMEOUT from the main thread before the watchdog has ended
      // the spinning pool thread (it allows --request-timeout + 1 s of silence): give it that.
      let share = await cpuShare(server.pid, 500);
      while (share >= 0.6 && performance.now() - t0 < limitMs) share = await cpuShare(server.pid, 500);
      rec.metrics[`${label.toLowerCase()}CpuAfter`] = Math.round(share * 100) / 100;
      rec.check(`${label}: new connections served afterwards`, served);
      rec.check(`${label}: workers/children replaced`, back.ok, `children ${base.children}→${back.stats.children}, threads ${base.threads}→${back.stats.threads}`);
      rec.check(`${label}: nothing left spinning (server CPU < 60% while idle, within request-timeout + 4 s)`, share < 0.6, `${Math.round(share * 100)}%`);
      rec.check(`${label}: server alive`, server.alive());
    }
    rec.crashes = isEventLoop ? 1 : servers.filter((s) => !s.alive()).length;
  } finally {
    for (const s of servers) await s.kill();
  }
  return rec.result();
}
