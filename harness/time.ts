// Waiting, bounded: every wait in the harness has a deadline, so a hung server fails a check
// instead of hanging the run.
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rejects with "<what>: no answer in <ms> ms" if `p` has not settled by then. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))),
  ]);
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes; returns its last value. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000, everyMs = 25): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}
