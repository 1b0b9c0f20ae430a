// What every worker_threads model gives its threads: the startup message (handler, limits) and
// the per-thread heap cap. One place so thread, thread-pool and offload cannot drift apart.
import { enableCompileCache } from 'node:module';
import { setFlagsFromString } from 'node:v8';
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

/**
 * V8 compiles a function when it is first called (lazy compilation). A thread that serves one
 * connection and exits pays that in its fresh isolate for every function of Node's `net` and
 * stream code, and of ours, that the connection touches. Compiled eagerly (`--no-lazy`, set here
 * at run time before the first thread starts: a worker cannot take V8 flags of its own), a thread
 * per connection costs less: 15.3–16.0 against 18.8–20.8 ms of server CPU per connection
 * (bench/micro/connection-floor.mjs drive, 40 connections one after another, 3 interleaved pairs,
 * 2026-12-04), at ≈ 0.6 MB more RSS per thread (100 held connections: 1,017 against 960 MB).
 * Only for a thread per connection: a child process started with `--no-lazy` paid 57–60 against
 * 40 ms (its whole bootstrap compiled eagerly), and pools start their threads once.
 * SWITCHBOARD_LAZY_COMPILE=1 keeps V8's default.
 */
export function compileEagerlyInNewThreads(): void {
  if (process.env.SWITCHBOARD_LAZY_COMPILE === '1') return;
  setFlagsFromString('--no-lazy');
}
