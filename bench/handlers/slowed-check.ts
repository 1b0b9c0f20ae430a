#!/usr/bin/env node
// The check on bench/handlers/slowed.ts: how much CPU does `?us=N` really add to one request?
// Its busy wait reads the clock until N µs have passed, so it overshoots by the clock reads and
// the call around them (≈ 0.1–0.2 µs on this VM, where one echo request costs ≈ 10 µs: 1–2
// points of "+5%"). The sensitivity proof (bench/ci/sensitivity.ts) asks this check for the extra
// CPU each level really costs, asks slowed.ts for that much less, and records what it measured.
//
//   node bench/handlers/slowed-check.ts --us 0.42 [--rounds 7] [--calls 200000]
//
// Prints one JSON line: { askedUs, extraUs, builtinNs, rounds }. extraUs is the median over
// interleaved rounds of (slowed − built-in) CPU per call, both handlers answering the same ECHO
// in this one process (process.cpuUsage: user + system, so a descheduled moment is not counted).
// Exit codes: 0 measured, 2 bad usage.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { handle as builtin } from '../../src/shared/builtin-handler.ts';
import type { Handler, HandlerContext } from '../../src/shared/handler.ts';
import { Op } from '../../src/shared/protocol.ts';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseOrUsage, runMain } from '../cli-args.ts';
import { median } from '../ci/stats.ts';
import { pinnedCommand } from '../placement.ts';
import { slowedHandler } from './slowed.ts';

export interface SlowdownCheck {
  askedUs: number;
  /** Median extra CPU per call over the built-in handler (µs). */
  extraUs: number;
  /** The built-in handler's own CPU per ECHO call (ns). */
  builtinNs: number;
  rounds: number;
}

/** CPU per call (ns) of `calls` ECHO calls, after a warm-up that lets V8 optimise the loop. */
function cpuPerCallNs(h: Handler, calls: number): number {
  const ctx = { maxWork: 1 } as HandlerContext;
  const payload = Buffer.alloc(64);
  for (let i = 0; i < calls >> 3; i++) h(Op.ECHO, payload, ctx);
  const t0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) h(Op.ECHO, payload, ctx);
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / calls;
}

export async function checkSlowdown(us: number, rounds = 7, calls = 200_000): Promise<SlowdownCheck> {
  const slowed = ((await import(slowedHandler(us))) as { handle: Handler }).handle;
  // Fewer calls when each is long: ≈ 0.2 s per measurement whatever N is.
  const n = Math.max(2000, Math.min(calls, Math.round(200_000 / Math.max(us, 0.001))));
  const base: number[] = [];
  const extra: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const b = cpuPerCallNs(builtin, n);
    const s = cpuPerCallNs(slowed, n);
    base.push(b);
    extra.push((s - b) / 1000);
  }
  return { askedUs: us, extraUs: median(extra), builtinNs: median(base), rounds };
}

/** The check in a child process pinned to `cpus` (the servers' CPU), so it measures where they run. */
export function checkSlowdownPinned(us: number, cpus: string | undefined): SlowdownCheck {
  const cmd = pinnedCommand([process.execPath, fileURLToPath(import.meta.url), '--us', String(us)], cpus);
  const out = execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as SlowdownCheck;
}

async function main(): Promise<number> {
  const args = await parseOrUsage(
    yargs(hideBin(process.argv))
      .scriptName('slowed-check')
      .usage('$0 --us N\n\nThe extra CPU per call bench/handlers/slowed.ts?us=N really adds over the built-in handler (one JSON line).')
      .option('us', { type: 'number', demandOption: true, describe: 'microseconds of busy work asked for (≥ 0)' })
      .option('rounds', { type: 'number', default: 7, describe: 'interleaved rounds (built-in, slowed) whose median is reported' })
      .option('calls', { type: 'number', default: 200_000, describe: 'calls per measurement at most (fewer when each is long: ≈ 0.2 s each)' })
      .check((a) => {
        if (!(a.us >= 0 && a.rounds >= 1 && a.calls >= 1000)) throw new Error('need --us N ≥ 0 (µs), --rounds ≥ 1, --calls ≥ 1000');
        return true;
      }),
    'slowed-check',
  );
  if (!args) return 2;
  console.log(JSON.stringify(await checkSlowdown(args.us, Math.round(args.rounds), Math.round(args.calls))));
  return 0;
}

if (import.meta.main) await runMain(main, 'slowed-check: failed');
