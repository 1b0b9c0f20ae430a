// The fault tests run the same fault modules as `make reliability` (reliability/faults/*), at
// test scale, against one variant per model (harness/variants.ts), and assert every check held.
import { expect } from 'vitest';
import { DEFAULT_VARIANTS, type Variant } from '../../harness/variants.ts';
import type { FaultContext, FaultResult } from '../../reliability/lib.ts';

/** One variant per model (the first listed): models join as their variants are added. */
export const FAULT_VARIANTS: Variant[] = DEFAULT_VARIANTS;

/**
 * model/fault pairs that fail today, found by these tests (see results/reliability.md for the
 * measured detail). Skipped in `make test` with the reason in the test name; `make
 * reliability` still runs and reports them. Remove a line when the model is fixed.
 */
export const KNOWN_ISSUES: Record<string, string> = {
};

export function known(variant: Variant, fault: string): string | undefined {
  return KNOWN_ISSUES[`${variant.model}/${fault}`];
}

export function ctx(variant: Variant, extra: Partial<FaultContext> = {}): FaultContext {
  const seed = Number(process.env.FUZZ_SEED) || Math.floor(Math.random() * 2 ** 31);
  return { variant, scale: 'test', seed, log: () => {}, ...extra };
}

export function expectHeld(r: FaultResult): void {
  const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  // The seed is in the metrics of a fuzz result: FUZZ_SEED=<seed> replays it.
  expect(failed, `${r.variant}/${r.fault} ${JSON.stringify(r.metrics).slice(0, 600)}`).toEqual([]);
  expect(r.status).not.toBe('fail');
}
