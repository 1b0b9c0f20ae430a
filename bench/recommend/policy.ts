// `recommend`'s rules, pure: which models are worth measuring for this handler (from its
// profile), and which of the measured ones to run (from the cells). Every sentence of the verdict
// is built from the figures passed in, so the same inputs always give the same advice.
import type { ConsistencyResult } from '../mix/consistency.ts';
import type { HandlerProfile } from '../mix/profile.ts';
import type { AggCell } from '../report/aggregate.ts';
import { clears } from '../report/noise.ts';

export interface Constraints {
  /** p99 the user needs, ms (at every measured concurrency), or null. */
  p99Ms: number | null;
  /** Peak RSS of the whole server the user can give, MiB, or null. */
  memoryMb: number | null;
  /** Cores the server will have. */
  cores: number;
}

export interface Candidate {
  model: string;
  /** Sizing flags for `serve`. */
  flags: string[];
  /** Why it is in the set. */
  why: string;
}

/**
 * Above this synchronous hold per request (µs) the handler, not the hand-off, dominates: a thread
 * or child per core is worth its hand-off, and offload (one task per request) becomes a candidate.
 */
export const HEAVY_SYNC_US = 100;

/** Tie-break among models the data cannot separate: the one with fewer moving parts first. */
export const SIMPLICITY = ['event-loop', 'thread-pool', 'offload', 'process-pool', 'thread', 'process'];

const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
/** "610–640" over rounds, or one figure when there was one round. */
const span = (s: { min: number; max: number }) => (Math.round(s.min) === Math.round(s.max) ? n0(s.min) : `${n0(s.min)}–${n0(s.max)}`);

export const fmtUs = (us: number): string => (us >= 1000 ? `${(us / 1000).toFixed(us >= 10_000 ? 0 : 1)} ms` : `${Math.round(us)} µs`);

/** The targeted set: not the whole matrix, the models this profile makes plausible. */
export function candidates(p: HandlerProfile, cores: number): Candidate[] {
  const hold = p.weighted.syncUsP50;
  const heavy = hold >= HEAVY_SYNC_US;
  const out: Candidate[] = [
    { model: 'event-loop', flags: [], why: heavy ? `the baseline: one thread, so at ${fmtUs(hold)} held per request it caps near ${Math.round(1e6 / hold).toLocaleString('en-US')} req/s` : `the handler returns in ${fmtUs(hold)}: one thread may well be enough` },
    { model: 'thread-pool', flags: ['--threads', String(cores)], why: `${cores} threads, each multiplexing its share of connections (shared memory, one process)` },
    { model: 'process-pool', flags: ['--processes', String(cores)], why: `${cores} children, each its own event loop (isolation, no shared heap)` },
  ];
  if (heavy) out.push({ model: 'offload', flags: ['--threads', String(cores)], why: `connections on the main loop, each request's handler a task on ${cores} threads: worth its per-request hand-off only for a handler this heavy` });
  return out;
}

export interface Judged {
  model: string;
  eligible: boolean;
  /** Why not eligible (empty when eligible). */
  reasons: string[];
  /** Its cell at each measured concurrency, ascending. */
  cells: AggCell[];
  /** The cell the ranking reads: the highest concurrency. */
  top: AggCell | null;
}

/** Each candidate measured against the constraints. */
export function judge(cands: Candidate[], cells: AggCell[], c: Constraints, consistency: ConsistencyResult | null): Judged[] {
  return cands.map(({ model }) => {
    const mine = cells.filter((x) => x.server === model && x.workload === 'mix').sort((a, b) => a.params.connections - b.params.connections);
    const reasons: string[] = [];
    const cons = consistency?.models.find((m) => m.model === model);
    if (cons && (cons.error || cons.wrong || cons.differ)) reasons.push(`answered differently: ${cons.error ?? cons.examples[0] ?? `${cons.wrong} wrong, ${cons.differ} differ`}`);
    if (!mine.length) reasons.push('no cell ran');
    for (const x of mine) {
      const at = `c=${x.params.connections}`;
      if (!x.ok || x.rounds.ok.length === 0) reasons.push(`${at}: failed (${x.error ?? 'no figures'})`);
      else {
        if ((x.errors?.total ?? 0) > 0) reasons.push(`${at}: ${x.errors!.total} errors (${x.firstError ?? 'see the cells'})`);
        if (x.rounds.connections && x.rounds.connections.starved > 0) reasons.push(`${at}: starved ${x.rounds.connections.starved} of ${x.rounds.connections.offered} connections`);
        if (c.p99Ms !== null && x.rounds.p99 && x.rounds.p99.median > c.p99Ms * 1000) reasons.push(`${at}: p99 ${fmtUs(x.rounds.p99.median)} > ${c.p99Ms} ms`);
        if (c.memoryMb !== null && x.rounds.peakRssBytes && x.rounds.peakRssBytes.median > c.memoryMb * 1048576) reasons.push(`${at}: peak RSS ${Math.round(x.rounds.peakRssBytes.median / 1048576)} MiB > ${c.memoryMb} MiB`);
      }
    }
    return { model, eligible: reasons.length === 0, reasons, cells: mine, top: mine.at(-1) ?? null };
  });
}

