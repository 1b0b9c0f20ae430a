// Queries over a run's cells, and the names the report gives a group of them. Every label with a
// concurrency level is built from the cells' own params.connections: a run with --connections
// gets its own levels in every heading, sentence and chart, never the defaults. Every query
// answers with a cell id's rounds as one (aggregate.ts): the medians, with the ranges beside.
import type { CellResult, RunResults } from '../results.ts';
import { WORKLOADS } from '../workloads.ts';
import { aggregated, type AggCell } from './aggregate.ts';

/** The cells of one workload at one concurrency level (a table, a chart, a verdict line). */
export interface Group {
  workload: string;
  connections: number;
}

/** Every cell id of the run, its rounds as one, failed ones included. */
export const allCells = (r: RunResults): AggCell[] => aggregated(r);

/** Cell ids with at least one round that completed (the figures are those rounds'). */
export const okCells = (r: RunResults): AggCell[] => aggregated(r).filter((c) => c.ok);

/** The cell of a server in a workload (at one level, or the first one that ran). */
export function cellOf(r: RunResults, server: string, workload: string, connections?: number): AggCell | undefined {
  return okCells(r).find((x) => x.server === server && x.workload === workload && (connections === undefined || x.params.connections === connections));
}

export const inGroup = (c: CellResult, g: Group): boolean => c.workload === g.workload && c.params.connections === g.connections;

/** Successful model cells (not the reference or the external server) of one group. */
export const modelCells = (r: RunResults, g: Group): AggCell[] => okCells(r).filter((c) => c.kind === 'model' && inGroup(c, g));

/** Every (workload, level) that has a cell, in workload order, failed cells included. */
export function groups(r: RunResults): Group[] {
  const seen = new Map<string, Group>();
  for (const w of r.workloads) for (const c of r.cells.filter((x) => x.workload === w.name)) seen.set(`${w.name}/${c.params.connections}`, { workload: w.name, connections: c.params.connections });
  return [...seen.values()];
}

/** The groups of some workloads, in the same order. */
export const groupsOf = (r: RunResults, workloads: readonly string[]): Group[] => groups(r).filter((g) => workloads.includes(g.workload));

/** "work-1ms c=16": the full name, used wherever cells of several levels sit side by side. */
export const groupName = (g: Group): string => `${g.workload} c=${g.connections}`;

/**
 * The workload's name alone when the run used exactly its standard level (workloads.ts has one
 * level for it and this run did not change it), else the full name: "churn", but "churn c=4"
 * after --connections 4, and "echo-64B c=32" since echo-64B runs at several levels.
 */
export function shortName(r: RunResults, g: Group): string {
  const levels = new Set(r.cells.filter((c) => c.workload === g.workload).map((c) => c.params.connections));
  const standard = WORKLOADS.find((w) => w.name === g.workload)?.connections;
  const isStandard = levels.size === 1 && standard?.length === 1 && standard[0] === g.connections;
  return isStandard ? g.workload : groupName(g);
}

/**
 * Server names of the two targets that are not models, as results.json records them (the same as
 * REFERENCE_TARGET / PYTHON_TARGET in bench/server-proc.ts, not imported from there: the report
 * reads results and should not load the code that starts servers).
 */
export const REFERENCE = 'node-net-echo';
export const EXTERNAL = 'python-socketserver';

/** Payloads from 4 KiB up are bulk transfers: their MB/s is worth a column. */
export const isBulk = (payloadBytes: number): boolean => payloadBytes >= 4096;
