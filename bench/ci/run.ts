#!/usr/bin/env node
// `make bench-ci`: a short, fixed subset of the benchmark, repeated in interleaved rounds, judged
// against the committed baseline (results/baseline.json); writes results/ci-report.md and
// results/ci-latest.json and prints a short table.
// `make bench-baseline`: the same runs, written as the new baseline.
//
// Paired A/B by default (--base, BASE=…): the base commit is built in a git worktree and its servers
// run next to this checkout's in the same interleaved rounds, so each round gives a ratio this ÷
// base in which the machine's drift cancels (bench/ci/paired.ts; Bencher's relative mode and
// Chromium's Pinpoint work the same way). Where the base cannot be built, the committed baseline.
//
// Noise is the enemy on shared CI machines, and so is a different machine (the same VM class ran
// 1.5–2× faster one day than another here), so every metric is a ratio to something measured in
// the same round: throughput and server CPU per request against the bare Node echo server, and
// WORK throughput times the CPU one WORK request costs in this process (calibrated every round),
// i.e. the cores' worth of handler work delivered. Medians over rounds, a Mann–Whitney U test and
// a minimum effect before anything is called a regression (bench/ci/stats.ts).
//
// Exit codes: 0 no confident regression (including "too noisy to say", and no baseline yet);
//             1 a confident regression, or a model that failed every round (named on stderr);
//             2 bad usage; 3 the harness itself failed.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { killServersOnSignal } from '../../harness/server.ts';
import { parseOrUsage } from '../cli-args.ts';
import { git } from '../git.ts';
import { hideBin } from 'yargs/helpers';
import { MODEL_NAMES } from '../../src/models/registry.ts';
import { calibrateWork } from '../calibrate.ts';
import { runCell, type CellResult } from '../cell.ts';
import { REFERENCE_TARGET, type Target } from '../server-proc.ts';
import { slowedHandler } from '../handlers/slowed.ts';
import { findWorkload } from '../workloads.ts';
import { buildBase, type BaseBuild } from './base.ts';
import { BLOCK_ALPHA, comparePaired, unpairedMde, type PairedComparison } from './paired.ts';
import { poolRows, type PoolInput } from './pooled.ts';
import { DEFAULT_PLACEMENT, tasksetAvailable } from '../placement.ts';
import { HELD_WORKLOADS, HeldSide, type SliceFigures } from './held.ts';
import { compare, type Direction } from './stats.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The fixed subset: one connection level per workload. */
const CI_CELLS = [
  { workload: 'echo-64B', connections: 32 },
  { workload: 'work-1ms', connections: 16 },
  { workload: 'churn', connections: 8 },
] as const;

interface MetricDef {
  key: string;
  label: string;
  direction: Direction;
  /** The figure for one model in one round; null when missing. */
  value(round: Round, model: string): number | null;
}

/** One round's cells, and the CPU one WORK request cost in this process during it. */
interface Round {
  cells: Map<string, CellResult>;
  workCpuUs: number;
}

const cellKey = (server: string, workload: string) => `${server}|${workload}`;
const tput = (c: CellResult | undefined) => (c?.ok && c.throughput ? c.throughput : null);
const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);
const cpuPerRequest = (c: CellResult | undefined) => (c?.ok ? (c.serverTree?.cpuUsPerRequest ?? null) : null);
/** A model's figure on a workload ÷ the reference server's in the same round. */
const vsReference = (cells: Map<string, CellResult>, model: string, workload: string, figure: (c: CellResult | undefined) => number | null) =>
  ratio(figure(cells.get(cellKey(model, workload))), figure(cells.get(cellKey(REFERENCE_TARGET.name, workload))));

export const METRICS: MetricDef[] = [
  {
    key: 'echo.ratio',
    label: 'echo-64B c=32 throughput ÷ reference',
    direction: 'higher-is-better',
    value: ({ cells }, m) => vsReference(cells, m, 'echo-64B', tput),
  },
  {
    key: 'echo.cpu',
    label: 'echo-64B c=32 server CPU per request ÷ reference',
    direction: 'lower-is-better',
    value: ({ cells }, m) => vsReference(cells, m, 'echo-64B', cpuPerRequest),
  },
  {
    key: 'work.cores',
    label: 'work-1ms c=16 requests/s × CPU of one request (cores of WORK delivered)',
    direction: 'higher-is-better',
    value: ({ cells, workCpuUs }, m) => {
      const t = tput(cells.get(cellKey(m, 'work-1ms')));
      return t === null ? null : (t * workCpuUs) / 1e6;
    },
  },
  {
    key: 'churn.ratio',
    label: 'churn c=8 connections/s ÷ reference',
    direction: 'higher-is-better',
    value: ({ cells }, m) => vsReference(cells, m, 'churn', tput),
  },
];

/**
 * The paired design's metrics (bench/ci/held.ts): both servers up side by side, load alternating
 * in slices; each pair of slices gives one ratio this ÷ base. No reference yardstick is needed:
 * the pair shares the minute of the machine.
 */
