import { describe, expect, it } from 'vitest';
import { parseServeFlags } from '../../src/serve-flags.ts';
import { DEFAULT_OPTIONS } from '../../src/shared/config.ts';
import { SwitchboardError } from '../../src/shared/errors.ts';
import { MODELS } from '../../src/models/registry.ts';

describe('parseServeFlags', () => {
  it('no flags: the defaults `switchboard serve` runs with', () => {
    expect(parseServeFlags([])).toEqual(DEFAULT_OPTIONS);
  });

  it('maps flags onto options; seconds-valued flags become ms', () => {
    const o = parseServeFlags(['--model', 'thread-pool', '--threads', '2', '--connections-per-thread', '4', '--idle-timeout', '1.5', '--queue-timeout', '0']);
    expect(o).toMatchObject({ model: 'thread-pool', threads: 2, connectionsPerThread: 4, idleTimeoutMs: 1500, queueTimeoutMs: 0 });
    expect(o.drainTimeoutMs).toBe(DEFAULT_OPTIONS.drainTimeoutMs);
    expect(MODELS['thread-pool'].capacity(o)).toBe(8);
  });

  it('a flag given twice keeps its last value, as the CLI does', () => {
    expect(parseServeFlags(['--threads', '2', '--threads', '3', '-m', 'offload', '--model', 'process']))
      .toMatchObject({ threads: 3, model: 'process' });
  });

  it.each([
    [['--threads', '0'], '--threads must be an integer 1..1024 (got 0)'],
    [['--idle-timeout', '-1'], '--idle-timeout must be'],
    [['--model', 'fibers'], 'Invalid values'],
    [['--no-such-flag'], 'Unknown argument'],
    [['stray'], 'Unknown argument: stray'],
  ])('refuses %j with ERR_INVALID_OPTION', (flags, message) => {
    let caught: unknown;
    try {
      parseServeFlags(flags);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SwitchboardError);
    expect((caught as SwitchboardError).code).toBe('ERR_INVALID_OPTION');
    expect((caught as Error).message).toContain(message);
  });
});
