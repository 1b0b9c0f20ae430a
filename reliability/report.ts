// results/reliability.md (+ .json): one row per model x fault.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { FaultResult } from './lib.ts';

export interface RunInfo {
  scale: string;
  startedAt: string;
  durationS: number;
  seed: number;
  node: string;
  models: string[];
  faults: string[];
  /** Rows replaced later by `--update` runs (what was re-run, when, with which seed). */
  reruns?: { startedAt: string; seed: number; models: string[]; faults: string[] }[];
}

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const MARK: Record<FaultResult['status'], string> = { pass: 'PASS', fail: '**FAIL**', limitation: 'LIMITATION', 'n/a': 'n/a' };

export function writeReport(dir: string, info: RunInfo, results: FaultResult[]): { md: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const json = `${dir}/reliability.json`;
  const md = `${dir}/reliability.md`;
  writeFileSync(json, JSON.stringify({ info, results }, null, 2));
  const lines: string[] = [];
  const counts = { pass: 0, fail: 0, limitation: 0, 'n/a': 0 };
  for (const r of results) counts[r.status]++;
  lines.push('# switchboard reliability report', '');
  lines.push(
    `Scale **${info.scale}**, seed ${info.seed}, started ${info.startedAt}, took ${info.durationS} s on ${cpus().length} cores / ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${info.node}.`,
    `Models: ${info.models.join(', ')}. Faults: ${info.faults.join(', ')}.`,
    ...(info.reruns ?? []).map((u) => `Re-run with \`--update\` at ${u.startedAt} (seed ${u.seed}), replacing those rows: ${u.models.join(', ')} × ${u.faults.join(', ')}.`),
    `Result: ${counts.pass} pass, ${counts.fail} fail, ${counts.limitation} documented limitation, ${counts['n/a']} not applicable.`,
    '',
    'Every load targets 127.0.0.1 and is bounded in count and time. Peak RSS is the sum over the server process and its children (from /proc). "Lost" = requests sent whose answer never came (connection failed); "crashes" = unexpected exits of the server process. Recovery = time until the server was back to full service (fault-specific; see the notes).',
    '',
    '| model | fault | status | load held | faults injected | inputs | lost | crashes | peak RSS MiB | recovery ms | reason |',
    '|---|---|---|---|---|--:|--:|--:|--:|--:|---|',
  );
  for (const r of results) {
    const model = r.variant === r.model ? r.model : `${r.model} (${r.variant})`;
    lines.push(
      `| ${model} | ${r.fault} | ${MARK[r.status]} | ${esc(r.load)} | ${esc(r.injected)} | ${r.inputs} | ${r.lost} | ${r.crashes} | ${r.peakRssMb} | ${r.recoveryMs ?? '–'} | ${esc(r.reason)} |`,
    );
  }
  lines.push('', '## Measurements per row', '');
  for (const r of results) {
    lines.push(`- **${r.variant} / ${r.fault}** (${Math.round(r.durationMs / 100) / 10} s): ${esc(JSON.stringify(r.metrics))}`);
    const failed = r.checks.filter((c) => !c.ok);
    if (failed.length) for (const c of failed) lines.push(`  - failed: ${esc(c.name)}${c.detail ? ` — ${esc(c.detail)}` : ''}`);
  }
  lines.push('');
  writeFileSync(md, lines.join('\n'));
  return { md, json };
}