export const HELD_METRICS: MetricDef[] = [
  { key: 'echo.cpu', label: 'echo-64B c=32 server CPU per request (held connections)', direction: 'lower-is-better', value: () => null },
  { key: 'echo.tput', label: 'echo-64B c=32 requests/s', direction: 'higher-is-better', value: () => null },
  { key: 'work.tput', label: 'work-1ms c=16 requests/s', direction: 'higher-is-better', value: () => null },
  { key: 'churn.tput', label: 'churn c=8 connections/s (connect, 1 ECHO, close)', direction: 'higher-is-better', value: () => null },
];

const metricsOf = (run: CiRun): MetricDef[] => (run.settings.design === 'held' ? HELD_METRICS : METRICS);

export interface Samples {
  /** `${model} ${metricKey}` → one value per round (missing rounds left out). */
  [series: string]: number[];
}

/** Bumped whenever a metric's meaning changes: a baseline of another schema is not compared. */
export const CI_SCHEMA = 2;

export interface CiRun {
  schema: number;
  createdAt: string;
  commit: { sha: string; short: string; dirty: boolean };
  machine: { cpuModel: string; cores: number; kernel: string };
  node: string;
  /**
   * design 'cells' (the committed-baseline mode, and baselines): a fresh server per cell, rounds
   * of durationMs. 'held' (paired A/B): both servers up, `rounds` pairs of slices of durationMs.
   */
  settings: {
    design?: 'cells' | 'held';
    /** held: servers and load pinned apart (bench/placement.ts defaults). */
    pinned?: boolean;
    /** held: pairs of server processes per model, each fresh, the pairs split over them (absent: 1). */
    blocks?: number;
    /** held: the instance pairs ran at once, pairs dealt round-robin (--rotate); absent: one after another. */
    rotated?: boolean;
    rounds: number; warmupMs: number; durationMs: number; workN: number; models: string[]; slowdownUs: number };
  samples: Samples;
  failures: string[];
  /**
   * Paired A/B mode: the base commit measured in the same rounds (its servers from a worktree),
   * its samples, and per series one [base, head] pair per round where both were measured.
   */
  base?: { sha: string; short: string; samples: Samples; pairs: Record<string, [number, number][]>; /** held: per series, the block of each pair. */ blocks?: Record<string, number[]> } | null;
}


const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const num = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toFixed(3));

async function measure(opts: { rounds: number; warmupMs: number; durationMs: number; models: string[]; workN: number | null; slowdownUs: number; base: BaseBuild | null; log: (s: string) => void }): Promise<CiRun> {
  // WORK n must be the baseline's: calibration wanders by tens of percent between runs on a
  // shared VM, and a different n would show up as a throughput change that is not one.
  const workN = opts.workN ?? calibrateWork().workN;
  const targets: Target[] = [REFERENCE_TARGET, ...opts.models.map((name) => ({ name, kind: 'model' as const }))];
  // Every (target, workload) pair the metrics need; the reference only where it can answer.
  const single = targets.flatMap((target) =>
    CI_CELLS.filter((c) => target.kind === 'model' || findWorkload(c.workload).reference).map((c) => ({ target, key: target.name, ...c })),
  );
  // A/B: each model cell has its base twin (key base:<model>), run next to it so that the pair
  // sees the same minute of the machine; which of the two goes first alternates by round.
  const units = single.map((p) => (opts.base && p.target.kind === 'model' ? [{ ...p, target: { ...p.target, cli: opts.base.cli }, key: `base:${p.target.name}` }, p] : [p]));
  const plan = units.flat();
  // --slowdown-us: every model server runs the built-in handler slowed by N µs per request (the
  // reference server has no handler, and stays the yardstick).
  const modelFlags = opts.slowdownUs > 0 ? ['--handler', slowedHandler(opts.slowdownUs)] : [];
  const samples: Samples = {};
  const failures: string[] = [];
  const base = opts.base ? { sha: opts.base.sha, short: opts.base.short, samples: {} as Samples, pairs: {} as Record<string, [number, number][]> } : null;
  const started = Date.now();
  for (let round = 0; round < opts.rounds; round++) {
    // Interleaved rounds (A B C, A B C, …) with the start rotated each round, so a slow drift of
    // the machine touches every series alike instead of landing on whichever ran last.
    const offset = (round * 7) % units.length;
    const order = [...units.slice(offset), ...units.slice(0, offset)].flatMap((u) => (round % 2 ? [...u].reverse() : u));
    const cells = new Map<string, CellResult>();
    // What one WORK request at this n costs in CPU on this machine right now (median of trials).
    const workCpuUs = workN * calibrateWork().usPerRound;
    for (const [i, p] of order.entries()) {
      const elapsed = Date.now() - started;
      const done = round * plan.length + i;
      const eta = done ? Math.round(((elapsed / done) * (opts.rounds * plan.length - done)) / 1000) : '?';
      opts.log(`round ${round + 1}/${opts.rounds} cell ${i + 1}/${plan.length}: ${p.key.replace(/^base:(.*)/, `$1 (base ${opts.base?.short})`)} ${p.workload} (ETA ${eta}s)`);
      const cell = await runCell({
        target: p.target,
        workload: findWorkload(p.workload),
        connections: p.connections,
        warmupMs: opts.warmupMs,
        durationMs: opts.durationMs,
        workN,
        serverFlags: p.target.kind === 'model' ? modelFlags : [],
      });
      if (!cell.ok) failures.push(`round ${round + 1}: ${p.key} ${p.workload}: ${cell.error}`);
      cells.set(cellKey(p.key, p.workload), cell);
    }
    const ok = (v: number | null): v is number => v !== null && Number.isFinite(v);
    for (const model of opts.models) {
      for (const metric of METRICS) {
        const series = `${model} ${metric.key}`;
        const v = metric.value({ cells, workCpuUs }, model);
        if (ok(v)) (samples[series] ??= []).push(v);
        if (!base) continue;
        const b = metric.value({ cells, workCpuUs }, `base:${model}`);
        if (ok(b)) (base.samples[series] ??= []).push(b);
        if (ok(v) && ok(b)) (base.pairs[series] ??= []).push([b, v]);
      }
    }
  }
  return {
    ...runIdentity(),
    settings: {
      design: 'cells',
      rounds: opts.rounds,
      warmupMs: opts.warmupMs,
      durationMs: opts.durationMs,
      workN,
      models: opts.models,
      slowdownUs: opts.slowdownUs,
    },
    samples,
    failures,
    base,
  };
}

