// Same request, same answer, under every model. Each model gets a fresh server (and a fresh state
// dir) and one connection, and is sent the same deterministic sequence of the mix's requests one at
// a time — so even a stateful handler (a database) sees the same history everywhere. Each answer
// is judged by its kind's expectation and compared byte for byte with the reference model's (the
// first one): a model that answers differently is wrong, whatever its speed.
import { FrameClient } from '../../src/shared/client.ts';
import { freshStateDir, startTarget } from '../server-proc.ts';
import { describeRequest, judge } from './expect.ts';
import { sampleRequests } from './source.ts';
import type { CheckFn, Mix, MixAnswer } from './types.ts';

export interface ModelConsistency {
  model: string;
  /** Requests sent and answered. */
  answered: number;
  /** Answers that failed their kind's expectation (the first few shown). */
  wrong: number;
  /** Answers whose bytes differ from the reference model's (the first few shown). */
  differ: number;
  examples: string[];
  /** The run could not complete (server did not start, connection lost): why. */
  error: string | null;
}

export interface ConsistencyResult {
  requests: number;
  reference: string;
  models: ModelConsistency[];
  /** True when every model answered every request, rightly and alike. */
  ok: boolean;
}

const show = (a: MixAnswer) => {
  const text = a.payload.subarray(0, 48).toString('utf8');
  const printable = /^[\x20-\x7e]*$/.test(text);
  return `op 0x${a.op.toString(16).padStart(2, '0')}, ${a.payload.length} B ${printable ? JSON.stringify(text) : a.payload.subarray(0, 24).toString('hex')}${a.payload.length > 48 ? '…' : ''}`;
};

async function answersOf(model: string, handler: string, mix: Mix, count: number): Promise<{ answers: MixAnswer[]; error: string | null }> {
  const state = freshStateDir();
  const answers: MixAnswer[] = [];
  let srv: Awaited<ReturnType<typeof startTarget>> | null = null;
  let client: FrameClient | null = null;
  try {
    srv = await startTarget({ name: model, kind: 'model' }, ['--handler', handler, '--drain-timeout', '1'], { env: state.env });
    client = await FrameClient.connect(srv.port, srv.host);
    for (const req of sampleRequests(mix, 0, count)) {
      const f = await Promise.race([client.sendRaw(req.frame), new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within 10 s to ${describeRequest(mix, req)}`)), 10_000).unref())]);
      answers.push({ op: f.op, payload: Buffer.from(f.payload) });
    }
    return { answers, error: null };
  } catch (err) {
    return { answers, error: (err as Error).message };
  } finally {
    client?.socket.destroy();
    await srv?.stop(3000).catch(() => null);
    state.remove();
  }
}

export async function checkConsistency(models: string[], handler: string, mix: Mix, checks: Record<string, CheckFn>, { requests = 200, onModel = (_m: string) => {} } = {}): Promise<ConsistencyResult> {
  const sent = sampleRequests(mix, 0, requests);
  let reference: MixAnswer[] | null = null;
  const out: ModelConsistency[] = [];
  for (const model of models) {
    onModel(model);
    const { answers, error } = await answersOf(model, handler, mix, requests);
    const r: ModelConsistency = { model, answered: answers.length, wrong: 0, differ: 0, examples: [], error };
    answers.forEach((a, i) => {
      const req = sent[i]!;
      const why = judge(mix, checks, req, a);
      if (why !== null) {
        r.wrong++;
        if (r.examples.length < 3) r.examples.push(`request #${i + 1} ${describeRequest(mix, req)}: ${why}`);
      }
      const ref = reference?.[i];
      if (ref && (ref.op !== a.op || !ref.payload.equals(a.payload))) {
        r.differ++;
        if (r.examples.length < 3) r.examples.push(`request #${i + 1} ${describeRequest(mix, req)}: ${models[0]} answered ${show(ref)}; ${model} answered ${show(a)}`);
      }
    });
    if (reference === null && !error) reference = answers;
    out.push(r);
  }
  return { requests, reference: models[0] ?? '', models: out, ok: out.every((m) => !m.error && m.wrong === 0 && m.differ === 0 && m.answered === requests) };
}
