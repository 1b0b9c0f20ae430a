// Fault 2 — connection flood over --max-connections (and --max-connections-per-ip). Every
// connect sends one ECHO and reads what comes back: an ECHO (admitted), an E_BUSY frame or a
// clean close (refused). Anything else — reset, hang — is a failure. Admitted connections are
// held for a moment so the slots stay full. Afterwards open fds return to their baseline, and
// a second address still gets in while the first one is at its per-address limit.
import { FrameDecoder, Op, encodeFrame } from '../../src/shared/protocol.ts';
import { echoOk, rawConnect } from '../../harness/client.ts';
import { sleep } from '../../harness/time.ts';
import { factsOf } from '../../harness/variants.ts';
import { pick, Recorder, round, startServer, type FaultContext, type FaultResult } from '../lib.ts';
import { waitForTree } from '../../harness/proc-tree.ts';

export const name = 'flood';

type Outcome = 'admitted' | 'busy' | 'clean-close' | 'reset' | 'timeout' | 'connect-failed' | 'other';

function attempt(port: number, localAddress: string | undefined, holdMs: number, timeoutMs: number): Promise<Outcome> {
  return rawConnect(port, localAddress, timeoutMs).then(
    (sock) =>
      new Promise<Outcome>((resolve) => {
        const dec = new FrameDecoder(0xffff_ffff);
        let outcome: Outcome | null = null;
        const finish = (o: Outcome) => {
          if (outcome) return;
          outcome = o;
          clearTimeout(timer);
          if (o === 'admitted') setTimeout(() => sock.destroy(), holdMs).unref();
          else sock.destroy();
          resolve(o);
        };
        const timer = setTimeout(() => finish('timeout'), timeoutMs);
        sock.on('data', (c: Buffer) =>
          dec.push(c, (op, payload) => {
            if (op === Op.ECHO) finish('admitted');
            else if (op === Op.ERROR && payload.toString().startsWith('E_BUSY')) finish('busy');
            else finish('other');
          }),
        );
        sock.on('error', () => finish('reset'));
        sock.on('end', () => finish('clean-close'));
        sock.on('close', () => finish('clean-close'));
        sock.write(encodeFrame(Op.ECHO, Buffer.from('flood')));
      }),
    () => 'connect-failed' as Outcome,
  );
}