/**
 * Paired A/B, held design (bench/ci/held.ts): per model, `blocks` times, a fresh server of the
 * base's and one of this checkout's run side by side; per workload their connections are opened
 * and warmed up, then that block's share of the `pairs` pairs of slices alternates between them
 * (which goes first alternates too). Fresh instances per block: a process can be persistently
 * faster or slower than another of the same code, which only other processes reveal (paired.ts).
 */
async function measureHeld(opts: { pairs: number; blocks: number; rotate: boolean; warmupMs: number; sliceMs: number; models: string[]; workN: number | null; slowdownUs: number; base: BaseBuild; pinned: boolean; log: (s: string) => void }): Promise<CiRun> {
  const workN = opts.workN ?? calibrateWork().workN;
  // Recorded as pinned only where pinning happens (taskset present, more than one CPU to split).
  const pinned = opts.pinned && tasksetAvailable && DEFAULT_PLACEMENT.server !== undefined;
  const modelFlags = opts.slowdownUs > 0 ? ['--handler', slowedHandler(opts.slowdownUs)] : [];
  const samples: Samples = {};
  const failures: string[] = [];
  const base = { sha: opts.base.sha, short: opts.base.short, samples: {} as Samples, pairs: {} as Record<string, [number, number][]>, blocks: {} as Record<string, number[]> };
  const blocks = Math.max(1, Math.min(opts.blocks, opts.pairs));
  // The pairs split over the blocks as evenly as they go (12 over 3: 4 each).
  const pairsIn = (block: number) => Math.floor((opts.pairs * (block + 1)) / blocks) - Math.floor((opts.pairs * block) / blocks);
  const started = Date.now();
  const total = opts.models.length * HELD_WORKLOADS.length * opts.pairs;
  let done = 0;
  // Sequential: one instance pair at a time, its share of the pairs, then the next (fresh).
  // Rotated: every instance pair started and warmed at once, the pairs dealt out round-robin, so no
  // slice measures a server that has just started, and each instance still gets its share.
  const groups: number[][] = opts.rotate ? [Array.from({ length: blocks }, (_, b) => b)] : Array.from({ length: blocks }, (_, b) => [b]);
  for (const model of opts.models) {
    const paired: Record<string, number> = {};
    for (const group of groups) {
      const sides = new Map<number, [HeldSide, HeldSide]>();
      try {
        for (const b of group) sides.set(b, [await HeldSide.start({ name: model, kind: 'model', cli: opts.base.cli }, [], { pinned }), await HeldSide.start({ name: model, kind: 'model' }, modelFlags, { pinned })]);
        for (const w of HELD_WORKLOADS) {
          for (const pair of sides.values()) for (const side of pair) await side.prepare(w.key, w.connections, workN, opts.warmupMs);
          const count = opts.rotate ? opts.pairs : pairsIn(group[0]!);
          for (let i = 0; i < count; i++) {
            const block = opts.rotate ? i % blocks : group[0]!;
            const turn = opts.rotate ? Math.floor(i / blocks) : i;
            const at = (paired[w.key] = (paired[w.key] ?? 0) + 1);
            const eta = done ? Math.round((((Date.now() - started) / done) * (total - done)) / 1000) : '?';
            opts.log(`${model} ${w.label}: pair ${at}/${opts.pairs}${blocks > 1 ? ` (instance pair ${block + 1}/${blocks})` : ''} (ETA ${eta}s)`);
            const order = turn % 2 ? [1, 0] : [0, 1];
            const figures: SliceFigures[] = [];
            for (const k of order) figures[k] = await sides.get(block)![k]!.slice(w.key, opts.sliceMs);
            done++;
            const [b, h] = figures as [SliceFigures, SliceFigures];
            if (b.failed || h.failed) failures.push(`${model} ${w.label} pair ${at}: ${b.failed} failed on the base, ${h.failed} here`);
            const put = (key: string, bv: number | null, hv: number | null) => {
              const series = `${model} ${key}`;
              if (hv !== null && hv > 0) (samples[series] ??= []).push(hv);
              if (bv !== null && bv > 0) (base.samples[series] ??= []).push(bv);
              if (hv !== null && hv > 0 && bv !== null && bv > 0) {
                (base.pairs[series] ??= []).push([bv, hv]);
                (base.blocks[series] ??= []).push(block);
              }
            };
            put(`${w.key}.tput`, b.perSec, h.perSec);
            if (w.key === 'echo') put('echo.cpu', b.cpuUsPerOp, h.cpuUsPerOp);
          }
          for (const pair of sides.values()) for (const side of pair) side.release(w.key);
        }
      } catch (err) {
        failures.push(`${model}${blocks > 1 && !opts.rotate ? ` (instance pair ${group[0]! + 1})` : ''}: ${(err as Error).message}`);
      } finally {
        for (const pair of sides.values()) for (const side of pair) await side.stop().catch(() => {});
      }
    }
  }
  return {
    ...runIdentity(),
    settings: { design: 'held', pinned, blocks, rotated: opts.rotate && blocks > 1, rounds: opts.pairs, warmupMs: opts.warmupMs, durationMs: opts.sliceMs, workN, models: opts.models, slowdownUs: opts.slowdownUs },
    samples,
    failures,
    base,
  };
}

