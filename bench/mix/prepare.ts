// Everything `bench --mix` and `recommend` need before the first cell: the mix parsed and its
// checks loaded (a bad file → MixError, exit 2), the handler shown to load (→ exit 4, as `serve`),
// and the workloads built from them.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_HANDLER, handlerUrl } from '../../src/shared/handler.ts';
import { mixWorkloads, type Workload } from '../workloads.ts';
import { loadChecks } from './expect.ts';
import { loadMix } from './parse.ts';
import { HandlerLoadError, preflightHandler } from './profile.ts';
import type { CheckFn, Mix } from './types.ts';

/** Exit code of a handler that does not load (the same as `serve`'s). */
export const EXIT_HANDLER = 4;
export { HandlerLoadError };

export interface MixRun {
  mix: Mix;
  /** What `serve --handler` is given: an absolute path, or 'builtin'. */
  handler: string;
  handlerUrl: string;
  /** Short name for file names and titles: the handler's directory (examples/kv-sqlite/handler.ts → kv-sqlite) or file name. */
  handlerName: string;
  checks: Record<string, CheckFn>;
  workloads: Workload[];
}

export function handlerNameOf(handler: string): string {
  if (handler === 'builtin') return 'builtin';
  const base = path.basename(handler).replace(/\.[cm]?[jt]s$/, '');
  return base === 'handler' || base === 'index' ? path.basename(path.dirname(handler)) : base;
}

export async function prepareMix(mixPath: string, handler: string | undefined): Promise<MixRun> {
  const mix = loadMix(path.resolve(mixPath));
  const checks = await loadChecks(mix);
  let abs = 'builtin';
  if (handler && handler !== 'builtin') {
    abs = path.resolve(handler);
    if (!existsSync(abs)) throw new HandlerLoadError(`cannot load handler ${handler}: no such file`);
  }
  const url = abs === 'builtin' ? BUILTIN_HANDLER : handlerUrl(abs);
  await preflightHandler(url, mix);
  return { mix, handler: abs, handlerUrl: url, handlerName: handlerNameOf(abs), checks, workloads: mixWorkloads(mix.file, abs, mix.name) };
}
