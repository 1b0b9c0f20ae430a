// bench/handlers/slowed.ts, the test aid behind `bench-ci --slowdown-us N`: the built-in handler's
// replies, N µs later, with N read from the module URL's query (src/ reads no env var for it).
// Loaded in a plain Node process, as the servers load it: vitest's module runner handles a
// query in an import URL its own way.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { slowedHandler } from '../../bench/handlers/slowed.ts';
import { handlerUrl } from '../../src/shared/handler.ts';

const HANDLER_TS = fileURLToPath(new URL('../../src/shared/handler.ts', import.meta.url));

/** Loads `url` with loadHandler() in a fresh Node, times one ECHO; prints JSON or the load error. */
function echoWith(url: string): { ms?: number; echoed?: string; error?: string } {
  const script = `
    import { loadHandler } from ${JSON.stringify(HANDLER_TS)};
    try {
      const handle = await loadHandler(${JSON.stringify(url)});
      const ctx = { model: 'event-loop', pid: process.pid, threadId: 0, connection: 1, requests: 1, maxWork: 1000 };
      const t0 = performance.now();
      const reply = await handle(0x01, Buffer.from('hi'), ctx);
      console.log(JSON.stringify({ ms: performance.now() - t0, echoed: Buffer.from(reply.payload).toString() }));
    } catch (err) {
      console.log(JSON.stringify({ error: err.code + ' ' + err.message }));
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(r.stdout.trim() || JSON.stringify({ error: r.stderr }));
}

describe('slowed handler', () => {
  it('its --handler value is a file: URL with ?us=N, kept as given by handlerUrl()', () => {
    const url = slowedHandler(250);
    expect(new URL(url).searchParams.get('us')).toBe('250');
    expect(handlerUrl(url)).toBe(url);
  });

  it('answers like the built-in handler, N µs later', () => {
    expect(echoWith(slowedHandler(0))).toMatchObject({ echoed: 'hi' });
    const slow = echoWith(slowedHandler(50_000));
    expect(slow.echoed).toBe('hi');
    expect(slow.ms).toBeGreaterThanOrEqual(50);
  });

  it('refuses a ?us= that is not a number of µs at load', () => {
    expect(echoWith(slowedHandler(0).replace('us=0', 'us=abc')).error).toMatch(/^ERR_HANDLER_LOAD .*\?us= must be/);
  });
});