/** What every run records about itself: schema, time, commit, machine, Node. */
function runIdentity(): Pick<CiRun, 'schema' | 'createdAt' | 'commit' | 'machine' | 'node'> {
  const cpus = os.cpus();
  return {
    schema: CI_SCHEMA,
    createdAt: new Date().toISOString(),
    commit: { sha: git(['rev-parse', 'HEAD']), short: git(['rev-parse', '--short', 'HEAD']), dirty: git(['status', '--porcelain']) !== '' },
    machine: { cpuModel: cpus[0]?.model ?? 'unknown', cores: cpus.length, kernel: os.release() },
    node: process.version,
  };
}

/** One row's figures, whichever mode made them: the paired comparison's, with neutral names for the two sides. */
export type RowFigures = Omit<PairedComparison, 'n' | 'baseMedian' | 'headMedian' | 'se' | 'dof'> & {
  /** Median of the base (A/B) or the committed baseline (NaN on a pooled row). */
  before: number;
  /** Median of this checkout (NaN on a pooled row). */
  after: number;
  /** A pooled row (bench/ci/pooled.ts): how many models' rows it pools. */
  pooled?: number;
};

/** The model name of the pooled rows: one metric over every model (paired A/B with 2 or more models). */
export const POOLED = 'all models';

export interface Row {
  model: string;
  metric: MetricDef;
  result: RowFigures | null;
  /** Why there is no comparison (no baseline series, or the model failed every round). */
  missing: string | null;
}

/** The detection target the report holds every row to: a row that cannot see it says so. */
export const TARGET_EFFECT = 0.1;

export type Mode = { kind: 'paired'; base: { sha: string; short: string } } | { kind: 'baseline'; why: string };

/**
 * Paired A/B (current.base present): per series the per-round pairs, paired t-test on log ratios,
 * Bonferroni over the rows. Committed baseline: two samples from different days, Mann–Whitney
 * and the bootstrap (stats.ts compare), with the same minimum-detectable-effect formula unpaired.
 */
