// bench/profile/cpuprofile.ts on hand-made profiles: which samples fall in the window, self time
// per frame and module, inclusive time of this project's functions, and the file-name roles.
import { describe, expect, it } from 'vitest';
import { aggregate, emptyAggregate, moduleOf, parseProfileName, roleOf, top, type CpuProfile } from '../../bench/profile/cpuprofile.ts';

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });

// root → onData (src) → push (src) → writeBuffer (native); root → (idle); root → (garbage collector)
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 5, 6] },
    { id: 2, callFrame: frame('onData', 'file:///x/y/src/shared/connection.ts', 9), children: [3] },
    { id: 3, callFrame: frame('push', 'file:///x/y/src/shared/protocol.ts', 4), children: [4] },
    { id: 4, callFrame: frame('writeBuffer', ''), children: [] },
    { id: 5, callFrame: frame('(idle)', ''), children: [] },
    { id: 6, callFrame: frame('(garbage collector)', ''), children: [] },
  ],
  startTime: 1_000,
  endTime: 2_000,
  // times: 1100 1200 1300 1400 1500 1600
  samples: [4, 3, 5, 2, 6, 4],
  timeDeltas: [100, 100, 100, 100, 100, 100],
};

describe('cpuprofile aggregate', () => {
  it('counts every sample without a window: self, modules, idle apart, own functions inclusive', () => {
    const a = emptyAggregate();
    expect(aggregate(profile, a)).toBe(600);
    expect(a.busyUs).toBe(500);
    expect(a.idleUs).toBe(100);
    expect(a.profiles).toBe(1);
    expect(a.self.get('(native writeBuffer)')).toBe(200);
    expect(a.self.get('push src/shared/protocol.ts:5')).toBe(100);
    expect(a.modules.get('(garbage collector)')).toBe(100);
    // onData is on the stack of both writeBuffer samples, the push sample and its own: 400.
    expect(a.ownInclusive.get('onData src/shared/connection.ts:10')).toBe(400);
    expect(a.ownInclusive.get('push src/shared/protocol.ts:5')).toBe(300);
    expect(top(a.self, 1)).toEqual([['(native writeBuffer)', 200]]);
  });

  it('keeps only samples inside [from, to]', () => {
    const a = emptyAggregate();
    // samples at 1300 (idle), 1400 (onData), 1500 (gc)
    expect(aggregate(profile, a, 1_250, 1_500)).toBe(300);
    expect(a.busyUs).toBe(200);
    expect(a.ownInclusive.get('onData src/shared/connection.ts:10')).toBe(100);
    expect(a.self.has('(native writeBuffer)')).toBe(false);
    const none = emptyAggregate();
    expect(aggregate(profile, none, 5_000, 6_000)).toBe(0);
    expect(none.profiles).toBe(0);
  });
});

describe('cpuprofile blocked frames', () => {
  it("counts piscina's Atomics.wait loop as idle, not busy", () => {
    const p: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2] },
        { id: 2, callFrame: frame('atomicsWaitLoop', 'file:///r/node_modules/piscina/dist/worker.js', 125), children: [] },
      ],
      startTime: 0,
      endTime: 300,
      samples: [2, 2, 2],
      timeDeltas: [100, 100, 100],
    };
    const a = emptyAggregate();
    aggregate(p, a);
    expect([a.busyUs, a.idleUs]).toEqual([0, 300]);
  });
});

describe('cpuprofile names and roles', () => {
  it("parses Node's file names and tells main thread, worker threads and children apart", () => {
    expect(parseProfileName('CPU.20261202.054444.3187.12.013.cpuprofile')).toEqual({ pid: 3187, tid: 12 });
    expect(parseProfileName('notes.txt')).toBeNull();
    expect(roleOf({ pid: 7, tid: 0 }, 7)).toBe('main thread');
    expect(roleOf({ pid: 7, tid: 3 }, 7)).toBe('worker threads');
    expect(roleOf({ pid: 8, tid: 0 }, 7)).toBe('child processes');
  });

  it('shortens URLs to a module: a package, a checkout path, a builtin', () => {
    expect(moduleOf('file:///a/b/node_modules/piscina/dist/worker.js', 'f')).toBe('piscina');
    expect(moduleOf('file:///a/b/node_modules/@scope/pkg/x.js', 'f')).toBe('@scope/pkg');
    expect(moduleOf('file:///work/main/src/models/offload.ts', 'f')).toBe('src/models/offload.ts');
    expect(moduleOf('node:net', 'f')).toBe('node:net');
    expect(moduleOf('', 'postMessage')).toBe('(native postMessage)');
  });
});
