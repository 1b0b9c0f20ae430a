// The runners' (bench-ci, bench-validate, recommend) common end of argument parsing: strict flags, --help,
// no --version, and any usage error — yargs' own or a .check() that threw — becomes one line on
// stderr and null, which the runner turns into exit 2.
import type { ArgumentsCamelCase, Argv } from 'yargs';

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
