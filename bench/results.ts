// The results.json schema: what `make bench` writes and the report reads back (re-rendering a past
// run needs nothing else). Types only, so the runner, a cell and the report all depend on this
// module and never on each other. Bump SCHEMA_VERSION when a field changes meaning or goes away.
import type { ConsistencyResult } from './mix/consistency.ts';
import type { HandlerProfile } from './mix/profile.ts';
import type { FilledServerOptions } from '../src/shared/config.ts';
import type { Calibration } from './calibrate.ts';
import type { LoadResult } from './loadgen/load.ts';
import type { CodecRow } from './micro/codec.ts';
import type { RttRow } from './micro/rtt.ts';
import type { HandoffRow } from './micro/handoff.ts';
import type { ParallelCeilingRow } from './micro/parallel-ceiling.ts';
import type { SpawnRefRow } from './micro/spawn.ts';
import type { ThreadHopRow } from './micro/hop.ts';
import type { Target } from './server-proc.ts';
import type { Workload } from './workloads.ts';

export const SCHEMA_VERSION = 2;

/** Rounds of every cell in a full run (`--rounds`; quick: 1). The report names it when a run had one. */
export const DEFAULT_ROUNDS = 3;

export interface RunResults {
  schema: number;
  run: { id: string; startedAt: string; finishedAt: string; wallMs: number; quick: boolean; argv: string[]; flags: Record<string, unknown> };
  machine: { cpuModel: string; cores: number; kernel: string; platform: string; arch: string; totalMemBytes: number; fdLimit: number | null };
  node: { version: string; v8: string };
  commit: { sha: string; short: string; dirty: boolean };
  calibration: Calibration | null;
  servers: { name: string; kind: Target['kind'] }[];
  /** The workloads as run: flag overrides (--connections, --payload, …) already applied. */
  workloads: Workload[];
  cells: CellResult[];
  /** handoff: absent in runs before it. */
  micro: { codec: CodecRow[]; rtt: RttRow[]; handoff?: HandoffRow[] } | null;
  /**
   * The reference start-up cells, one row per kind and round: a bare `new Worker()` and a bare
   * `fork()` to first message (bench/micro/spawn.ts). Absent in runs before them, and in runs
   * without the thread or process model.
   */
  spawnRefs?: SpawnRefRow[];
  /**
   * The machine's parallel ceiling next to the shared-placement cells (work-1ms-all-cpus), one row
   * per round (bench/micro/parallel-ceiling.ts). Absent in runs before it and in runs without them.
   */
  parallelCeiling?: ParallelCeilingRow[];
  /**
   * The thread-hop floor under offload's unloaded p50, one row per way back and round
   * (bench/micro/hop.ts). Absent in runs before it and in runs without the offload model.
   */
  threadHops?: ThreadHopRow[];
  notes: string[];
  /** `bench --handler H --mix F`: the user's handler and mix, its profile and the cross-model check. */
  mix?: MixSection;
}

export interface MixSection {
  file: string;
  name: string;
  /** Absolute path, or 'builtin'. */
  handler: string;
  kinds: { name: string; op: number; weight: number }[];
  profile: HandlerProfile | null;
  consistency: ConsistencyResult | null;
}

export interface ServerFigures {
  /** CPU µs (user + sys) of the whole server process tree inside the window. */
  cpuUs: number;
  cpuUsPerRequest: number | null;
  /** Average cores busy: cpuUs / window. */
  cores: number;
  peakRssBytes: number;
  /** Tree RSS right after start (before any load). */
  rssBaselineBytes: number;
  /** idle-10k: (RSS with the idle connections held − baseline) / held. */
  rssPerIdleConnBytes: number | null;
  peakProcesses: number;
}

/** One cell: self-contained, it holds every parameter needed to read or repeat it. */
export interface CellResult {
  id: string;
  server: string;
  kind: Target['kind'];
  workload: string;
  mode: Workload['loop'];
  params: {
    op: Workload['op'];
    payloadBytes: number;
    workN: number | null;
    sleepMs: number | null;
    connections: number;
    pipeline: number;
    idleConnections: number;
    ratePerSec: number | null;
    warmupMs: number;
    durationMs: number;
    clientThreads: number;
    serverCommand: string[];
    /** CPU placement, `server=LIST,client=LIST` (taskset), or 'none'. Absent in runs before it existed. */
    cpus?: string;
    /**
     * Models: the options the server ran with, resolved when the cell ran (defaults change
     * between commits; the report judges the registry's facts, e.g. multiplexes(), on these).
     * Absent in runs before it existed and for other servers.
     */
    serverOptions?: FilledServerOptions;
    /** --target with --agent: the `switchboard agent` endpoints that gave serverTree (their own /proc). */
    agents?: string[];
  };
  /** Which repetition of the cell this is (1-based; rounds are interleaved across cells). */
  round: number;
  ok: boolean;
  error: string | null;
  startedAt: string;
  wallMs: number;
  throughput: number | null;
  mbPerSec: number | null;
  latencyUs: LoadResult['latencyUs'] | null;
  /** Closed loop and churn: latency before the coordinated-omission correction. */
  latencyRawUs?: LoadResult['latencyRawUs'];
  coIntervalUs?: LoadResult['coIntervalUs'];
  errors: LoadResult['errors'] | null;
  firstError: string | null;
  client: LoadResult['client'] | null;
  /** Connections offered, served (≥ 1 answer inside the window) and starved. */
  connections: LoadResult['connections'] | null;
  /** Jain's index over per-connection answers inside the window. */
  fairness: number | null;
  /** Answers inside the window per connection (churn: per loop). */
  perConnection: number[] | null;
  /** Mix workloads: per request kind, its answers, errors (with the first shown) and raw latency. */
  perKind?: LoadResult['perKind'];
  /** Server process tree over the window (null for a remote target). */
  serverTree: ServerFigures | null;
  /** Where the cell's wall time went (ms). */
  timings: { serverStart: number; connect: number; load: number; stop: number };
  idle: LoadResult['idle'] | null;
  /** Merged latency histogram (µs), hdr-histogram-js compressed base64. */
  histogram: string | null;
}
