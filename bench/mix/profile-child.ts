// The handler profiler's process (bench/mix/profile.ts starts it): loads the user's handler the way
// every model does (src/shared/handler.ts) and calls it directly, kind by kind, with the mix's own
// requests. No socket, no model: what the handler itself costs per request.
//
//   node bench/mix/profile-child.ts HANDLER_URL MIX_FILE BUDGET_MS|load-only
// stdout: one JSON line per event: {"kind": name} before each kind (so a parent whose child dies
// knows where), {"result": KindProfile} after it; exit 4 with {"loadError"} when the handler does not load.
import { newHistogram, recordMs, summarize } from '../../harness/histogram.ts';
import { loadHandler, type HandlerContext, type HandlerResult } from '../../src/shared/handler.ts';
import { errorCodeOf } from '../../src/shared/errors.ts';
import { Op } from '../../src/shared/protocol.ts';
import { judge, loadChecks } from './expect.ts';
import { loadMix } from './parse.ts';
import { MixSource } from './source.ts';

const [handlerUrl, mixFile, budgetArg] = process.argv.slice(2);
const budgetMs = Number(budgetArg ?? 300);
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
/** A call whose promise has not settled by then never answered (counted, and the kind given up after 3). */
const CALL_TIMEOUT_MS = 2000;
const MAX_CALLS = 5000;
const WARMUP_CALLS = 20;

let handle;
try {
  handle = await loadHandler(handlerUrl!);
} catch (err) {
  say({ loadError: (err as Error).message });
  process.exit(4);
}
if (budgetArg === 'load-only') process.exit(0); // a preflight: does it load?
const mix = loadMix(mixFile!);
const checks = await loadChecks(mix);

/** The ERROR frame the server would send for a thrown error (src/shared/connection.ts failureFrame). */
function errorAnswer(err: unknown): { op: number; payload: Buffer } {
  const code = errorCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return { op: Op.ERROR, payload: Buffer.from(`${code} ${code === 'E_INTERNAL' ? `handler failed: ${message}` : message}`) };
}

for (let k = 0; k < mix.kinds.length; k++) {
  const kind = mix.kinds[k]!;
  say({ kind: kind.name });
  // This kind only, from the same generator the load uses (connection 0's sequence).
  const only = { ...mix, kinds: mix.kinds.map((x, i) => ({ ...x, weight: i === k ? 1 : 0 })) };
  const source = new MixSource(only, 0);
  const wall = newHistogram();
  const sync = newHistogram();
  let thrown = 0;
  let timeouts = 0;
  let wrong = 0;
  let firstError: string | null = null;
  let calls = 0;
  const cpu0 = process.cpuUsage();
  let measuredFrom = 0;
  const t0 = performance.now();
  while (calls < MAX_CALLS + WARMUP_CALLS && timeouts < 3) {
    if (calls === WARMUP_CALLS) {
      measuredFrom = performance.now();
      Object.assign(cpu0, process.cpuUsage());
    }
    if (calls >= WARMUP_CALLS && performance.now() - measuredFrom > budgetMs) break;
    if (performance.now() - t0 > budgetMs * 4 + 5000) break;
    const req = source.next();
    const ctx: HandlerContext = { model: 'profile', pid: process.pid, threadId: 0, connection: 1, requests: calls + 1, maxWork: 10_000_000, peer: '127.0.0.1:0' };
    const start = performance.now();
    let answer: HandlerResult | null = null;
    let error: unknown = null;
    let syncEnd = start;
    try {
      const r = handle(req.op, req.payload, ctx);
      syncEnd = performance.now();
      if (r && typeof (r as Promise<HandlerResult>).then === 'function') {
        let timer: NodeJS.Timeout | undefined;
        const settled = await Promise.race([
          (r as Promise<HandlerResult>).then((v) => ({ v })),
          new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), CALL_TIMEOUT_MS))),
        ]);
        clearTimeout(timer);
        if (settled === null) {
          timeouts++;
          firstError ??= `never answered (no result within ${CALL_TIMEOUT_MS} ms)`;
          calls++;
          continue;
        }
        answer = settled.v;
      } else answer = r as HandlerResult;
    } catch (err) {
      syncEnd = Math.max(syncEnd, performance.now());
      error = err ?? new Error('(a falsy value was thrown)');
    }
    const end = performance.now();
    calls++;
    if (calls <= WARMUP_CALLS) continue;
    recordMs(wall, end - start);
    recordMs(sync, syncEnd - start);
    // Judge what a client would have received: a thrown error with a code is that ERROR frame.
    const frame = error ? errorAnswer(error) : { op: answer!.op, payload: Buffer.from(answer!.payload) };
    if (error) thrown++;
    const why = judge(mix, checks, req, frame);
    if (why !== null) {
      wrong++;
      firstError ??= why;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const measured = wall.totalCount;
  const w = summarize(wall);
  const y = summarize(sync);
  say({
    result: {
      name: kind.name,
      op: kind.op,
      calls: measured,
      cpuUsPerRequest: measured ? (cpu.user + cpu.system) / measured : null,
      wallUs: { p50: w.p50, p99: w.p99, mean: w.mean },
      syncUs: { p50: y.p50, p99: y.p99, max: y.max },
      thrown,
      timeouts,
      wrong,
      firstError,
    },
  });
}
process.exit(0);
