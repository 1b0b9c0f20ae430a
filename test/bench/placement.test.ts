// CPU placement policies: pure functions of the CPU lists, tested without taskset.
import { describe, expect, it } from 'vitest';
import { clientSpins, defaultPlacement, describePlacement, expandCpuList, parsePlacement } from '../../bench/placement.ts';

describe('placement', () => {
  it('splits a quarter of the CPUs (at least one) to the client', () => {
    expect(defaultPlacement([0])).toEqual({});
    expect(defaultPlacement([0, 1])).toEqual({ client: '0', server: '1' });
    expect(defaultPlacement([0, 1, 2, 3, 4, 5, 6, 7])).toEqual({ client: '0,1', server: '2,3,4,5,6,7' });
  });
  it('parses and prints --cpus, and refuses a malformed one', () => {
    expect(parsePlacement('server=1,client=0')).toEqual({ server: '1', client: '0' });
    expect(parsePlacement('server=2-3,5,client=0,1')).toEqual({ server: '2-3,5', client: '0,1' });
    expect(expandCpuList('2-3,5')).toEqual([2, 3, 5]);
    expect(parsePlacement('none')).toEqual({});
    expect(describePlacement({})).toBe('none');
    expect(() => parsePlacement('server=a')).toThrow(/--cpus/);
  });
  it('the client busy-polls only pinned, apart from the server, with a CPU per load thread', () => {
    expect(clientSpins({ server: '1', client: '0' }, 1, true)).toBe(true);
    expect(clientSpins({ server: '1', client: '0' }, 2, true)).toBe(false); // two spinners, one core
    expect(clientSpins({ server: '0-1', client: '1' }, 1, true)).toBe(false); // shares the server's CPU
    expect(clientSpins({ client: '0' }, 1, true)).toBe(false); // the server may run anywhere
    expect(clientSpins({}, 1, true)).toBe(false);
    expect(clientSpins({ server: '1', client: '0' }, 1, false)).toBe(false); // no taskset: nothing is pinned
  });
});
