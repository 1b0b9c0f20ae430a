// The fixed workload table (names are part of the results schema; parameters can be overridden
// by flags). Pure data: nothing here opens a socket.

export type LoopKind = 'closed' | 'open' | 'churn' | 'idle';
/** 'mix': a user's traffic mix (bench/mix/), served by their --handler. */
export type OpName = 'echo' | 'work' | 'sleep' | 'mix';

export interface Workload {
  /** Fixed name, as it appears in results.json and latest.md. */
  name: string;
  what: string;
  loop: LoopKind;
  op: OpName;
  /** ECHO payload bytes (echo), SLEEP milliseconds (sleep); WORK n is calibrated at start-up. */
  payloadBytes: number;
  sleepMs: number;
  /** One cell per concurrency level. */
  connections: number[];
  /** Requests in flight per connection (closed loop). */
  pipeline: number;
  /** idle-10k: connections held open without traffic next to the active ones. */
  idleConnections: number;
  /** open loop: fraction of the same model's closed-loop echo-64B capacity. */
  rateFraction: number;
  /** Extra `serve` flags this workload needs (limits sized for it). */
  serverFlags: string[];
  /** The bare Node echo server can answer it (it only echoes bytes). */
  reference: boolean;
  /** op 'mix': the mix file (absolute path). */
  mixFile?: string;
  /** Open loop: the closed-loop workload whose capacity the rate is a fraction of (default echo-64B). */
  capacityOf?: string;
  /**
   * Each cell's server gets a fresh empty directory in SWITCHBOARD_STATE_DIR (a handler with state,
   * e.g. a database, keeps it there), removed after the cell.
   */
  freshState?: boolean;
  /**
   * 'shared': the server is not pinned and may use every CPU, and the load generator shares them
   * (it then sleeps in epoll_wait, never spins). The run's placement (`--cpus`, server=1,client=0
   * on 2 cores) gives the server one CPU, so no model can show a parallel speed-up there; on CPU-
   * bound work the client sends ≈ 2,000 requests/s, a few % of a core, so sharing costs the server little.
   */
  placement?: 'shared';
}

const base = { pipeline: 1, idleConnections: 0, rateFraction: 0, sleepMs: 0, serverFlags: [] as string[], reference: true };

export const WORKLOADS: Workload[] = [
  { ...base, name: 'echo-64B', what: 'overhead and unloaded latency', loop: 'closed', op: 'echo', payloadBytes: 64, connections: [1, 32, 256] },
  { ...base, name: 'echo-64KiB', what: 'bulk throughput (MB/s)', loop: 'closed', op: 'echo', payloadBytes: 65536, connections: [16] },
  { ...base, name: 'work-1ms', what: 'CPU-bound: ≈1 ms of SHA-256 per request', loop: 'closed', op: 'work', payloadBytes: 0, connections: [16], reference: false },
  { ...base, name: 'work-1ms-all-cpus', what: 'work-1ms with the server on every CPU (the load generator shares them): the parallel speed-up', loop: 'closed', op: 'work', payloadBytes: 0, connections: [16], reference: false, placement: 'shared' },
  {
    ...base,
    name: 'sleep-10ms',
    what: 'concurrency without CPU (I/O-bound backend)',
    loop: 'closed',
    op: 'sleep',
    payloadBytes: 0,
    sleepMs: 10,
    connections: [512],
    reference: false,
    serverFlags: ['--max-connections', '1024'],
  },
  { ...base, name: 'churn', what: 'a new connection per request (HTTP/1.0 style)', loop: 'churn', op: 'echo', payloadBytes: 64, connections: [8] },
  {
    ...base,
    name: 'idle-10k',
    what: '10,000 idle connections held open next to 16 active ECHO clients',
    loop: 'idle',
    op: 'echo',
    payloadBytes: 64,
    connections: [16],
    idleConnections: 10_000,
    serverFlags: ['--max-connections', '10100', '--idle-timeout', '0'],
  },
  { ...base, name: 'echo-64B-open', what: 'open loop at 50% of closed-loop echo-64B capacity', loop: 'open', op: 'echo', payloadBytes: 64, connections: [32], rateFraction: 0.5 },
];

export const WORKLOAD_NAMES = WORKLOADS.map((w) => w.name);

/** Concurrency levels of a mix's closed loop (override with --connections). */
export const MIX_CONNECTIONS = [1, 16, 64];

/**
 * The workloads of `bench --handler H --mix F`: the user's requests in a closed loop at several
 * concurrencies, an open loop at half of each model's closed-loop capacity on the same mix, and
 * churn (a new connection per request). Every server runs their handler with a fresh state dir.
 */
export function mixWorkloads(mixFile: string, handler: string, mixName: string): Workload[] {
  const m = { ...base, op: 'mix' as const, payloadBytes: 0, reference: false, mixFile, freshState: true, serverFlags: ['--handler', handler] };
  return [
    { ...m, name: 'mix', what: `your mix (${mixName}), closed loop`, loop: 'closed', connections: [...MIX_CONNECTIONS] },
    { ...m, name: 'mix-open', what: `your mix, open loop at 50% of the model's closed-loop capacity on it`, loop: 'open', connections: [32], rateFraction: 0.5, capacityOf: 'mix' },
    { ...m, name: 'mix-churn', what: 'your mix, a new connection per request', loop: 'churn', connections: [8] },
  ];
}

export function findWorkload(name: string): Workload {
  const w = WORKLOADS.find((x) => x.name === name);
  if (!w) throw new Error(`unknown workload "${name}"; choose from ${WORKLOAD_NAMES.join(', ')}`);
  return w;
}

export interface WorkloadOverrides {
  connections?: number[];
  pipeline?: number;
  idleConnections?: number;
  payloadBytes?: number;
  sleepMs?: number;
}

/** A copy of the workload with flag overrides applied (only where they make sense). */
export function withOverrides(w: Workload, o: WorkloadOverrides): Workload {
  const out = { ...w, connections: [...w.connections], serverFlags: [...w.serverFlags] };
  if (o.connections?.length) out.connections = [...o.connections];
  if (o.pipeline !== undefined && w.loop !== 'churn') out.pipeline = o.pipeline;
  if (o.idleConnections !== undefined && w.loop === 'idle') {
    out.idleConnections = o.idleConnections;
    const max = o.idleConnections + Math.max(...out.connections) + 100;
    out.serverFlags = ['--max-connections', String(max), '--idle-timeout', '0'];
  }
  if (o.payloadBytes !== undefined && w.op === 'echo') out.payloadBytes = o.payloadBytes;
  if (o.sleepMs !== undefined && w.op === 'sleep') out.sleepMs = o.sleepMs;
  return out;
}
