// Every model, registered by name in this one place, with the facts the rest of the project
// needs about it (the CLI, the benchmark, `make reliability` and the tests read them from here,
// never from copies). Modules load lazily so `serve --model event-loop` never pulls in piscina
// or fork machinery.
import type { FilledServerOptions } from '../shared/config.ts';
import { SwitchboardError } from '../shared/errors.ts';
import type { Model, ModelContext } from './model.ts';

/** Where a connection's handler runs: the main thread, worker threads, or child processes. */
export type ModelFamily = 'event-loop' | 'thread' | 'process';

export interface ModelEntry {
  /** One line for `--help` and `switchboard models`. */
  summary: string;
  family: ModelFamily;
  /**
   * Set for models that start a thread or fork a child for every connection: their connection
   * rate is bounded by that start-up. The text names the cost ("a fork per connection").
   */
  startsPerConnection: string | null;
  /**
   * Connections served at once with these options before new ones wait in the model's queue
   * (Infinity for models that multiplex without bound). Connection-bound models can be filled
   * by slow peers: a queued connection is not read until it is served.
   */
  capacity(options: FilledServerOptions): number;
  /**
   * With these options, does one event loop read, handle and write many connections' requests
   * with no hop to another thread or process per request (the HOWTO's select/epoll server)?
   */
  multiplexes(options: FilledServerOptions): boolean;
  load(): Promise<new (ctx: ModelContext) => Model>;
}

const unbounded = () => Infinity;

export const MODELS = {
  'event-loop': {
    summary: 'every connection on the main thread, non-blocking and multiplexed (epoll)',
    family: 'event-loop',
    startsPerConnection: null,
    capacity: unbounded,
    multiplexes: () => true,
    load: async () => (await import('./event-loop.ts')).EventLoopModel,
  },
  process: {
    summary: 'a forked child process per connection (socket handed over IPC); exits when the connection closes',
    family: 'process',
    startsPerConnection: 'a fork per connection',
    capacity: (o) => o.maxProcesses,
    multiplexes: () => false,
    load: async () => (await import('./process.ts')).ProcessModel,
  },
  'process-pool': {
    summary: 'pre-forked child processes, each serving many connections; least-connections or round-robin dispatch',
    family: 'process',
    startsPerConnection: null,
    capacity: unbounded,
    multiplexes: () => true,
    load: async () => (await import('./process-pool.ts')).ProcessPoolModel,
  },
  thread: {
    summary: 'a fresh worker thread per connection (--max-threads, --spare-threads warm spares); a thread start (≈ 15 ms of CPU here) per connection, code compiled eagerly (SWITCHBOARD_LAZY_COMPILE=1: not)',
    family: 'thread',
    startsPerConnection: 'a thread start per connection',
    capacity: (o) => o.maxThreads,
    multiplexes: () => false,
    load: async () => (await import('./thread.ts')).ThreadModel,
  },
  'thread-pool': {
    summary: 'piscina pool of --threads threads, each multiplexing K connections (--connections-per-thread; auto: threads × K covers --max-connections, 1: Apache worker)',
    family: 'thread',
    startsPerConnection: null,
    // K as filled: fillOptions resolves --connections-per-thread auto to ceil(maxConnections ÷ threads).
    capacity: (o) => o.threads * o.connectionsPerThread,
    multiplexes: (o) => o.connectionsPerThread > 1,
    load: async () => (await import('./thread-pool.ts')).ThreadPoolModel,
  },
  offload: {
    summary: 'connections on the main event loop; handlers run on --threads pool threads, each request handed over through a shared-memory ring per thread',
    family: 'thread',
    startsPerConnection: null,
    capacity: unbounded,
    // Connections share the main loop, but every request hops to a pool thread and back.
    multiplexes: () => false,
    load: async () => (await import('./offload.ts')).OffloadModel,
  },
} satisfies Record<string, ModelEntry>;

export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

/** The registry entry of a model, typed as the contract (not the literal object). */
export function modelEntry(name: ModelName): ModelEntry {
  return MODELS[name];
}

/** Model names of one family, in registry order. */
export function modelsOfFamily(family: ModelFamily): ModelName[] {
  return MODEL_NAMES.filter((m) => MODELS[m].family === family);
}

export async function createModel(name: string, ctx: ModelContext): Promise<Model> {
  // An option with a bad value, like any other (the CLI's choices catch it before this).
  if (!isModelName(name)) throw new SwitchboardError('ERR_INVALID_OPTION', `unknown model "${name}"; choose one of ${MODEL_NAMES.join(', ')}`);
  const ModelClass = await MODELS[name].load();
  return new ModelClass(ctx);
}
