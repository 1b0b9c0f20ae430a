// Pure rules over what the load generator counted: fairness across connections, served versus
// starved, and whether the client itself limited the figures. Kept apart so they are tested on
// numbers, not on a run.

/** A client thread at or above this share of one core is saturated: it cannot send or read faster. */
export const CLIENT_SATURATED_CORES = 0.9;
/** A client thread that spent this share of the window runnable but waiting for a CPU was short of CPU. */
export const CLIENT_WAIT_SHARE = 0.25;
/** A client whose own loop delay p99 reaches this share of the measured p99 put its tail there. */
export const CLIENT_TAIL_SHARE = 0.25;

/**
 * Jain's fairness index over per-connection request counts: (Σx)² / (n·Σx²), 1 when every
 * connection got the same service, 1/n when one connection got all of it; 0 when none got any;
 * null for no connections.
 */
export function jainIndex(counts: readonly number[]): number | null {
  if (counts.length === 0) return null;
  let sum = 0;
  let sq = 0;
  for (const x of counts) {
    sum += x;
    sq += x * x;
  }
  return sq === 0 ? 0 : (sum * sum) / (counts.length * sq);
}

export interface ConnectionAccounting {
  /** Connections the client drove (churn: parallel loops). */
  offered: number;
  /** Of those, connections that got at least one correct answer inside the window. */
  served: number;
  starved: number;
}

export function accountConnections(perConnection: readonly number[]): ConnectionAccounting {
  const served = perConnection.filter((x) => x > 0).length;
  return { offered: perConnection.length, served, starved: perConnection.length - served };
}

export interface ClientThreadFigures {
  /**
   * CPU of this thread over the window, in cores (1 = a whole core); for a busy-polling thread,
   * the share of the window it was not idle-spinning (what the load needed of the core).
   */
  cores: number;
  /** Share of the window it was runnable but waiting for a CPU (kernel schedstat), or null. */
  waitShare: number | null;
  loopDelayP99Us: number;
}

/**
 * Why the client, not the server, may have set the figures, or null. Saturated: some client
 * thread used ≥ 90% of a core (it could not go faster). Short of CPU: some client thread spent
 * ≥ 25% of the window runnable but not running (the kernel's run-queue wait). Tail: the client's
 * own event-loop delay p99 is ≥ 25% of the measured latency p99 (answers waited in the client
 * before it read them).
 */
export function clientBoundReason(threads: readonly ClientThreadFigures[], latencyP99Us: number): string | null {
  const busiest = Math.max(0, ...threads.map((t) => t.cores));
  if (busiest >= CLIENT_SATURATED_CORES) return `client saturated: a load thread used ${busiest.toFixed(2)} cores`;
  const waited = Math.max(0, ...threads.map((t) => t.waitShare ?? 0));
  if (waited >= CLIENT_WAIT_SHARE) return `client short of CPU: a load thread waited for a CPU ${Math.round(100 * waited)}% of the window`;
  const delay = Math.max(0, ...threads.map((t) => t.loopDelayP99Us));
  if (latencyP99Us > 0 && delay >= CLIENT_TAIL_SHARE * latencyP99Us) {
    return `client loop delay p99 ${Math.round(delay)} µs is ${Math.round((100 * delay) / latencyP99Us)}% of the measured p99 ${Math.round(latencyP99Us)} µs`;
  }
  return null;
}
