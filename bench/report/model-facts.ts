// What the report's rules need to know about the models, read from the registry
// (src/models/registry.ts) so that a model added there is sorted into the right group here.
import { MODELS, modelsOfFamily, type ModelFamily, type ModelName } from '../../src/models/registry.ts';

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
 * Models whose connections are multiplexed on an event loop that also runs their handlers, with
 * no hop to another thread or process per request: event-loop, and process-pool (one epoll loop
 * per child). Not offload: its sockets are multiplexed but every request goes to a pool thread
 * and back. The registry has no fact for this yet: `capacity(options) === Infinity` means
 * "unbounded", which offload is too, and thread-pool multiplexes only with
 * --connections-per-thread > 1. Until it has one, the list is written here; typed as ModelName
 * so a rename in the registry fails typecheck.
 */
export const MULTIPLEXING: readonly ModelName[] = ['event-loop', 'process-pool'];
