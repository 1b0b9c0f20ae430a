// Fault 9 — drain under load: SIGTERM while many clients pipeline (8 requests in flight each).
// Every request the client had fully written before the signal is answered (E_SHUTTING_DOWN is
// allowed only after the real answers); the server exits 0; no thread or child is left behind.
import { Op, encodeFrame } from '../../src/shared/protocol.ts';
import { FrameDecoder } from '../../src/shared/protocol.ts';
import { isAlive } from '../../harness/proc-tree.ts';
import { echoOk, rawConnect } from '../../harness/client.ts';
import { sleep } from '../../harness/time.ts';
import { pick, Recorder, startServer, type FaultContext, type FaultResult } from '../lib.ts';

export const name = 'drain';

export async function run(ctx: FaultContext): Promise<FaultResult> {
  const { variant, scale } = ctx;
  const rec = new Recorder(name, variant);
  const clients = pick(scale, 50, 100, 200);
  // Connection-bound variants queue what they cannot serve; queued connections are answered
  // E_SHUTTING_DOWN at the signal (nothing of theirs was read), which the check allows.
  const server = await startServer(variant, ['--max-connections', '20000', '--drain-timeout', '20']);
  rec.load = `${clients} clients pipelining ECHO (8 in flight each)`;
  rec.injected = 'SIGTERM after 1 s of load';
  try {
    await echoOk(server.port);
    const socks = await Promise.all(Array.from({ length: clients }, () => rawConnect(server.port)));
    let signalled = false;
    const state = socks.map(() => ({ n: 0, flushed: 0, got: [] as { op: number; p: string }[], closed: false }));
    const loads = socks.map(
      (s, c) =>
        new Promise<void>((resolve) => {
          const st = state[c]!;
          const dec = new FrameDecoder(0xffff_ffff);
          const pump = () => {
            while (!st.closed && !s.destroyed && st.n - st.got.length < 8) {
              const i = st.n++;
              s.write(encodeFrame(Op.ECHO, Buffer.from(`${c}/${i}`)), (err) => {
                if (!err && !signalled) st.flushed = Math.max(st.flushed, i + 1);
              });
            }
          };
          s.on('data', (ch: Buffer) => {
            dec.push(ch, (op, p) => st.got.push({ op, p: p.toString() }));
            if (!signalled) pump();
          });
          s.on('error', () => {});
          s.on('close', () => {
            st.closed = true;
            resolve();
          });
          pump();
        }),
    );
    await sleep(1000);
    const before = rec.sample(server.stats());
    const parts = before.pids.slice(1);
    signalled = true;
    const t0 = performance.now();
    server.proc.kill('SIGTERM');
    const code = await Promise.race([server.exited, sleep(30_000).then(() => 'timeout')]);
    const exitMs = performance.now() - t0;
    await Promise.race([Promise.all(loads), sleep(5000)]);
    for (const s of socks) s.destroy();
    let answered = 0;
    let unanswered = 0;
    let wrong = 0;
    let refusedUnread = 0;
    state.forEach((st, c) => {
      const real = st.got.filter((f) => f.op === Op.ECHO);
      real.forEach((f, i) => {
        if (f.p !== `${c}/${i}`) wrong++;
      });
      for (const f of st.got.slice(real.length)) if (!(f.op === Op.ERROR && f.p.startsWith('E_SHUTTING_DOWN'))) wrong++;
      // A connection still waiting for a thread/child at the signal was never read: it is
      // refused whole with E_SHUTTING_DOWN, which is allowed.
      if (real.length === 0 && st.got[0]?.op === Op.ERROR && st.got[0].p.startsWith('E_SHUTTING_DOWN')) refusedUnread++;
      else unanswered += Math.max(0, st.flushed - real.length);
      answered += real.length;
    });
    await sleep(200);
    const leftover = parts.filter(isAlive);
    rec.inputs = answered;
    rec.lost = unanswered;
    rec.recoveryMs = exitMs;
    Object.assign(rec.metrics, { exitCode: code, exitMs: Math.round(exitMs), answered, unansweredFlushedBeforeSignal: unanswered, wrong, refusedUnread, partsBefore: parts.length, partsLeft: leftover.length });
    rec.check('exit 0', code === 0, String(code));
    rec.check('every request written before SIGTERM answered', unanswered === 0, `${unanswered} unanswered`);
    rec.check('answers correct and in order (E_SHUTTING_DOWN only after them)', wrong === 0, `${wrong} wrong`);
    rec.check('no child process left', leftover.length === 0, `${leftover.length} of ${parts.length}`);
  } finally {
    await server.kill();
  }
  return rec.result();
}
