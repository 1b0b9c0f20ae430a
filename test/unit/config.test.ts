import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, fillOptions } from '../../src/shared/config.ts';

describe('fillOptions', () => {
  it('applies the documented defaults', () => {
    const o = fillOptions();
    expect(o).toEqual(DEFAULT_OPTIONS);
    expect(o).toMatchObject({ host: '127.0.0.1', maxFrame: 1048576, maxWork: 10_000_000, idleTimeoutMs: 60_000, maxConnections: 10_000, drainTimeoutMs: 10_000, maxThreads: 256, queue: 1024, maxProcesses: 64 });
  });
  it('ignores undefined so CLI flags left unset keep defaults', () => {
    expect(fillOptions({ port: undefined }).port).toBe(7070);
  });
  it.each([
    [{ port: 70000 }, 'options.port must be an integer 0..65535 (got 70000)'],
    [{ maxFrame: 0 }, 'options.maxFrame must be an integer 1..4294967295 (got 0)'],
    [{ idleTimeoutMs: -1 }, 'options.idleTimeoutMs must be a non-negative integer (0 = off) (got -1)'],
    [{ threads: 1.5 }, 'options.threads must be an integer 1..1024 (got 1.5)'],
    [{ dispatch: 'random' as never }, 'options.dispatch must be one of least-connections, round-robin (got "random")'],
  ])('rejects %j', (input, message) => {
    expect(() => fillOptions(input)).toThrow(message);
  });
});
