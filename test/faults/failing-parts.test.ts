// Issue 8, faults 6–8 at test scale, every variant: hung/crashing handlers, killed parts,
// memory limits (harness/fixtures/faulty-handler.ts).
import { describe, it } from 'vitest';
import * as handlers from '../../reliability/faults/handlers.ts';
import * as kill from '../../reliability/faults/kill.ts';
import * as memory from '../../reliability/faults/memory.ts';
import { ctx, expectHeld, FAULT_VARIANTS, known } from './helpers.ts';

describe.each(FAULT_VARIANTS)('failing parts: $name', (variant) => {
  it.skipIf(!!known(variant, 'handlers'))(`hung (E_TIMEOUT), throwing (E_INTERNAL), exiting and spinning handlers (a watchdog replaces the stuck thread/child; event-loop's stall is checked as documented)${known(variant, 'handlers') ? ` — KNOWN ISSUE: ${known(variant, 'handlers')}` : ''}`, async () => {
    expectHeld(await handlers.run(ctx(variant)));
  }, 90_000);
  it.skipIf(!!known(variant, 'kill'))(`killed threads/children under load: only their connections fail, capacity recovers${known(variant, 'kill') ? ` — KNOWN ISSUE: ${known(variant, 'kill')}` : ''}`, async () => {
    expectHeld(await kill.run(ctx(variant)));
  }, 60_000);
  it.skipIf(!!known(variant, 'memory'))(`--worker-memory-mb: an unbounded allocation kills only its worker/child${known(variant, 'memory') ? ` — KNOWN ISSUE: ${known(variant, 'memory')}` : ''}`, async () => {
    expectHeld(await memory.run(ctx(variant)));
  }, 60_000);
});
