// What every worker_threads model gives its threads: the startup message (handler, limits) and
// the per-thread heap cap. One place so thread, thread-pool and offload cannot drift apart.
import { enableCompileCache } from 'node:module';
import type { ResourceLimits } from 'node:worker_threads';
import { connectionLimits } from '../shared/config.ts';
import type { StartupMessage } from '../shared/ipc.ts';
import type { Lifecycle, ModelContext } from './model.ts';

export function startupMessage(model: string, ctx: ModelContext, heartbeat?: Int32Array): StartupMessage {
  return {
    heartbeat,
    type: 'startup',
    model,
    handlerUrl: ctx.handlerUrl,
    limits: connectionLimits(ctx.options),
    logLevel: ctx.options.logLevel,
  };
}

/** `--worker-memory-mb`: V8 ends a thread that outgrows its old generation (ERR_WORKER_OUT_OF_MEMORY). */
export function resourceLimits(ctx: ModelContext): ResourceLimits | undefined {
  const mb = ctx.options.workerMemoryMb;
  return mb > 0 ? { maxOldGenerationSizeMb: mb } : undefined;
}

/**
 * Turns on Node's on-disk compile cache for every worker thread started from now on. Each
 * thread compiles (and type-strips) its .ts modules anew; with the cache a thread starts in
 * roughly a plain Worker's time instead of ~4× that. Workers inherit process.env when they
 * are created, so setting the variable here is what reaches them. Respects a
 * NODE_COMPILE_CACHE the user already set.
 */
export function enableWorkerCompileCache(): void {
  if (process.env.NODE_COMPILE_CACHE) return;
  const { directory } = enableCompileCache();
  if (directory) process.env.NODE_COMPILE_CACHE = directory;
}

/**
 * A piscina pool's thread lifecycle into `lifecycle`: every thread it creates is a start and
 * every one it destroys an exit. A thread that ends while `planned()` is false (not close(), not a
 * rolling restart) died; the thread piscina creates after it (minThreads = maxThreads) is a respawn.
 * Decided when the thread ends: piscina reports a replacement only once it is ready, later.
 */
export function trackPoolThreads(pool: { on(event: 'workerCreate' | 'workerDestroy', listener: () => void): unknown }, lifecycle: Lifecycle, planned: () => boolean): void {
  let died = 0;
  pool.on('workerDestroy', () => {
    lifecycle.exits++;
    if (!planned()) died++;
  });
  pool.on('workerCreate', () => {
    lifecycle.starts++;
    if (died > 0) {
      died--;
      lifecycle.respawns++;
    }
  });
}
