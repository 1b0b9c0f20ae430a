#!/usr/bin/env node
// `make bench-ci-sensitivity`: the proof that bench-ci sees a slowdown (issue 18). Runs the paired
// gate again and again against this very commit (BASE = HEAD): at level 0 as it is (any
// "regressed" is a false alarm), and at each other level with this checkout's model servers
// running the built-in handler slowed by that share of the CPU one echo request costs
// (bench/handlers/slowed.ts, `--slowdown-us`), calibrated at the start of every run on
// event-loop's held echo (the handler's own cost, where nothing else is added). Levels are
// interleaved run by run (0, 5, 10, 25, 50, 0, …) so the machine's drift touches all alike.
//
// Every run is appended to results/ci-sensitivity.json as it ends, and results/ci-sensitivity.md
// is rewritten from all of them, so the proof accumulates across sessions (--budget bounds one
// sitting) and a stopped run loses only itself.
//
//   node bench/ci/sensitivity.ts [--levels 0,5,10,25,50] [--runs 10] [--budget 170] [--models …]
//
// Exit codes: 0 ran (whatever the figures), 2 bad usage, 3 the harness failed.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseOrUsage, runMain } from '../cli-args.ts';
import { git } from '../git.ts';
import { median } from './stats.ts';
import { HeldSide } from './held.ts';
import { checkSlowdownPinned } from '../handlers/slowed-check.ts';
import { DEFAULT_PLACEMENT } from '../placement.ts';
import { main as benchCi, HELD_METRICS, POOLED, TARGET_EFFECT } from './run.ts';
import { rejudge, type SeenRow } from './rejudge.ts';

export type { SeenRow };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const JSON_OUT = path.join(ROOT, 'results/ci-sensitivity.json');
const MD_OUT = path.join(ROOT, 'results/ci-sensitivity.md');

export interface SensitivityRun {
  at: string;
  commit: string;
  /** Percent more CPU per echo request: 0 = the same-commit run. */
  level: number;
  /** event-loop's server CPU per held echo request at the start of this run (µs). */
  echoCpuUs: number;
  /** What bench-ci was asked for (--slowdown-us). */
  slowdownUs: number;
  /** The extra CPU per request the level wants: level% of echoCpuUs (absent in the first runs: = slowdownUs). */
  targetUs?: number;
  /**
   * The extra CPU per request slowdownUs really costs, measured by bench/handlers/slowed-check.ts
   * on the servers' CPU (absent in the first runs, which asked for the target itself and got
   * its busy wait's overshoot on top, ≈ 0.1–0.2 µs).
   */
  measuredUs?: number;
  /** bench-ci's exit code: 1 = it flagged a regression. */
  exitCode: number;
  /** The rows it flagged ("model metric change"). */
  flagged: string[];
  /** Rows whose MDE was ≤ 10%, of the rows judged. */
  seeing10: number;
  judged: number;
  /** Median MDE over the judged rows. */
  medianMde: number;
  wallS: number;
  /** The held design's placement: servers and load pinned apart (absent in the first runs: unpinned). */
  pinned?: boolean;
  /** Instance pairs per model (bench-ci --blocks; absent in the first runs: 1). */
  blocks?: number;
  /** The instance pairs ran at once, pairs dealt round-robin (bench-ci --rotate; absent: one after another). */
  rotated?: boolean;
  /** Rows judged on their instance pairs because those disagreed ("instances differ"). */
  instanceRows?: number;
  /** Every judged row of the run's report: what the gate saw, flagged or not (absent in older runs). */
  rows?: SeenRow[];
}