export function judge(baseline: CiRun | null, current: CiRun, minEffect: number, perMetric: Record<string, number>): Row[] {
  const rows: Row[] = [];
  const metrics = metricsOf(current);
  const pooling = !!current.base && current.settings.models.length > 1;
  // The pooled rows are comparisons too: one family, one Bonferroni level for all.
  const count = current.settings.models.length * metrics.length + (pooling ? metrics.length : 0);
  const inputs = new Map<string, PoolInput[]>(metrics.map((m) => [m.key, []]));
  for (const model of current.settings.models) {
    for (const metric of metrics) {
      const series = `${model} ${metric.key}`;
      const effect = perMetric[metric.key] ?? minEffect;
      const c = current.samples[series];
      if (!c?.length) {
        rows.push({ model, metric, result: null, missing: 'failed in every round' });
        continue;
      }
      if (current.base) {
        const pairs = current.base.pairs[series];
        if (!pairs?.length) {
          rows.push({ model, metric, result: null, missing: 'the base failed in every round' });
          continue;
        }
        const x = comparePaired(pairs, { direction: metric.direction, minEffect: effect, rows: count, blocks: current.base.blocks?.[series] });
        inputs.get(metric.key)!.push({ m: Math.log1p(x.change), se: x.se, dof: x.dof });
        rows.push({ model, metric, missing: null, result: { before: x.baseMedian, after: x.headMedian, change: x.change, interval: x.interval, p: x.p, noise: x.noise, mde: x.mde, verdict: x.verdict, instances: x.instances } });
        continue;
      }
      const b = baseline?.samples[series];
      if (!b?.length) {
        rows.push({ model, metric, result: null, missing: 'not in the baseline' });
        continue;
      }
      const x = compare(b, c, { direction: metric.direction, minEffect: effect });
      rows.push({ model, metric, missing: null, result: { before: x.baselineMedian, after: x.currentMedian, change: x.change, interval: x.interval, p: x.p, noise: x.noise, mde: unpairedMde(b, c, { rows: count, minEffect: effect }), verdict: x.verdict } });
    }
  }
  if (pooling) {
    for (const metric of metrics) {
      const x = poolRows(inputs.get(metric.key)!, { direction: metric.direction, minEffect: perMetric[metric.key] ?? minEffect, rows: count });
      if (x.k < 2) continue;
      rows.push({ model: POOLED, metric, missing: null, result: { before: NaN, after: NaN, change: x.change, interval: x.interval, p: x.p, noise: NaN, mde: x.mde, verdict: x.verdict, pooled: x.k } });
    }
  }
  return rows;
}

