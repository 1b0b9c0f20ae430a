// Live changes, from the admin endpoint (POST /switch, POST /restart) and from SIGHUP with
// --config FILE. Settings are serve flags throughout: the config file and a switch's body use
// the flags' own names ({"model": "thread-pool", "threads": 4, "max-connections": 5000}), and
// are checked by the same definitions and rules as the command line (parseServeFlags).
//
// Precedence: the command line wins over the config file (at start and at every SIGHUP); a
// switch's flags win over both until the next SIGHUP, which goes back to file + command line.
import { readFileSync } from 'node:fs';
import { SwitchboardError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { parseServeFlags } from '../serve-flags.ts';
import type { RestartResult, RunningServer, SwitchResult } from '../server.ts';
import type { FilledServerOptions } from '../shared/config.ts';

/** Flags that belong to the process, not to a generation: they cannot change live. */
const FIXED = ['host', 'port', 'admin-port', 'admin-host', 'admin-token', 'config', 'log-level'];

/** {"threads": 4, "proxy-protocol": true} → ['--threads', '4', '--proxy-protocol']; refuses what is not a flag value. */
export function settingsToFlags(settings: unknown, where: string): string[] {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new SwitchboardError('ERR_INVALID_OPTION', `${where}: must be a JSON object of serve flags, e.g. {"model": "thread-pool", "threads": 4}`);
  }
  const flags: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    if (!/^[a-z][a-z0-9-]*$/.test(key)) throw new SwitchboardError('ERR_INVALID_OPTION', `${where}: "${key}" is not a serve flag name (use the flags' own names, e.g. "max-connections")`);
    if (typeof value === 'boolean') flags.push(value ? `--${key}` : `--no-${key}`);
    else if (typeof value === 'number' || typeof value === 'string') flags.push(`--${key}`, String(value));
    else throw new SwitchboardError('ERR_INVALID_OPTION', `${where}: "${key}" must be a string, number or boolean (got ${JSON.stringify(value)})`);
  }
  return flags;
}

/** The flags of a JSON config file; a missing file, bad JSON or a bad value names the file and the field. */
export function readConfigFlags(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SwitchboardError('ERR_INVALID_OPTION', `--config ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (err) {
    throw new SwitchboardError('ERR_INVALID_OPTION', `--config ${file}: not JSON: ${(err as Error).message}`);
  }
  const flags = settingsToFlags(settings, `--config ${file}`);
  for (const key of Object.keys(settings as object)) {
    if (['config', 'admin-port', 'admin-host', 'admin-token'].includes(key)) throw new SwitchboardError('ERR_INVALID_OPTION', `--config ${file}: "${key}" can only be given on the command line`);
  }
  // Checked now, alone, so the error names the file.
  try {
    parseServeFlags(flags);
  } catch (err) {
    throw new SwitchboardError('ERR_INVALID_OPTION', `--config ${file}: ${(err as Error).message}`);
  }
  return flags;
}

/** The options for `flags` with the command line's on top: what a start or a SIGHUP runs with. */
export function effectiveOptions(configFlags: readonly string[], commandLine: readonly string[]): FilledServerOptions {
  return parseServeFlags([...configFlags, ...commandLine]);
}

export class Control {
  readonly #server: RunningServer;
  readonly #commandLine: readonly string[];
  readonly #configFile: string | undefined;
  readonly #log: Logger;
  /** The flags the serving generation was built from (config file, command line, switches). */
  #flags: string[];

  constructor(server: RunningServer, o: { commandLine: readonly string[]; configFlags: readonly string[]; configFile?: string; log: Logger }) {
    this.#server = server;
    this.#commandLine = o.commandLine;
    this.#configFile = o.configFile;
    this.#log = o.log;
    this.#flags = [...o.configFlags, ...o.commandLine];
  }

  /**
   * POST /switch: the current flags with `settings` on top, as the next generation. A new
   * --handler loads and runs code, so it is taken only from an endpoint that has a token (on
   * loopback without one, any local user could send it); SIGHUP's file is the operator's own.
   */
  async switch(settings: unknown, o: { allowHandler: boolean }): Promise<SwitchResult> {
    const given = settingsToFlags(settings, 'switch');
    const fixed = Object.keys(settings as object).filter((k) => FIXED.includes(k));
    if (fixed.length) throw new SwitchboardError('ERR_INVALID_OPTION', `switch: ${fixed.map((k) => `--${k}`).join(', ')} cannot change live (they belong to the process; restart it)`);
    if (!o.allowHandler && Object.hasOwn(settings as object, 'handler')) {
      throw new SwitchboardError('ERR_INVALID_OPTION', 'switch: --handler loads code, so it can change live only through an admin endpoint with --admin-token (or through --config and SIGHUP)');
    }
    return this.#apply([...this.#flags, ...given], 'switch');
  }

  /** POST /restart: fresh threads or children, same flags: in place one at a time (process-pool) or as a new generation. */
  restart(): Promise<RestartResult> {
    return this.#server.restart();
  }

  /** SIGHUP: the config file again, the command line on top. A bad file is refused; nothing changes. */
  async reload(): Promise<SwitchResult | null> {
    if (!this.#configFile) {
      this.#log.warn({}, 'SIGHUP without --config: nothing to re-read');
      return null;
    }
    try {
      const configFlags = readConfigFlags(this.#configFile);
      return await this.#apply([...configFlags, ...this.#commandLine], 'reload');
    } catch (err) {
      this.#log.error({ file: this.#configFile, reason: (err as Error).message }, 'SIGHUP: config refused; the running configuration stays');
      return null;
    }
  }

  async #apply(flags: string[], why: string): Promise<SwitchResult> {
    const options = parseServeFlags(flags); // throws ERR_INVALID_OPTION naming the flag
    const result = await this.#server.switchTo(options);
    this.#flags = flags;
    return { ...result, why } as SwitchResult;
  }
}