export interface Decision {
  chosen: Judged | null;
  runnerUp: Judged | null;
  /** Models whose throughput range overlaps the chosen one's: the data cannot separate them. */
  tiedWith: Judged[];
  /** How the choice was made, in one sentence. */
  rule: string;
}

const tput = (j: Judged) => j.top?.rounds.throughput ?? null;
const rss = (j: Judged) => j.top?.rounds.peakRssBytes?.median ?? Infinity;

/**
 * Highest throughput at the highest concurrency among the eligible models; where the leader's
 * range does not clear another's, the tied models are told apart by memory, then simplicity —
 * never by a median difference the rounds themselves do not support.
 */
export function decide(judged: Judged[]): Decision {
  const ok = judged.filter((j) => j.eligible && tput(j));
  if (!ok.length) return { chosen: null, runnerUp: null, tiedWith: [], rule: 'no candidate met every constraint' };
  const ranked = [...ok].sort((a, b) => tput(b)!.median - tput(a)!.median);
  const leader = ranked[0]!;
  const tied = ranked.slice(1).filter((j) => !clears(tput(leader)!, tput(j)!, true));
  if ((tput(leader)!.n ?? 0) < 2) {
    return { chosen: leader, runnerUp: ranked[1] ?? null, tiedWith: [], rule: 'highest throughput in a single round: not tested against noise (run without --quick for a verdict)' };
  }
  if (!tied.length) {
    return { chosen: leader, runnerUp: ranked[1] ?? null, tiedWith: [], rule: ranked[1] ? `highest throughput, and its range over rounds clears ${ranked[1].model}'s` : 'the only model that met every constraint' };
  }
  const pool = [leader, ...tied].sort((a, b) => rss(a) - rss(b) || SIMPLICITY.indexOf(a.model) - SIMPLICITY.indexOf(b.model));
  const chosen = pool[0]!;
  const others = pool.filter((j) => j !== chosen);
  return {
    chosen,
    runnerUp: others[0] ?? null,
    tiedWith: others,
    rule: `${[chosen, ...others].map((j) => j.model).join(' and ')} tie within noise on throughput (ranges overlap); ${chosen.model} uses the least memory of them`,
  };
}

/** The sentence that explains the choice from the numbers: the handler's cost, then the cells. */
export function evidenceSentence(p: HandlerProfile, d: Decision, judged: Judged[], cands: Candidate[]): string {
  const hold = p.weighted.syncUsP50;
  const parts: string[] = [];
  if (hold >= HEAVY_SYNC_US) parts.push(`the handler holds its thread ${fmtUs(hold)} per request (sync p50, mix-weighted): event-loop caps near ${Math.round(1e6 / hold).toLocaleString('en-US')} req/s and stalls every other connection meanwhile`);
  else parts.push(`the handler holds its thread only ${fmtUs(hold)} per request (sync p50, mix-weighted), so a hand-off to a thread or child costs about as much as the work`);
  const fig = (j: Judged) => {
    const t = j.top!.rounds;
    const flags = cands.find((c) => c.model === j.model)?.flags ?? [];
    const size = flags.length ? ` ×${flags[1]}` : '';
    return `${j.model}${size} measured ${span(t.throughput!)} req/s at c=${j.top!.params.connections}, p99 ${t.p99 ? fmtUs(t.p99.median) : '–'}`;
  };
  const el = judged.find((j) => j.model === 'event-loop' && j.top?.rounds.throughput);
  if (d.chosen) {
    parts.push(fig(d.chosen));
    if (el && el !== d.chosen) parts.push(`event-loop ${span(el.top!.rounds.throughput!)} req/s`);
    else if (d.runnerUp?.top?.rounds.throughput) parts.push(fig(d.runnerUp));
  }
  return parts.join('; ');
}