export function report(mode: Mode, baseline: CiRun | null, current: CiRun, rows: Row[], minEffect: number, perMetric: Record<string, number>): string {
  const about = (r: CiRun) =>
    `commit \`${r.commit.short || '?'}\`${r.commit.dirty ? ' (dirty)' : ''}, ${r.createdAt.slice(0, 16).replace('T', ' ')} UTC, ${r.machine.cpuModel} × ${r.machine.cores}, kernel ${r.machine.kernel}, Node ${r.node}; ${r.settings.design === 'held' ? `${r.settings.rounds} pairs of ${r.settings.durationMs} ms slices over ${r.settings.blocks ?? 1} instance pair(s)${r.settings.rotated ? ' in rotation' : ''} (+${r.settings.warmupMs} ms warm-up per workload and instance)${r.settings.pinned ? `, servers on CPU ${DEFAULT_PLACEMENT.server} and the load on CPU ${DEFAULT_PLACEMENT.client}` : ', unpinned'}` : `${r.settings.rounds} rounds of ${r.settings.durationMs} ms (+${r.settings.warmupMs} ms warm-up)`}, WORK n = ${r.settings.workN}${r.settings.slowdownUs ? `, **--slowdown-us ${r.settings.slowdownUs}**` : ''}`;
  const lines = ['# CI performance-regression report', ''];
  const overrides = Object.entries(perMetric).map(([k, v]) => `${k} ${pct(v)}`);
  if (mode.kind === 'paired') {
    if (current.settings.design !== 'held') lines.push(`- **Mode: paired A/B, fresh-server cells.** The base commit \`${mode.base.short}\` (built in a git worktree with its own \`npm ci\`) and this checkout ran side by side in the same interleaved rounds on this machine, a fresh server per cell; each round gives one ratio this ÷ base per metric. (The default, \`--design held\`, is far more sensitive: results/ci-sensitivity.md.)`);
    else lines.push(
      `- **Mode: paired A/B, held servers.** The base commit \`${mode.base.short}\` (built in a git worktree with its own \`npm ci\`) and this checkout each ran ${(current.settings.blocks ?? 1) > 1 ? `${current.settings.blocks} servers per model, ${current.settings.rotated ? 'all at once, the pairs dealt out among them in turn' : 'one after another'} (an instance pair: a fresh server of each, side by side)` : 'one server per model, side by side'} on this machine, their connections held open; the load alternated between them in ${current.settings.durationMs} ms slices (A B, B A, …), ${current.settings.rounds} pairs per model and workload, each pair one ratio this ÷ base. Server CPU is the whole tree's on-CPU time (schedstat, ns) over the slice ÷ its requests.`,
    );
    lines.push(`- **This checkout:** ${about(current)}`);
    lines.push(
      `- **Rule:** "regressed" needs a paired t-test on the per-round log ratios at p < 0.05 ÷ ${rows.length} rows (Bonferroni: a run on an unchanged commit is flagged wrongly in about 5% of runs, not of rows) and a change of at least ${(minEffect * 100).toFixed(0)}%${overrides.length ? ` (overrides: ${overrides.join(', ')})` : ''} in the bad direction.${(current.settings.blocks ?? 1) > 1 ? ` Where a row's instance pairs disagree (one-way ANOVA of its log ratios by instance pair, p < ${BLOCK_ALPHA}: one process of the same code persistently faster than another), the unit is the instance pair, not the slice (marked "instances differ").` : ''} ${rows.some((r) => r.result?.pooled) ? ` Rows of model "${POOLED}" pool one metric over every model (Stouffer's Z of the models' t-tests, bench/ci/pooled.ts): a change to shared code costs every model alike and shows there first; a change to one model alone is that model's row's to see.` : ''} *MDE*: the smallest change this run's own spread could have flagged (80% power). "Too noisy to say" never fails CI.`,
    );
  } else {
    lines.push(`- **Mode: committed baseline** (${mode.why}): two samples from different runs, so machine drift between them counts as change.`);
    lines.push(`- **Current:** ${about(current)}`);
    lines.push(baseline ? `- **Baseline** (results/baseline.json): ${about(baseline)}` : '- **Baseline:** none yet — run `make bench-baseline` and commit results/baseline.json.');
    lines.push(
      `- **Rule:** "regressed" needs a two-sided Mann–Whitney U p < 0.05 over the rounds, a median change of at least ${(minEffect * 100).toFixed(0)}%${overrides.length ? ` (overrides: ${overrides.join(', ')})` : ''} in the bad direction, the bootstrap interval's charitable end at least half that, and both samples quieter (robust CV) than the effect, or a change at least 4× their spread. *MDE*: the smallest change two samples of this spread could have told apart (80% power, Bonferroni over the rows). "Too noisy to say" never fails CI.`,
    );
  }
  lines.push('');
  const bad = rows.filter((r) => r.result?.verdict === 'regressed' || r.missing?.includes('failed in every round'));
  lines.push(bad.length ? `**Verdict: ${bad.length} regression(s)** — ${bad.map((r) => `${r.model} ${r.metric.label}`).join('; ')}.` : '**Verdict: no confident regression.**');
  const judged = rows.filter((r) => r.result);
  const blind = judged.filter((r) => r.result!.mde > TARGET_EFFECT);
  if (judged.length) lines.push('', `This run could have seen a change of ${pct(TARGET_EFFECT).replace('+', '')} on ${judged.length - blind.length} of ${judged.length} rows${blind.length ? `; the other ${blind.length} could not (MDE above ${pct(TARGET_EFFECT).replace('+', '')}: marked "cannot see 10%")` : ''}.`);
  lines.push('');
  const [b, a] = mode.kind === 'paired' ? ['base', 'this'] : ['baseline', 'current'];
  lines.push(`| model | metric | ${b} | ${a} | change | 95% interval | p | noise | MDE | verdict |`);
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of rows) {
    if (!r.result) {
      lines.push(`| ${r.model} | ${r.metric.label} | | | | | | | | ${r.missing} |`);
      continue;
    }
    const x = r.result;
    const mark = x.verdict === 'regressed' ? '**regressed**' : x.verdict;
    const mde = Number.isFinite(x.mde) ? `${(x.mde * 100).toFixed(1)}%` : '∞';
    const inst = x.instances?.byBlock ? ` (instances differ, ANOVA p=${x.instances.p.toExponential(1)}: judged on ${x.instances.blocks} instance pairs)` : '';
    const fig = (v: number) => (Number.isNaN(v) ? '—' : num(v));
    lines.push(
      `| ${r.model} | ${r.metric.label} | ${fig(x.before)} | ${fig(x.after)} | ${pct(x.change)} | ${pct(x.interval[0])} … ${pct(x.interval[1])} | ${x.p < 0.001 ? x.p.toExponential(1) : x.p.toFixed(3)} | ${Number.isNaN(x.noise) ? '—' : `${(x.noise * 100).toFixed(1)}%`} | ${mde} | ${mark}${x.mde > TARGET_EFFECT ? ' (cannot see 10%)' : ''}${inst}${x.pooled ? ` (pooled: ${x.pooled} models)` : ''} |`,
    );
  }
  if (current.failures.length) {
    lines.push('', '## Cells that failed', '', ...current.failures.map((f) => `- ${f}`));
  }
  lines.push('', `Medians over ${current.settings.design === 'held' ? 'slices' : 'rounds'}. Raw samples: results/ci-latest.json. Reproduce: \`make bench-ci${mode.kind === 'paired' ? ` BASE=${mode.base.short}` : ' BASE=none'}${current.settings.design === 'held' ? (current.settings.rotated ? '' : ' BENCH_CI_ARGS="--no-rotate"') : mode.kind === 'paired' ? ' BENCH_CI_ARGS="--design cells"' : ''}\`.`, '');
  return lines.join('\n');
}

function terminalTable(rows: Row[]): string {
  const out = rows.map((r) => {
    const v = r.result ? `${pct(r.result.change).padStart(8)}  p=${r.result.p < 0.001 ? r.result.p.toExponential(1) : r.result.p.toFixed(3)}  MDE ${Number.isFinite(r.result.mde) ? `${(r.result.mde * 100).toFixed(1)}%` : '∞'}  ${r.result.verdict}${r.result.instances?.byBlock ? ' (instances differ)' : ''}` : `   —      ${r.missing}`;
    return `${r.model.padEnd(13)} ${r.metric.key.padEnd(12)} ${v}`;
  });
  return ['model         metric         change  p          MDE    verdict', ...out].join('\n');
}