export async function run(ctx: FaultContext): Promise<FaultResult> {
  const { variant, scale } = ctx;
  const rec = new Recorder(name, variant);
  const total = pick(scale, 500, 3000, 20_000);
  const maxConn = pick(scale, 50, 500, 1000);
  const perIp = Math.floor(maxConn * 0.8);
  // More at once than the per-address limit, so the flood is over a limit from the start (below
  // it, connection-bound models would queue every connect until --queue-timeout instead).
  const concurrency = pick(scale, 100, 400, 800);
  const budgetMs = pick(scale, 5000, 10_000, 10_000);
  const holdMs = pick(scale, 200, 300, 300);
  // A connect that gets no answer at all within this is a hang (generous in tests: shared CPU).
  const attemptTimeoutMs = pick(scale, 15_000, 5000, 5000);
  // Connection-bound models (thread, process) queue what they cannot serve yet: a flood server is
  // configured to refuse a queued connection after 2 s rather than the default 10 s, below the
  // flood clients' own 5 s patience.
  const queueTimeoutS = 2;
  const server = await startServer(variant, ['--max-connections', String(maxConn), '--max-connections-per-ip', String(perIp), '--queue-timeout', String(queueTimeoutS)]);
  rec.load = `${total} connects, ≤${concurrency} at once, from 127.0.0.1`;
  rec.injected = `--max-connections ${maxConn}, --max-connections-per-ip ${perIp}, --queue-timeout ${queueTimeoutS}`;
  try {
    // Warm up (lazy threads, children), then take the baseline.
    for (let i = 0; i < 3; i++) await echoOk(server.port);
    await sleep(300);
    const base = rec.sample(server.stats());
    const counts: Record<Outcome, number> = { admitted: 0, busy: 0, 'clean-close': 0, reset: 0, timeout: 0, 'connect-failed': 0, other: 0 };
    let next = 0;
    const t0 = performance.now();
    let otherAddressOk: boolean | null = null;
    const sampler = setInterval(() => rec.sample(server.stats()), 250);
    const worker = async () => {
      while (next < total && performance.now() - t0 < budgetMs * 2) {
        next++;
        counts[await attempt(server.port, undefined, holdMs, attemptTimeoutMs)]++;
      }
    };
    const probe = (async () => {
      // Mid-flood, a second client address must still get in (per-address limit leaves room).
      await sleep(Math.min(500, budgetMs / 4));
      const o = await attempt(server.port, '127.0.0.2', 0, attemptTimeoutMs);
      otherAddressOk = o === 'admitted';
      rec.metrics.otherAddressOutcome = o;
    })();
    await Promise.all([...Array.from({ length: concurrency }, worker), probe]);
    const floodMs = performance.now() - t0;
    clearInterval(sampler);
    const alive = server.alive();
    // fds back to baseline (refusals linger ≤ 2 s before the server closes them).
    // Two fds of slack: one fresh-clone run saw the process model at 118 → 119 for the whole
    // 10 s (unexplained; a leak from the flood's connections would show tens to thousands).
    const FD_SLACK = 2;
    const back = await waitForTree(server.pid, (s) => s.fds <= base.fds + FD_SLACK, 10_000);
    rec.sample(back.stats);
    rec.recoveryMs = back.ms;
    rec.inputs = total;
    rec.crashes = alive ? 0 : 1;
    Object.assign(rec.metrics, { ...counts, floodMs: Math.round(floodMs), fdsBefore: base.fds, fdsPeak: undefined, fdsAfter: back.stats.fds });
    rec.check('server alive', alive);
    // A model that starts a thread/child per connection admits only as fast as it starts them:
    // slower than the budget, and a second address may find no thread/child free (refused
    // cleanly with E_BUSY after --queue-timeout). Measured and reported as its limitation.
    const startCost = factsOf(variant).startsPerConnection;
    const limits: string[] = [];
    if (scale !== 'test') {
      const done = `${next} of ${total} connects in ${Math.round(floodMs)} ms`;
      if (floodMs > budgetMs && startCost) limits.push(`${done}, not within ${budgetMs / 1000} s (${counts.admitted} admitted: ${round(counts.admitted / (floodMs / 1000))}/s)`);
      else rec.check(`${total} connects done within ${budgetMs / 1000} s`, floodMs <= budgetMs, done);
    }
    const bad = counts.reset + counts.timeout + counts.other + counts['connect-failed'];
    rec.check('every refusal is E_BUSY or a clean close (no reset, hang or connect failure)', bad === 0, JSON.stringify(counts));
    rec.check('some connections admitted and some refused', counts.admitted > 0 && counts.busy + counts['clean-close'] > 0, JSON.stringify(counts));
    if (!otherAddressOk && startCost && rec.metrics.otherAddressOutcome === 'busy') limits.push('a second address was accepted past the per-address limit but refused E_BUSY after waiting --queue-timeout for a free thread/child');
    else rec.check('a second client address is admitted while the first is at its per-address limit', otherAddressOk === true, String(rec.metrics.otherAddressOutcome));
    rec.check(`open fds back to baseline (± ${FD_SLACK})`, back.ok, `${base.fds} before, ${back.stats.fds} after ${Math.round(back.ms)} ms`);
    rec.check('serves normally afterwards', await echoOk(server.port));
    if (limits.length) rec.limitation = `${startCost}: ${limits.join('; ')}; every refusal clean, fds back to baseline`;
  } finally {
    await server.kill();
  }
  return rec.result();
}
