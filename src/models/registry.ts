// Every model, registered by name in this one place; the CLI and the tests list them from here.
// Modules load lazily so `serve --model event-loop` never pulls in piscina or fork machinery.
import type { Model, ModelContext } from './model.ts';

export interface ModelEntry {
  /** One line for `--help` and `switchboard models`. */
  summary: string;
  load(): Promise<new (ctx: ModelContext) => Model>;
}

export const MODELS = {
  'event-loop': {
    summary: 'every connection on the main thread, non-blocking and multiplexed (epoll)',
    load: async () => (await import('./event-loop.ts')).EventLoopModel,
  },
  process: {
    summary: 'a forked child process per connection (socket handed over IPC); exits when the connection closes',
    load: async () => (await import('./process.ts')).ProcessModel,
  },
  'process-pool': {
    summary: 'pre-forked child processes, each serving many connections; least-connections or round-robin dispatch',
    load: async () => (await import('./process-pool.ts')).ProcessPoolModel,
  },
  thread: {
    summary: 'a fresh worker thread per connection (--max-threads, --spare-threads warm spares)',
    load: async () => (await import('./thread.ts')).ThreadModel,
  },
  'thread-pool': {
    summary: 'piscina pool of --threads threads; each connection a task, K per thread (--connections-per-thread)',
    load: async () => (await import('./thread-pool.ts')).ThreadPoolModel,
  },
  offload: {
    summary: 'connections on the main event loop; each request\'s handler runs as a piscina task',
    load: async () => (await import('./offload.ts')).OffloadModel,
  },
} satisfies Record<string, ModelEntry>;

export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

export async function createModel(name: string, ctx: ModelContext): Promise<Model> {
  if (!isModelName(name)) throw new Error(`unknown model "${name}"; choose one of ${MODEL_NAMES.join(', ')}`);
  const ModelClass = await MODELS[name].load();
  return new ModelClass(ctx);
}
