// Fault 7 — killed parts under load. Every 500 ms one random part dies: `kill -9` of a random
// child (process models, pids from /proc), or a random worker thread ends (thread models: the
// faulty handler's CHAOS op makes one random other thread that loaded it call process.exit —
// the same 'exit' a worker.terminate() produces, without reaching into the model). Load runs
// throughout. The killed part's connections may fail; every other request must succeed (no
// wrong answer), and capacity recovers (the tree is back to its shape; new connections served).
import { Op } from '../../src/shared/protocol.ts';
import { echoOk, oneShot } from '../../harness/client.ts';
import { FAULTY_HANDLER, FaultOp } from '../../harness/fixtures.ts';
import { runLoad } from '../../harness/load.ts';
import { sleep, until } from '../../harness/time.ts';
import { adminStats, adminUrlOf } from '../../harness/server.ts';
import { connectionCapacity, factsOf } from '../../harness/variants.ts';
import { pick, Recorder, startServer, type FaultContext, type FaultResult } from '../lib.ts';
import { descendants, waitForTree } from '../../harness/proc-tree.ts';

export const name = 'kill';

export async function run(ctx: FaultContext): Promise<FaultResult> {
  const { variant, scale } = ctx;
  const rec = new Recorder(name, variant);
  if (factsOf(variant).family === 'event-loop') {
    rec.notApplicable = 'no worker threads or children to kill';
    return rec.result();
  }
  const durationMs = pick(scale, 3000, 5000, 30_000);
  const clients = Math.max(1, Math.min(pick(scale, 8, 16, 16), connectionCapacity(variant) - 1));
  const server = await startServer(variant, ['--handler', FAULTY_HANDLER, '--admin-port', '0']);
  const admin = adminUrlOf(server);
  rec.load = `${clients} closed-loop clients (ECHO + WORK 200), ${durationMs / 1000} s, reconnecting after a failure`;
  const how = factsOf(variant).family === 'process' ? 'kill -9 of a random child' : 'exit of a random worker thread';
  try {
    await echoOk(server.port);
    await sleep(500);
    const base = rec.sample(server.stats());
    let stop = false;
    let kills = 0;
    const victims: unknown[] = [];
    const killer = (async () => {
      while (!stop) {
        await sleep(500);
        if (stop) break;
        if (factsOf(variant).family === 'process') {
          const kids = descendants(server.pid);
          if (!kids.length) continue;
          const pid = kids[Math.floor(Math.random() * kids.length)]!;
          try {
            process.kill(pid, 'SIGKILL');
            kills++;
            victims.push(pid);
          } catch {}
        } else {
          try {
            const r = await oneShot(server.port, FaultOp.CHAOS, Buffer.alloc(0), 3000);
            const v = JSON.parse(r.payload.toString());
            if (v.victim >= 0) {
              kills++;
              victims.push(v);
            }
          } catch {}
        }
        rec.sample(server.stats());
      }
    })();
    const load = await runLoad({
      port: server.port,
      clients,
      durationMs,
      timeoutMs: 10_000,
      request: (c, i) => {
        if (i % 4 === 3) return [Op.WORK, Buffer.from([0, 0, 0, 200, c]), null];
        const p = Buffer.from(`${c}/${i}`);
        return [Op.ECHO, p, p];
      },
    });
    stop = true;
    await killer;
    const t0 = performance.now();
    const back = await waitForTree(server.pid, (s) => s.children >= base.children && s.threads >= base.threads - 1, 15_000);
    let served = 0;
    // 10 s each, not 3: the tree counts as back with one thread still being replaced, and a
    // connection-bound pool (thread-pool K = 1: 2 connections at once) queues a new connection until
    // a thread frees; at 3 s it missed (0/1 served) in a fresh-clone make test and in 1 of 3 runs of
    // test/faults/failing-parts.test.ts (2026-12-02); at 10 s 2 of 2 runs passed.
    // A kill can land after the load ended: a CHAOS victim that found no other thread kills
    // itself ~20 ms after its answer, and an offload pool thread parks between tasks, so it
    // exits only when its next task wakes it. A probe handed to that thread dies with it (0/1
    // served in 2 of 8 runs with the CPU contended, 2026-12-04). Such a probe is retried, but
    // only when the model counted a thread/child exit during it (its /stats lifecycle), at most
    // once per kill, and the count is reported: a probe that fails for any other reason fails.
    const exits = () => adminStats(admin).then((st) => st.lifecycle.exits, () => -1);
    const exitedSince = (before: number) => before >= 0 && until(async () => (await exits()) > before, 2000, 100);
    let lateKills = 0;
    for (let probes = 0; probes < clients; ) {
      const before = await exits();
      if (await echoOk(server.port, 10_000)) served++;
      else if (lateKills < kills && (await exitedSince(before))) {
        lateKills++;
        continue; // the same probe again
      }
      probes++;
    }
    rec.recoveryMs = performance.now() - t0;
    rec.sample(back.stats);
    rec.injected = `${kills} × ${how}, every 500 ms`;
    rec.inputs = kills;
    rec.lost = load.lost;
    rec.crashes = server.alive() ? 0 : 1;
    const affected = load.lost + load.errors;
    Object.assign(rec.metrics, { kills, ok: load.ok, lost: load.lost, errors: load.errors, errorCodes: load.errorCodes, connFailures: load.connFailures, affectedShare: Math.round((affected / Math.max(1, affected + load.ok)) * 10000) / 100, victims: victims.slice(0, 10), probesLostToALateKill: lateKills });
    rec.reasonNote = `${affected} affected vs ${load.ok} unaffected requests`;
    rec.check('server alive', server.alive());
    // One attempt every 500 ms; an attempt can miss (offload: the thread picked is already
    // ending), so at least one kill per 2 s is required, and the count is reported.
    rec.check('parts were killed (≥ 1 per 2 s)', kills >= (scale === 'test' ? 1 : Math.floor(durationMs / 2000)), `${kills} in ${durationMs / 1000} s`);
    rec.check('no wrong answer (only the killed part\'s requests fail)', !load.errorCodes.WRONG_ANSWER, JSON.stringify(load.errorCodes));
    const allowed = ['E_INTERNAL'];
    rec.check('errors only from the killed part (E_INTERNAL: its thread died under the request)', Object.keys(load.errorCodes).every((c) => allowed.includes(c)), JSON.stringify(load.errorCodes));
    rec.check('most requests unaffected', load.ok > affected * 5, `${affected} affected, ${load.ok} ok`);
    rec.check('capacity recovered: workers/children replaced', back.ok, `children ${base.children}→${back.stats.children}, threads ${base.threads}→${back.stats.threads}`);
    rec.check('capacity recovered: new connections served', served === clients, `${served}/${clients}`);
  } finally {
    await server.kill();
  }
  return rec.result();
}
