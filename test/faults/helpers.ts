// The fault tests run the same fault modules as `make reliability` (reliability/faults/*), at
// test scale, against every variant in test/helpers/variants.ts, and assert every check held.
import { expect } from 'vitest';
import type { FaultContext, FaultResult, Variant } from '../../reliability/lib.ts';
import { VARIANTS } from '../helpers/variants.ts';

/** One variant per model (the first listed): models join as their variants are added. */
export const FAULT_VARIANTS: Variant[] = VARIANTS.filter((v, i) => VARIANTS.findIndex((w) => w.model === v.model) === i);

/**
 * model/fault pairs that fail today, found by these tests (see results/reliability.md for the
 * measured detail). Skipped in `make test` with the reason in the test name; `make
 * reliability` still runs and reports them. Remove a line when the model is fixed.
 */
export const KNOWN_ISSUES: Record<string, string> = {
  'thread/slowloris': 'under heavy CPU contention a few (2/100) slow connections were still open 20 s after their frame timeout (investigate)',
  'process/slowloris': 'fork per connection: slow peers hold the --max-processes children, queued ones are not timed out',
  'process/flood': 'fork per connection: admitted connects time out while children start under a flood',
  'process/fuzz': 'fork per connection: 16 concurrent short connections time out (10 s) while children start',
  'process/resets': 'no 1 MiB reply was being written when the reset came (child start latency)',
  'process/slow-reader': 'RSS growth is dominated by one forked child per other client (~50 MiB each)',
  'process/drain': 'requests written before SIGTERM went unanswered (hundreds)',
  'process/kill': 'E_BUSY and lost requests beyond the killed children',
  'process-pool/kill': 'more requests affected than the killed child held / recovery',
  'offload/kill': 'CHAOS census sees no other pool thread in offload: no thread killed (harness, to investigate)',
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
