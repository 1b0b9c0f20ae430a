// `make reliability`: every fault of issue 8 against every model variant, at full scale
// (≤ 25 min on 2 cores), or QUICK (≤ 5 min). Writes results/reliability.md and .json.
//   node reliability/run.ts [--quick] [--models a,b] [--faults x,y] [--seed n] [--soak-seconds s] [--out dir] [--update]
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_VARIANTS, VARIANTS, type Variant } from '../harness/variants.ts';
import type { FaultContext, FaultResult } from './lib.ts';
import { FAULTS } from './faults/index.ts';
import { runTogether as runSoaksTogether } from './faults/soak.ts';
import { existsSync, readFileSync } from 'node:fs';
import { writeReport, type RunInfo } from './report.ts';

const argv = await yargs(hideBin(process.argv))
  .option('quick', { type: 'boolean', default: false, describe: 'small scale (≤ 5 min for all models)' })
  .option('models', { type: 'string', describe: 'comma-separated model or variant names (default: all)' })
  .option('faults', { type: 'string', describe: `comma-separated: ${Object.keys(FAULTS).join(', ')}` })
  .option('seed', { type: 'number', describe: 'fuzz seed (default: random, printed and recorded)' })
  .option('soak-seconds', { type: 'number', describe: 'soak duration (default 300 full, 20 quick); every model soaks at once' })
  .option('out', { type: 'string', default: 'results' })
  .option('update', { type: 'boolean', default: false, describe: 'replace only the rows run now in the existing <out>/reliability.json, keep the rest' })
  .strict()
  .help()
  .parseAsync();

const scale = argv.quick ? 'quick' : 'full';
const wantedModels = argv.models?.split(',').map((s) => s.trim()).filter(Boolean);
// One variant per model unless a variant is named: the first listed variant is the model's default.
const variants: Variant[] = wantedModels
  ? VARIANTS.filter((v) => wantedModels.includes(v.name) || (wantedModels.includes(v.model) && VARIANTS.find((w) => w.model === v.model) === v))
  : DEFAULT_VARIANTS;
const faultNames = argv.faults ? argv.faults.split(',').map((s) => s.trim()) : Object.keys(FAULTS);
for (const f of faultNames) if (!(f in FAULTS)) throw new Error(`unknown fault "${f}"; choose from ${Object.keys(FAULTS).join(', ')}`);
if (!variants.length) throw new Error(`no variant matches --models ${argv.models}`);
const seed = argv.seed ?? Math.floor(Math.random() * 2 ** 31);
const soakSeconds = argv['soak-seconds'];

const started = Date.now();
// --update: the earlier run's rows and header stay; rows run now replace theirs in place.
const previous: { info: RunInfo; results: FaultResult[] } | null =
  argv.update && existsSync(`${argv.out}/reliability.json`) ? JSON.parse(readFileSync(`${argv.out}/reliability.json`, 'utf8')) : null;
const report = (results: FaultResult[]) => {
  const now: RunInfo = { scale, startedAt: new Date(started).toISOString(), durationS: Math.round((Date.now() - started) / 1000), seed, node: process.version, models: variants.map((v) => v.name), faults: faultNames };
  if (!previous) return writeReport(argv.out, now, results);
  if (previous.info.scale !== scale) throw new Error(`--update: ${argv.out}/reliability.json is a ${previous.info.scale}-scale run, this one is ${scale}`);
  const merged = previous.results.map((old) => results.find((r) => r.variant === old.variant && r.fault === old.fault) ?? old);
  for (const r of results) if (!merged.includes(r)) merged.push(r);
  const reruns = [...(previous.info.reruns ?? []), { startedAt: now.startedAt, seed, models: now.models, faults: now.faults }];
  return writeReport(argv.out, { ...previous.info, reruns }, merged);
};
console.log(`reliability: scale ${scale}, seed ${seed}, models ${variants.map((v) => v.name).join(', ')}, faults ${faultNames.join(', ')}`);
const results: FaultResult[] = [];
// Rows in report order (model, then fault), whatever order they finished in.
const ordered = () =>
  [...results].sort((x, y) => variants.findIndex((v) => v.name === x.variant) - variants.findIndex((v) => v.name === y.variant) || faultNames.indexOf(x.fault) - faultNames.indexOf(y.fault));
const record = (r: FaultResult) => {
  results.push(r);
  console.log(`${r.variant.padEnd(16)} ${r.fault.padEnd(12)} ${r.status.toUpperCase().padEnd(10)} ${(r.durationMs / 1000).toFixed(1).padStart(6)} s  ${r.reason}`);
  report(ordered());
};
const context = (variant: Variant, fault: string): FaultContext => ({
  variant, scale, seed, log: (m) => console.log(`  [${variant.name}/${fault}] ${m}`), ...(soakSeconds ? { soakSeconds } : {}),
});
const runnerError = (fault: string, variant: Variant, err: unknown, t0: number): FaultResult => ({
  fault, model: variant.model, variant: variant.name, status: 'fail', reason: `runner error: ${(err as Error).message.split('\n')[0]}`,
  load: '', injected: '', inputs: 0, lost: 0, crashes: 0, peakRssMb: 0, recoveryMs: null, durationMs: Math.round(performance.now() - t0), checks: [], metrics: {},
});
for (const variant of variants) {
  for (const fault of faultNames) {
    if (fault === 'soak') continue;
    const t0 = performance.now();
    record(await FAULTS[fault]!(context(variant, fault)).catch((err) => runnerError(fault, variant, err, t0)));
  }
}
// The soaks run last and side by side (see faults/soak.ts): one after another they would take
// longer than the whole run's budget.
if (faultNames.includes('soak')) {
  const t0 = performance.now();
  const soaks = await runSoaksTogether(variants.map((v) => context(v, 'soak'))).catch((err) => variants.map((v) => runnerError('soak', v, err, t0)));
  soaks.forEach(record);
}
const { md } = report(ordered());
console.log(`wrote ${md} in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(results.some((r) => r.status === 'fail') ? 1 : 0);
