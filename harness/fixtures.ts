// Handler modules that misbehave on request, by path (for `--handler`): the fault tests,
// the model tests and `make reliability` load the same files.
import { fileURLToPath } from 'node:url';

const at = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** HANG, SPIN, THROW, EXIT, ALLOC, CHAOS ops on top of the built-in handler (FaultOp). */
export const FAULTY_HANDLER = at('faulty-handler.ts');
/** Ops that kill or break the thread running them (thread-model isolation tests). */
export const CRASH_HANDLER = at('crash-handler.ts');
/** Exits while it loads whenever $SWITCHBOARD_CRASH_MARKER names an existing file: children that cannot start. */
export const STARTUP_CRASH_HANDLER = at('startup-crash-handler.ts');
export { FaultOp } from './fixtures/faulty-handler.ts';
