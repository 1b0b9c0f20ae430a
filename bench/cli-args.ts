// The runners' (bench-ci, bench-validate, recommend) common end of argument parsing: strict flags, --help,
// no --version, and any usage error — yargs' own or a .check() that threw — becomes one line on
// stderr and null, which the runner turns into exit 2.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { killServersOnSignal } from '../harness/server.ts';

export async function parseOrUsage<T>(y: Argv<T>, name: string): Promise<ArgumentsCamelCase<T> | null> {
  try {
    return await y
      .strict()
      .help()
      .version(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      })
      .parseAsync();
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`);
    return null;
  }
}

/**
 * A runner's entry: servers it started die with it on SIGINT/SIGTERM, `main`'s number is the exit
 * code, and a throw is reported as `<failed>: <stack>` with exit `failedCode` (default 1).
 */
export async function runMain(main: () => Promise<number>, failed: string, failedCode = 1): Promise<void> {
  killServersOnSignal();
  try {
    process.exitCode = await main();
  } catch (err) {
    console.error(`${failed}: ${(err as Error).stack ?? err}`);
    process.exitCode = failedCode;
  }
}
