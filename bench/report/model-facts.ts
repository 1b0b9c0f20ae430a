// What the report's rules need to know about the models, read from the registry
// (src/models/registry.ts) so that a model added there is sorted into the right group here.
import { isModelName, MODEL_NAMES, MODELS, modelEntry, modelsOfFamily, type ModelFamily, type ModelName } from '../../src/models/registry.ts';
import { parseServeFlags } from '../../src/serve-flags.ts';
import { DEFAULT_OPTIONS, type FilledServerOptions } from '../../src/shared/config.ts';
import type { CellResult } from '../results.ts';

/** Models whose handlers run on worker threads: "threads" in the HOWTO's sense. */
export const THREAD_MODELS: readonly ModelName[] = modelsOfFamily('thread');
/** Models whose handlers run in child processes. */
export const PROCESS_MODELS: readonly ModelName[] = modelsOfFamily('process');

/** Models of a family that start a thread or child for every connection. */
const perConnection = (family: ModelFamily): ModelName[] => modelsOfFamily(family).filter((m) => MODELS[m].startsPerConnection !== null);

/** "Fork a subprocess to deal with each connection": the process-per-connection model(s). */
export const FORK_PER_CONNECTION: readonly ModelName[] = perConnection('process');
/** One connection per thread, its code written top to bottom: the HOWTO's blocking-sockets style. */
export const THREAD_PER_CONNECTION: readonly ModelName[] = perConnection('thread');

/**
 * The baseline the rules compare with: every connection and handler on the main thread's one
 * event loop, so it can use one core at most (the first such model, should there be more).
 */
export const EVENT_LOOP: ModelName | undefined = modelsOfFamily('event-loop')[0];

/**
 * The options `serve` runs with for the flags after `serve` in a recorded command, read by the
 * CLI's own parser (src/serve-flags.ts) with today's defaults; null when the command is not a
 * model's or the parser refuses it (an argument cut short when it was recorded). The runner
 * stores this in params.serverOptions as each cell ran.
 */
export function commandOptions(server: string, command: readonly string[], before: readonly string[] = []): FilledServerOptions | null {
  if (!isModelName(server)) return null;
  const at = command.indexOf('serve');
  const flags = at < 0 ? ['--model', server] : command.slice(at + 1);
  try {
    // A flag given twice keeps its last value, so `before` only fills what the command leaves out.
    return parseServeFlags([...before, ...flags]);
  } catch {
    return null;
  }
}

/**
 * Results recorded before params.serverOptions ran with --connections-per-thread 1 unless the
 * command said otherwise: the default then ('auto' came after), and what today's default must
 * not be read into an old run.
 */
const BEFORE_RECORDED_OPTIONS = ['--connections-per-thread', '1'];

/**
 * The options a cell's server ran with, so the registry's facts below are judged on what ran
 * (`--connections-per-thread 4` makes thread-pool multiplex): as recorded (params.serverOptions),
 * else from the recorded command, else the defaults; null only for servers that are not models.
 */
export function serverOptions(c: Pick<CellResult, 'server' | 'params'>): FilledServerOptions | null {
  if (!isModelName(c.server)) return null;
  if (c.params.serverOptions) return c.params.serverOptions;
  const cmd = c.params.serverCommand ?? [];
  const key = `${c.server}\0${cmd.join('\0')}`;
  let o = optionsMemo.get(key);
  if (!o) {
    o = commandOptions(c.server, cmd, BEFORE_RECORDED_OPTIONS) ?? commandOptions(c.server, [], BEFORE_RECORDED_OPTIONS)!;
    optionsMemo.set(key, o);
  }
  return o;
}
const optionsMemo = new Map<string, FilledServerOptions>();

/**
 * Does the cell's server multiplex its connections on an event loop that also runs their
 * handlers, with no hop to another thread or process per request (the HOWTO's select server)?
 * The registry's `multiplexes(options)`: event-loop, process-pool, thread-pool with K > 1; not
 * offload (its sockets share one loop, but every request goes to a pool thread and back).
 */
export function multiplexes(c: Pick<CellResult, 'server' | 'params'>): boolean {
  const o = serverOptions(c);
  // serverOptions is null for a name the registry does not have, so the cast holds.
  return o !== null && modelEntry(c.server as ModelName).multiplexes(o);
}

/**
 * A connection-bound server: with these options each connection holds a thread or a child while
 * it is open (thread, process, thread-pool with K = 1), so a bounded number are served at once
 * (the registry's finite capacity) and the rest wait unread. Their answers per connection show
 * who was served and who waited. thread-pool with K > 1 multiplexes its K and is not one.
 */
export function connectionBound(c: Pick<CellResult, 'server' | 'params'>): boolean {
  const o = serverOptions(c);
  const entry = o && modelEntry(c.server as ModelName);
  return !!entry && Number.isFinite(entry.capacity(o)) && !entry.multiplexes(o);
}

/** The models that multiplex with default options, for sentences that name them in general. */
export const MULTIPLEXING: readonly ModelName[] = MODEL_NAMES.filter((m) => MODELS[m].multiplexes(DEFAULT_OPTIONS));