/** The judged rows of a bench-ci report (ci-report.md): rows without figures are left out. */
export function parseRows(report: string): SeenRow[] {
  const out: SeenRow[] = [];
  for (const l of report.split('\n')) {
    if (!/^\| [a-z][a-z -]* \| /.test(l) || l.startsWith('| model |')) continue;
    const c = l.split('|').map((x) => x.trim());
    const change = /^([+−-]?[\d.]+)%$/.exec(c[5] ?? '');
    const mde = /^([\d.]+)%$/.exec(c[9] ?? '');
    if (!change) continue;
    out.push({ row: `${c[1]} ${c[2]}`, change: Number(change[1]!.replace('−', '-')) / 100, p: Number(c[7]), mde: mde ? Number(mde[1]) / 100 : Infinity, verdict: (c[10] ?? '').replace(/\*\*/g, '').replace(/ \(.*$/, ''), instancesDiffer: (c[10] ?? '').includes('instances differ') });
  }
  return out;
}

/** Which design a run measured: only runs of one design are counted together. */
export interface Design {
  pinned: boolean;
  blocks: number;
  rotated: boolean;
}
const describeDesign = (d: Design) => `${d.pinned ? 'pinned' : 'unpinned'}, ${d.blocks} instance pair${d.blocks > 1 ? 's' : ''} per model${d.rotated ? ' in rotation' : ''}`;
const designOf = (r: SensitivityRun): Design => ({ pinned: r.pinned ?? false, blocks: r.blocks ?? 1, rotated: (r.rotated ?? false) && (r.blocks ?? 1) > 1 });
const sameDesign = (a: Design, b: Design) => a.pinned === b.pinned && a.blocks === b.blocks && a.rotated === b.rotated;

/** event-loop's server CPU per echo request (µs), held connections: median of `slices` 1 s slices. */
async function calibrate(pinned: boolean, slices = 6): Promise<number> {
  const side = await HeldSide.start({ name: 'event-loop', kind: 'model' }, [], { pinned });
  try {
    await side.prepare('echo', 32, 1, 1000);
    const xs: number[] = [];
    for (let i = 0; i < slices; i++) {
      const f = await side.slice('echo', 1000);
      if (f.cpuUsPerOp) xs.push(f.cpuUsPerOp);
    }
    return median(xs);
  } finally {
    await side.stop();
  }
}

function load(): SensitivityRun[] {
  return existsSync(JSON_OUT) ? (JSON.parse(readFileSync(JSON_OUT, 'utf8')) as SensitivityRun[]) : [];
}

/** Runs of one placement are counted together; the others stay in the json (and in git history). */
export const ofDesign = (all: SensitivityRun[], d: Design) => all.filter((r) => sameDesign(designOf(r), d));

/** "5 of pinned, 1 instance pair per model; 5 of unpinned, …". */
function otherDesigns(all: SensitivityRun[], design: Design): string {
  const counts = new Map<string, number>();
  for (const r of all) {
    const d = designOf(r);
    if (sameDesign(d, design)) continue;
    counts.set(describeDesign(d), (counts.get(describeDesign(d)) ?? 0) + 1);
  }
  return [...counts].map(([d, n]) => `${n} of ${d}`).join('; ');
}

/**
 * Rows no level here can move by 1%: work-1ms (≈ 1 ms of CPU per request) and the churn rows of
 * thread and process, whose connection starts a thread or a process (20–300 ms of CPU here),
 * against a few µs of slowdown on the one ECHO a churn connection sends.
 */
export const unmovable = (row: string) => row.includes(' work-1ms ') || /^(thread|process) churn /.test(row);
const measuredOf = (rs: SensitivityRun[]) => rs.filter((r) => r.measuredUs !== undefined || r.level === 0);
const partly = (rs: SensitivityRun[]) => (measuredOf(rs).length < rs.length ? ` (${measuredOf(rs).length} of ${rs.length} runs)` : '');
/** Median of `f` over the runs that measured their slowdown, noting how many did ("—" if none). */
function measuredCell(rs: SensitivityRun[], f: (r: SensitivityRun) => number, digits: number, unit = '', none = '—'): string {
  const m = measuredOf(rs);
  return m.length ? `${median(m.map(f)).toFixed(digits)}${unit}${partly(rs)}` : none;
}

/**
 * What the gate saw: the median change of each model's echo CPU row per level, over the runs
 * that kept their rows — does a slowdown of L% show as L% where it is added? (Under the pools
 * and offload the request's CPU also holds the hand-off, so the same µs is a smaller share.)
 */
function seenTable(runs: SensitivityRun[], levels: number[], label: (l: number) => string): string[] {
  const metric = HELD_METRICS.find((m) => m.key === 'echo.cpu')!.label;
  const kept = runs.filter((r) => r.rows?.length).map((r) => ({ ...r, rows: rejudge(r.rows!) }));
  if (!kept.length) return [];
  const models = [...new Set(kept.flatMap((r) => r.rows.filter((x) => x.row.endsWith(metric)).map((x) => x.row.slice(0, -metric.length - 1))))];
  const lines = ['', `**What the gate saw** — median change of \`${metric}\` per model over the runs that kept their rows (measured slowdown ÷ that model's CPU per request is what it could show; *${POOLED}*: the pooled row, rebuilt for runs made before it):`, '', `| level | runs | ${models.join(' | ')} |`, `|--:|--:|${models.map(() => '--:|').join('')}`];
  for (const level of levels) {
    const rs = kept.filter((r) => r.level === level);
    if (!rs.length) continue;
    const cell = (m: string) => {
      const xs = rs.flatMap((r) => r.rows.filter((x) => x.row === `${m} ${metric}`).map((x) => x.change));
      return xs.length ? `${median(xs) >= 0 ? '+' : ''}${(median(xs) * 100).toFixed(1)}%` : '—';
    };
    lines.push(`| ${label(level)} | ${rs.length} | ${models.map(cell).join(' | ')} |`);
  }
  return lines;
}

/**
 * The runs that kept their rows, judged by today's rule (bench/ci/rejudge.ts): the pooled rows
 * (one metric over every model) in the family, each run flagged or not on them all.
 */
function nowTable(runs: SensitivityRun[], levels: number[], label: (l: number) => string): string[] {
  const kept = runs.filter((r) => r.rows?.length).map((r) => ({ ...r, now: rejudge(r.rows!) }));
  if (!kept.length) return [];
  const pooledOf = (key: string) => `${POOLED} ${HELD_METRICS.find((m) => m.key === key)!.label}`;
  const cpu = pooledOf('echo.cpu');
  const tput = pooledOf('echo.tput');
  const fig = (rs: typeof kept, row: string, f: (x: SeenRow) => number, signed: boolean) => {
    const xs = rs.flatMap((r) => r.now.filter((x) => x.row === row).map(f)).filter(Number.isFinite);
    if (!xs.length) return '—';
    const m = median(xs) * 100;
    return `${signed && m >= 0 ? '+' : ''}${m.toFixed(1)}%`;
  };
  const lines = [
    '',
    `**Judged by today's rule** — bench-ci adds one row per metric that pools it over every model (*${POOLED}*: Stouffer's Z of the six models' paired t-tests, bench/ci/pooled.ts; a change to shared code, as this slowed handler is, costs every model alike), and the Bonferroni level covers those rows too. Runs made before that are judged again from the rows they kept (bench/ci/rejudge.ts: from each row's printed change, p and MDE, nothing measured again); runs that kept no rows cannot be, and are left out here.`,
    '',
    `| level | runs with rows | flagged | flagged by a pooled row only | ${POOLED}: echo CPU change | its MDE | ${POOLED}: echo requests/s change | its MDE |`,
    '|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const level of levels) {
    const rs = kept.filter((r) => r.level === level);
    if (!rs.length) continue;
    const flagged = rs.filter((r) => r.now.some((x) => x.verdict === 'regressed'));
    const pooledOnly = flagged.filter((r) => r.now.every((x) => x.verdict !== 'regressed' || x.row.startsWith(`${POOLED} `)));
    lines.push(`| ${label(level)} | ${rs.length} | **${flagged.length} of ${rs.length}** | ${pooledOnly.length} | ${fig(rs, cpu, (x) => x.change, true)} | ${fig(rs, cpu, (x) => x.mde, false)} | ${fig(rs, tput, (x) => x.change, true)} | ${fig(rs, tput, (x) => x.mde, false)} |`);
  }
  const alarms = kept.filter((r) => r.level === 0 && r.now.some((x) => x.verdict === 'regressed'));
  if (alarms.length) lines.push('', "**False alarms by today's rule** (level 0): " + alarms.map((r) => `${r.at.slice(0, 16)}: ${r.now.filter((x) => x.verdict === 'regressed').map((x) => x.row).join('; ')}`).join(' · '));
  const missed = kept.filter((r) => r.level > 0 && !r.now.some((x) => x.verdict === 'regressed'));
  if (missed.length) lines.push('', "**Missed by today's rule** (level > 0): " + missed.map((r) => `+${r.level}% at ${r.at.slice(0, 16)}`).join(' · '));
  return lines;
}

export function renderReport(all: SensitivityRun[], levels: number[], design: Design): string {
  const runs = ofDesign(all, design);
  const { pinned } = design;
  const others = all.length - runs.length;
  const machine = `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, kernel ${os.release()}, Node ${process.version}`;
  const commits = [...new Set(runs.map((r) => r.commit.slice(0, 7)))];
  const lines = [
    '# Can bench-ci see a slowdown? (issue 18)',
    '',
    `Each run is one whole paired \`bench-ci\` (held servers, ${pinned ? 'pinned apart from the load (`--pin`)' : 'unpinned'}, ${design.blocks} instance pair${design.blocks > 1 ? 's' : ''} per model (\`--blocks ${design.blocks}\`${design.rotated ? ' `--rotate`: all at once, the pairs dealt out among them in turn' : ''}), every model, default pairs and slices) against this same commit (\`BASE=HEAD\`).`,
    "At level 0 nothing differs, so a \"regressed\" is a false alarm. At level L this checkout's model servers run the built-in handler slowed by L% of the CPU one echo request costs",
    "(event-loop's server CPU per held echo request, measured at the start of each run; `bench/handlers/slowed.ts` via `--slowdown-us`). Levels are interleaved run by run.",
    '',
    `- **Commit(s):** ${commits.map((c) => `\`${c}\``).join(', ') || '—'}; **dates:** ${runs.length ? `${runs[0]!.at.slice(0, 16).replace('T', ' ')} … ${runs.at(-1)!.at.slice(0, 16).replace('T', ' ')} UTC` : '—'}`,
    `- **Machine:** ${machine}`,
    '- **Command:** `make bench-ci-sensitivity` (`node bench/ci/sensitivity.ts`); raw runs in results/ci-sensitivity.json',
    "- **Goal:** 0 of 10 same-commit runs flagged; ≥ 9 of 10 flag 10%; 10 of 10 flag 25%, by the rule bench-ci applies now (the table *Judged by today's rule* below; the first table counts each run by the rule it ran under).",
    ...(others ? [`- ${others} earlier run(s) of other designs are kept in the json and not counted here: ${otherDesigns(all, design)}.`] : []),
    '',
    "- **The slowdown's real size:** slowed.ts's busy wait reads the clock until the time asked for has passed, so it overshoots by the clock reads (≈ 0.1–0.2 µs here, 1–2 points of a level). Each run now measures that with `bench/handlers/slowed-check.ts` on the servers' CPU (slowed against built-in handler, same process, CPU per call), asks for the target less the overshoot, and records what that costs (*measured*). Runs without a measurement asked for the target itself, so they were slowed by about that overshoot more than their level says. At level 0 the built-in handler runs unwrapped; the wrapper with nothing to wait costs ≈ 0.005 µs a call (`node bench/handlers/slowed-check.ts --us 0`).",
    '',
    '| level | runs | flagged (by the rule of its day) | CPU per echo request (µs) | slowdown target (µs) | measured (µs) | measured, % of echo CPU | rows that could see 10% (median) | median MDE | minutes per run |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  // Every level asked for now or run before: a run of fewer levels keeps the others' rows.
  const shown = [...new Set([...levels, ...runs.map((r) => r.level)])].sort((a, b) => a - b);
  const label = (level: number) => (level === 0 ? '0 (same commit)' : `+${level}%`);
  for (const level of shown) {
    const rs = runs.filter((r) => r.level === level);
    if (!rs.length) {
      lines.push(`| ${label(level)} | 0 | — | | | | | | | |`);
      continue;
    }
    const flagged = rs.filter((r) => r.exitCode === 1).length;
    lines.push(
      `| ${label(level)} | ${rs.length} | **${flagged} of ${rs.length}** | ${median(rs.map((r) => r.echoCpuUs)).toFixed(1)} | ${median(rs.map((r) => r.targetUs ?? r.slowdownUs)).toFixed(2)} | ${measuredCell(rs, (r) => r.measuredUs ?? 0, 2, '', 'not measured')} | ${measuredCell(rs, (r) => ((r.measuredUs ?? 0) / r.echoCpuUs) * 100, 1, '%')} | ${median(rs.map((r) => r.seeing10))} of ${median(rs.map((r) => r.judged))} | ${(median(rs.map((r) => r.medianMde)) * 100).toFixed(1)}% | ${(median(rs.map((r) => r.wallS)) / 60).toFixed(1)} |`,
    );
  }
  lines.push(...nowTable(runs, shown, label));
  lines.push(...seenTable(runs, shown, label));
  const alarms = runs.filter((r) => r.level === 0 && r.exitCode === 1);
  if (alarms.length) lines.push('', '**False alarms** (level 0): ' + alarms.map((r) => `${r.at.slice(0, 16)}: ${r.flagged.join('; ')}`).join(' · '));
  const missed = runs.filter((r) => r.level > 0 && r.exitCode === 0);
  if (missed.length) lines.push('', '**Missed** (level > 0, not flagged): ' + missed.map((r) => `+${r.level}% at ${r.at.slice(0, 16)}`).join(' · '));
  // A slowed run's flag on a row the slowdown cannot move is a false alarm that a level-0 run
  // would have raised as well: more evidence on the gate's false-alarm rate than level 0 alone.
  const stray = runs.filter((r) => r.level > 0).flatMap((r) => r.flagged.filter(unmovable).map((f) => `+${r.level}% at ${r.at.slice(0, 16)}: ${f}`));
  if (stray.length) lines.push('', `**Flagged rows the slowdown cannot explain** (work-1ms: ≈ 1 ms of CPU per request, so any level here moves it by ≤ 0.5%; thread and process churn: a thread or process start per connection, ≥ 20 ms of CPU; false alarms of those rows): ${stray.join(' · ')}`);
  const errs = runs.filter((r) => r.exitCode !== 0 && r.exitCode !== 1);
  if (errs.length) lines.push('', `**Runs where the harness failed** (exit ≠ 0/1, not counted as flagged): ${errs.length}`);
  lines.push('');
  return lines.join('\n');
}

/**
 * The --slowdown-us that really adds `targetUs` per request: slowed.ts's busy wait overshoots
 * by its clock reads, so ask for the target less the overshoot measured at the target, then
 * measure what that asks for costs (recorded: the level's real size, not its nominal one).
 */
function aimSlowdown(targetUs: number, cpus: string | undefined): { targetUs: number; slowdownUs: number; measuredUs: number } {
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const overshoot = checkSlowdownPinned(round2(targetUs), cpus).extraUs - round2(targetUs);
  const slowdownUs = round2(Math.max(0.01, targetUs - Math.max(0, overshoot)));
  return { targetUs: round2(targetUs), slowdownUs, measuredUs: checkSlowdownPinned(slowdownUs, cpus).extraUs };
}

async function main(): Promise<number> {
  const args = await parseOrUsage(
    yargs(hideBin(process.argv))
      .scriptName('bench-ci-sensitivity')
      .usage('$0 [options]\n\nRepeated paired bench-ci runs against this commit, plain and with slowed handlers → results/ci-sensitivity.md.')
      .option('levels', { type: 'string', default: '0,5,10,25,50', describe: 'percent more CPU per echo request; 0 = the same-commit run' })
      .option('runs', { type: 'number', default: 10, describe: 'runs wanted per level (counting those already in results/ci-sensitivity.json at any commit)' })
      .option('budget', { type: 'number', default: 170, describe: 'minutes: no new run starts after this' })
      .option('models', { type: 'string', describe: 'passed to bench-ci (default: every model)' })
      .option('pin', { type: 'boolean', default: true, describe: "bench-ci's --pin: servers and load pinned apart; only runs of the same design are counted together" })
      .option('blocks', { type: 'number', default: 3, describe: "bench-ci's --blocks: fresh instance pairs per model; only runs of the same design are counted together" })
      .option('rotate', { type: 'boolean', default: true, describe: "bench-ci's --rotate (its default): the instance pairs of a model run at once, the pairs dealt out among them in turn; --no-rotate: one after another" }),
    'bench-ci-sensitivity',
  );
  if (!args) return 2;
  const levels = args.levels.split(',').map(Number);
  if (levels.some((l) => !(l >= 0))) {
    console.error('bench-ci-sensitivity: --levels takes percentages ≥ 0, e.g. 0,5,10,25,50');
    return 2;
  }
  const started = Date.now();
  const all = load();
  const pinned = args.pin;
  const design: Design = { pinned, blocks: args.blocks, rotated: args.rotate && args.blocks > 1 };
  const runs = ofDesign(all, design);
  const sha = git(['rev-parse', 'HEAD']);
  for (;;) {
    const wanted = levels.filter((l) => runs.filter((r) => r.level === l).length < args.runs);
    if (!wanted.length) break;
    if ((Date.now() - started) / 60_000 > args.budget) {
      console.error(`bench-ci-sensitivity: --budget ${args.budget} min spent; ${wanted.length} level(s) still short (run again to go on)`);
      break;
    }
    // The level with the fewest runs so far (ties: the order given): interleaved.
    const level = wanted.reduce((a, l) => (runs.filter((r) => r.level === l).length < runs.filter((r) => r.level === a).length ? l : a));
    const t0 = Date.now();
    const echoCpuUs = await calibrate(pinned);
    const { targetUs, slowdownUs, measuredUs } = level > 0 ? aimSlowdown((echoCpuUs * level) / 100, pinned ? DEFAULT_PLACEMENT.server : undefined) : { targetUs: 0, slowdownUs: 0, measuredUs: 0 };
    const out = mkdtempSync(path.join(os.tmpdir(), 'sb-sens-'));
    console.error(`bench-ci-sensitivity: level ${level}% (run ${runs.filter((r) => r.level === level).length + 1}/${args.runs}): echo CPU ${echoCpuUs.toFixed(2)} µs → target ${targetUs.toFixed(2)} µs: --slowdown-us ${slowdownUs} (measured ${measuredUs.toFixed(2)} µs)`);
    const exitCode = await benchCi(['--base', 'HEAD', '--design', 'held', '--out', out, '--slowdown-us', String(slowdownUs), pinned ? '--pin' : '--no-pin', '--blocks', String(args.blocks), design.rotated ? '--rotate' : '--no-rotate', ...(args.models ? ['--models', args.models] : [])]);
    let flagged: string[] = [];
    let seeing10 = 0;
    let judged = 0;
    let medianMde = Infinity;
    let instanceRows = 0;
    let seen: SeenRow[] = [];
    try {
      seen = parseRows(readFileSync(path.join(out, 'ci-report.md'), 'utf8'));
      // Sensitivity is counted on the models' own rows, as in the runs before the pooled rows.
      const own = seen.filter((x) => !x.row.startsWith(`${POOLED} `));
      const mdes = own.map((x) => x.mde).filter(Number.isFinite);
      judged = mdes.length;
      seeing10 = mdes.filter((m) => m <= TARGET_EFFECT).length;
      medianMde = mdes.length ? median(mdes) : Infinity;
      instanceRows = own.filter((x) => x.instancesDiffer).length;
      flagged = seen.filter((x) => x.verdict === 'regressed').map((x) => x.row);
    } catch {
      /* no report: counted by its exit code */
    }
    rmSync(out, { recursive: true, force: true });
    const run: SensitivityRun = { at: new Date().toISOString(), commit: sha, level, echoCpuUs, slowdownUs, targetUs, measuredUs, exitCode, flagged, seeing10, judged, medianMde, wallS: Math.round((Date.now() - t0) / 1000), pinned, blocks: args.blocks, rotated: design.rotated, instanceRows, rows: seen };
    runs.push(run);
    all.push(run);
    writeFileSync(JSON_OUT, `${JSON.stringify(all, null, 2)}\n`);
    writeFileSync(MD_OUT, renderReport(all, levels, design));
    console.error(`bench-ci-sensitivity: level ${level}% → exit ${exitCode}${flagged.length ? ` (flagged: ${flagged.join('; ')})` : ''}`);
  }
  writeFileSync(MD_OUT, renderReport(all, levels, design));
  console.log(`bench-ci-sensitivity: ${runs.length} runs in ${path.relative(ROOT, JSON_OUT)}; report ${path.relative(ROOT, MD_OUT)}`);
  return 0;
}

if (import.meta.main) await runMain(main, 'bench-ci-sensitivity: harness failed', 3);
