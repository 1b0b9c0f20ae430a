// The handler profile (part of `bench --mix` and the first step of `recommend`): per request kind,
// what the handler costs when called directly — CPU and wall time per request, and the longest
// synchronous stretch it held its thread (what every other connection of an event loop waits
// through) — and the memory a connection costs a server running it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sampleTree } from '../../harness/proc-tree.ts';
import { FrameClient } from '../../src/shared/client.ts';
import { freshStateDir, startTarget } from '../server-proc.ts';
import { MixSource } from './source.ts';
import type { Mix } from './types.ts';

const CHILD = fileURLToPath(new URL('./profile-child.ts', import.meta.url));

export interface KindProfile {
  name: string;
  op: number;
  /** Calls measured (after a warm-up of 20). */
  calls: number;
  /** CPU of the profiling process per call (every thread: work a handler hands to libuv's pool counts). */
  cpuUsPerRequest: number | null;
  wallUs: { p50: number; p99: number; mean: number };
  /** Time until handle() returned (before any await): how long it held its thread. */
  syncUs: { p50: number; p99: number; max: number };
  /** Calls that threw (answered as ERROR frames), that never settled, whose answer failed the mix's expectation. */
  thrown: number;
  timeouts: number;
  wrong: number;
  firstError: string | null;
}

export interface HandlerProfile {
  kinds: KindProfile[];
  /** Weighted by the mix's weights over the kinds that were measured. */
  weighted: { cpuUsPerRequest: number; wallUsMean: number; syncUsP50: number; syncUsMax: number };
  /** RSS a connection adds to an event-loop server running the handler (after a few requests each), or null. */
  memoryPerConnectionBytes: number | null;
  /** The handler ended the profiling process (process.exit, a crash): during which kind, with what status. */
  exited: { kind: string; status: number | string } | null;
}

export class HandlerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerLoadError';
  }
}

/** Loads the handler in a child process as a model would; rejects with HandlerLoadError if it does not load. */
export async function preflightHandler(handlerUrl: string, mix: Mix): Promise<void> {
  await profileKinds(handlerUrl, mix, 'load-only', {});
}

/** Runs the profiling child; rejects with HandlerLoadError when the handler does not load. */
async function profileKinds(handlerUrl: string, mix: Mix, budgetMs: number | 'load-only', env: NodeJS.ProcessEnv): Promise<{ kinds: KindProfile[]; exited: HandlerProfile['exited'] }> {
  const child = spawn(process.execPath, [CHILD, handlerUrl, mix.file, String(budgetMs)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => {
    if (err.length < 20_000) err += d;
  });
  const deadline = setTimeout(() => child.kill('SIGKILL'), mix.kinds.length * ((budgetMs === 'load-only' ? 0 : budgetMs) * 4 + 12_000) + 10_000);
  const status = await new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  clearTimeout(deadline);
  const events = out
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { kind?: string; result?: KindProfile; loadError?: string }];
      } catch {
        return []; // the handler's own console output
      }
    });
  const loadError = events.find((e) => e.loadError)?.loadError;
  if (loadError) throw new HandlerLoadError(loadError);
  const kinds = events.flatMap((e) => (e.result ? [e.result] : []));
  if (status === 0) return { kinds, exited: null };
  const during = events.filter((e) => e.kind).at(-1)?.kind ?? '(start-up)';
  if (!kinds.length && during === '(start-up)') throw new Error(`the handler profiler failed (${status}): ${err.trim().slice(-800)}`);
  return { kinds, exited: { kind: during, status } };
}

/** RSS per connection of an event-loop server running the handler: N connections, a few requests each. */
async function memoryPerConnection(handler: string, mix: Mix, connections = 100): Promise<number | null> {
  const state = freshStateDir();
  const srv = await startTarget({ name: 'event-loop', kind: 'model' }, ['--handler', handler, '--max-connections', String(connections + 10), '--drain-timeout', '1'], { env: state.env });
  const clients: FrameClient[] = [];
  try {
    if (srv.pid === null) return null;
    // One connection first, so the handler's own start-up (module state, a database) is in the baseline.
    const warm = await FrameClient.connect(srv.port, srv.host);
    clients.push(warm);
    const ws = new MixSource(mix, 0);
    for (let i = 0; i < 5; i++) await warm.sendRaw(ws.next().frame);
    const before = sampleTree(srv.pid).rssBytes;
    for (let c = 1; c <= connections; c++) {
      const client = await FrameClient.connect(srv.port, srv.host);
      clients.push(client);
      const s = new MixSource(mix, c);
      for (let i = 0; i < 3; i++) await client.sendRaw(s.next().frame);
    }
    const after = sampleTree(srv.pid).rssBytes;
    return Math.max(0, after - before) / connections;
  } finally {
    for (const c of clients) c.socket.destroy();
    await srv.stop(3000).catch(() => null);
    state.remove();
  }
}

export async function profileHandler(handler: string, handlerUrl: string, mix: Mix, { budgetMs = 300, memory = true } = {}): Promise<HandlerProfile> {
  const state = freshStateDir();
  let kinds: KindProfile[];
  let exited: HandlerProfile['exited'];
  try {
    ({ kinds, exited } = await profileKinds(handlerUrl, mix, budgetMs, state.env));
  } finally {
    state.remove();
  }
  const measured = kinds.filter((k) => k.calls > 0);
  const weightOf = (k: KindProfile) => mix.kinds.find((x) => x.name === k.name)?.weight ?? 0;
  const total = measured.reduce((s, k) => s + weightOf(k), 0) || 1;
  const avg = (f: (k: KindProfile) => number) => measured.reduce((s, k) => s + f(k) * weightOf(k), 0) / total;
  const weighted = {
    cpuUsPerRequest: avg((k) => k.cpuUsPerRequest ?? 0),
    wallUsMean: avg((k) => k.wallUs.mean),
    syncUsP50: avg((k) => k.syncUs.p50),
    syncUsMax: Math.max(0, ...measured.map((k) => k.syncUs.max)),
  };
  const memoryPerConnectionBytes = memory && !exited ? await memoryPerConnection(handler, mix).catch(() => null) : null;
  return { kinds, weighted, memoryPerConnectionBytes, exited };
}
