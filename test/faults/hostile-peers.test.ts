// Issue 8, faults 1–3 at test scale, every variant: slowloris, connection flood, fuzz.
import { describe, it } from 'vitest';
import * as slowloris from '../../reliability/faults/slowloris.ts';
import * as flood from '../../reliability/faults/flood.ts';
import * as fuzz from '../../reliability/faults/fuzz.ts';
import { ctx, expectHeld, FAULT_VARIANTS, known } from './helpers.ts';

describe.each(FAULT_VARIANTS)('hostile peers: $name', (variant) => {
  it.skipIf(!!known(variant, 'slowloris'))(`slowloris: slow peers closed by --frame-timeout / --idle-timeout, active clients unaffected${known(variant, 'slowloris') ? ` — KNOWN ISSUE: ${known(variant, 'slowloris')}` : ''}`, async () => {
    expectHeld(await slowloris.run(ctx(variant)));
  }, 60_000);
  it.skipIf(!!known(variant, 'flood'))(`flood over --max-connections (+ per-ip): E_BUSY or clean close, fds back to baseline${known(variant, 'flood') ? ` — KNOWN ISSUE: ${known(variant, 'flood')}` : ''}`, async () => {
    expectHeld(await flood.run(ctx(variant)));
  }, 60_000);
  it.skipIf(!!known(variant, 'fuzz'))(`fuzz (~2,000 generated inputs): every request before a fatal error answered exactly, no hang${known(variant, 'fuzz') ? ` — KNOWN ISSUE: ${known(variant, 'fuzz')}` : ''}`, async () => {
    expectHeld(await fuzz.run(ctx(variant)));
  }, 90_000);
});