export async function main(argv = hideBin(process.argv)): Promise<number> {
  const args = await parseOrUsage(
    yargs(argv)
      .scriptName('bench-ci')
      .usage('$0 [options]\n\nShort interleaved benchmark rounds compared with results/baseline.json (make bench-ci).')
      .option('design', {
        choices: ['cells', 'held'] as const,
        default: 'held' as 'cells' | 'held',
        describe:
          'paired A/B design. held (default): both servers up side by side, connections held, load alternating in slices (bench/ci/held.ts; same commit, event-loop echo could see 5% held against 44–98% with cells: results/ci-sensitivity.md). cells: a fresh server per cell, base and this checkout back to back in interleaved rounds. The committed-baseline mode always uses cells',
      })
      .option('pin', { type: 'boolean', default: true, describe: 'held design: both servers on the server CPUs and the load on the client CPUs (make bench\'s default placement); --no-pin lets the scheduler place them (same-commit A/A, 3 runs each, event-loop/thread/process-pool: 20 of 36 rows could see 10% pinned, 15 of 36 unpinned)' })
      .option('pairs', { type: 'number', default: 12, describe: 'paired A/B: pairs of slices per model and workload (base and this checkout alternating)' })
      .option('blocks', { type: 'number', default: 3, describe: 'held design: fresh pairs of server processes per model, the pairs dealt out among them (--rotate) or split over them one after another; a row whose instance pairs disagree (ANOVA p < 0.05) is judged on them, not on its slices (bench/ci/paired.ts). Same commit, 12 pairs: 6 instance pairs left 6 of 24 rows able to see 10% (fresh servers every 2 pairs: their ramp is measured), 3 keep most of them' })
      .option('rotate', { type: 'boolean', default: true, describe: 'held design: start every instance pair of a model at once and deal the pairs out round-robin (--no-rotate: one instance pair after another, so the first slices of each measure a server that has just started)' })
      .option('slice', { type: 'number', default: 1, describe: 'paired A/B: seconds per slice' })
      .option('rounds', { type: 'number', default: 5, describe: 'committed-baseline mode: interleaved rounds of fresh-server cells (≥ 4 for the test to be able to reach p < 0.05)' })
      .option('duration', { type: 'number', default: 1.5, describe: 'committed-baseline mode: measured seconds per cell' })
      .option('warmup', { type: 'number', default: 0.5, describe: 'warm-up seconds per cell, or per workload before its slices (excluded)' })
      .option('models', { type: 'string', describe: 'comma-separated subset (default: every model)' })
      .option('baseline', { type: 'string', default: path.join(ROOT, 'results/baseline.json'), describe: 'baseline file' })
      .option('out', { type: 'string', default: path.join(ROOT, 'results'), describe: 'where ci-report.md and ci-latest.json go' })
      .option('write-baseline', { type: 'boolean', default: false, describe: 'write this run as the new baseline instead of comparing (make bench-baseline)' })
      .option('min-effect', { type: 'number', describe: 'smallest relative change that can be a regression (default 0.05 paired A/B, 0.1 against the committed baseline)' })
      .option('min-effect-for', { type: 'string', array: true, default: [] as string[], describe: `per metric, e.g. churn.ratio=0.2 (metrics: ${METRICS.map((m) => m.key).join(', ')})` })
      .option('base', { type: 'string', default: 'auto', describe: 'paired A/B against this commit, built in a git worktree and run in the same rounds (auto: the commit results/baseline.json names; none: compare with the committed baseline file instead)' })
      .option('work-n', { type: 'number', describe: 'WORK iteration count of the work-1ms cells (default: calibrated to ≈ 1 ms of CPU at the start, or the committed baseline\'s); to rerun a report at the n it names' })
      .option('slowdown-us', { type: 'number', default: 0, describe: 'test aid: this checkout\'s model servers (not the base\'s) run the built-in handler with N µs of busy work per request (bench/handlers/slowed.ts), to prove a slowdown is caught' }),
    'bench-ci',
  );
  if (!args) return 2;
  const models = args.models ? args.models.split(',').map((s) => s.trim()) : [...MODEL_NAMES];
  const unknown = models.filter((m) => !(MODEL_NAMES as string[]).includes(m));
  if (unknown.length) {
    console.error(`bench-ci: unknown model(s) ${unknown.join(', ')}; choose from ${MODEL_NAMES.join(', ')}`);
    return 2;
  }
  const perMetric: Record<string, number> = {};
  for (const spec of args['min-effect-for'] as string[]) {
    const [key, value] = spec.split('=');
    if (!METRICS.some((m) => m.key === key) || !(Number(value) > 0)) {
      console.error(`bench-ci: --min-effect-for takes metric=fraction with metric one of ${METRICS.map((m) => m.key).join(', ')}`);
      return 2;
    }
    perMetric[key!] = Number(value);
  }
  const workN = args['work-n'];
  if (workN !== undefined && !(Number.isInteger(workN) && workN >= 1)) {
    console.error('bench-ci: --work-n takes a whole number of WORK iterations ≥ 1');
    return 2;
  }
  const slowdownUs = args['slowdown-us'];
  if (!(slowdownUs >= 0)) {
    console.error('bench-ci: --slowdown-us takes a number of microseconds ≥ 0');
    return 2;
  }

  let baseline: CiRun | null = !args['write-baseline'] && existsSync(args.baseline) ? JSON.parse(readFileSync(args.baseline, 'utf8')) : null;
  if (baseline && baseline.schema !== CI_SCHEMA) {
    console.error(`bench-ci: ${path.relative(ROOT, args.baseline)} is schema ${baseline.schema}, this bench-ci measures schema ${CI_SCHEMA} (other metrics): not compared; run \`make bench-baseline\` and commit it.`);
    baseline = null;
  }
  // ── mode: paired A/B where the base can be built, else the committed baseline ──
  let base: BaseBuild | null = null;
  let mode: Mode = { kind: 'baseline', why: '--base none' };
  if (!args['write-baseline'] && args.base !== 'none') {
    const rev = args.base === 'auto' ? (existsSync(args.baseline) ? (JSON.parse(readFileSync(args.baseline, 'utf8')) as CiRun).commit?.sha : '') : args.base;
    if (!rev) mode = { kind: 'baseline', why: 'no base commit: results/baseline.json names none' };
    else {
      try {
        base = buildBase(rev, (s) => process.stderr.write(`bench-ci: ${s}\n`));
        mode = { kind: 'paired', base: { sha: base.sha, short: base.short } };
      } catch (err) {
        mode = { kind: 'baseline', why: `the base could not be built: ${(err as Error).message}` };
        process.stderr.write(`bench-ci: ${mode.why}; comparing with results/baseline.json instead\n`);
      }
    }
  }
  const started = Date.now();
  const log = (s: string) => process.stderr.write(`bench-ci: ${s}\n`);
  const current = base && args.design === 'held'
    ? await measureHeld({ base, workN: workN ?? null, pairs: args.pairs, blocks: args.blocks, rotate: args.rotate, sliceMs: Math.round(args.slice * 1000), warmupMs: Math.round(args.warmup * 1000), models, slowdownUs, pinned: args.pin, log })
    : await measure({
        base,
        workN: workN ?? baseline?.settings.workN ?? null,
        rounds: args.rounds,
        warmupMs: Math.round(args.warmup * 1000),
        durationMs: Math.round(args.duration * 1000),
        models,
        slowdownUs,
        log,
      });
  mkdirSync(args.out, { recursive: true });
  writeFileSync(path.join(args.out, 'ci-latest.json'), `${JSON.stringify(current, null, 2)}\n`);
  const wall = `${Math.round((Date.now() - started) / 1000)} s`;

  if (args['write-baseline']) {
    writeFileSync(args.baseline, `${JSON.stringify(current, null, 2)}\n`);
    console.log(`bench-ci: wrote baseline ${path.relative(ROOT, args.baseline)} (${Object.keys(current.samples).length} series, ${wall}); commit it.`);
    return 0;
  }
  const minEffect = args['min-effect'] ?? (mode.kind === 'paired' ? 0.05 : 0.1);
  const rows = baseline || mode.kind === 'paired' ? judge(mode.kind === 'paired' ? null : baseline, current, minEffect, perMetric) : [];
  const md = report(mode, baseline, current, rows, minEffect, perMetric);
  writeFileSync(path.join(args.out, 'ci-report.md'), md);
  if (process.env.GITHUB_STEP_SUMMARY) writeFileSync(process.env.GITHUB_STEP_SUMMARY, md, { flag: 'a' });
  console.log(rows.length ? `bench-ci: ${mode.kind === 'paired' ? `paired A/B against ${mode.base.short}` : `against results/baseline.json (${mode.why})`}\n${terminalTable(rows)}` : 'bench-ci: no baseline to compare with; run `make bench-baseline` and commit results/baseline.json.');
  const bad = rows.filter((r) => r.result?.verdict === 'regressed' || r.missing?.includes('failed in every round'));
  console.log(`bench-ci: ${wall}; report in ${path.relative(ROOT, path.join(args.out, 'ci-report.md'))}`);
  if (bad.length) {
    for (const r of bad) console.error(`bench-ci: REGRESSION ${r.model} ${r.metric.key} (${r.metric.label}): ${r.result ? `${pct(r.result.change)}, p=${r.result.p.toFixed(3)}` : r.missing}`);
    return 1;
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  killServersOnSignal();
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`bench-ci: harness failed: ${(err as Error).stack ?? err}`);
      process.exit(3);
    },
  );
}
