// A test aid for the CI regression report: the built-in handler with N µs of busy work before
// every request, to prove `make bench-ci` catches a slowdown (README; bench-ci --slowdown-us N).
// N travels in the module URL's query — `--handler 'file:///…/bench/handlers/slowed.ts?us=100'` —
// which the server passes unchanged to every thread and child that imports the handler, so
// nothing in src/ knows about it. A plain path would not do: handlerUrl() turns a path into a
// file URL and its `?` into part of the file name.
import { handle as builtin } from '../../src/shared/builtin-handler.ts';
import type { Handler } from '../../src/shared/handler.ts';

const param = new URL(import.meta.url).searchParams.get('us') ?? '0';
const us = Number(param);
if (!(us >= 0)) throw new Error(`bench/handlers/slowed.ts: ?us= must be a number of microseconds ≥ 0, got "${param}"`);

/** The `--handler` value for the built-in handler slowed by `us` µs per request. */
export function slowedHandler(us: number): string {
  const url = new URL(import.meta.url);
  url.search = '';
  url.searchParams.set('us', String(us));
  return url.href;
}

function busyWait(us: number): void {
  const until = process.hrtime.bigint() + BigInt(Math.round(us * 1000));
  while (process.hrtime.bigint() < until);
}

export const handle: Handler = (op, payload, ctx) => {
  if (us > 0) busyWait(us);
  return builtin(op, payload, ctx);
};
