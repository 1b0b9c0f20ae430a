// `switchboard ctl switch`'s arguments: its own options out, the rest as serve flags → POST /switch's settings.
import { describe, expect, it } from 'vitest';
import { flagsToSettings, splitSwitchArgs } from '../../src/admin/ctl.ts';

describe('ctl switch arguments', () => {
  it('takes its own options out wherever they are, keeps every serve flag in order', () => {
    const s = splitSwitchArgs(['--model', 'thread-pool', '--admin', '127.0.0.1:9191', '--threads=4', '--json', '--token=t0k', '--proxy-protocol', '--timeout', '90']);
    expect(s).toEqual({ admin: '127.0.0.1:9191', token: 't0k', timeout: '90', json: true, serveArgs: ['--model', 'thread-pool', '--threads=4', '--proxy-protocol'] });
    expect(splitSwitchArgs(['--model', 'process'])).toEqual({ admin: undefined, token: undefined, timeout: undefined, json: false, serveArgs: ['--model', 'process'] });
  });
  it('serve flags become settings by their own names, values as written', () => {
    expect(flagsToSettings(['--model', 'thread-pool', '--threads=4', '--proxy-protocol', '--no-x', '--max-connections', '5000'])).toEqual({
      model: 'thread-pool',
      threads: '4',
      'proxy-protocol': true,
      x: false,
      'max-connections': '5000',
    });
    expect(flagsToSettings(['--threads', '2', '--threads', '3'])).toEqual({ threads: '3' }); // the last wins, as on the command line
  });
  it('a stray value is refused, naming it', () => {
    expect(() => flagsToSettings(['thread-pool'])).toThrow('expected a serve flag (--name [value]), got "thread-pool"');
  });
});
