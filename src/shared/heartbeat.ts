// The worker-thread side of the stuck-thread watchdog (src/models/thread-watchdog.ts).
//
// A handler that spins the CPU blocks its thread's event loop: no timer of that thread fires
// again, so --request-timeout cannot help from inside it. The main thread can notice from
// outside. Each worker thread claims a slot in a table shared by every thread of the model (a
// SharedArrayBuffer in workerData) and bumps its beat counter from a timer: only a turning event
// loop runs timers. The thread also counts the work it has in progress, so the watchdog judges
// a silent thread only while it owes an answer (an idle piscina thread may park in Atomics.wait
// and rightly stops beating). Atomics throughout: no message per beat, nothing on the hot path
// but two atomic adds per unit of work.

/** Int32 fields per slot: [threadId (0 = free), beats, work in progress]. */
export const SLOT_FIELDS = 3;
export const F_THREAD = 0;
export const F_BEATS = 1;
export const F_BUSY = 2;
/** How often a thread beats. The watchdog allows --request-timeout plus a margin of silence. */
export const BEAT_INTERVAL_MS = 250;

export interface Heartbeat {
  /** Work started (+1) or finished (−1): a connection, or one request. */
  busy(delta: 1 | -1): void;
  /**
   * A beat now, from a thread that runs work back to back without turning its event loop (offload's
   * pool thread reads request after request from its ring): each one it starts proves it is alive.
   */
  beat(): void;
}

const NONE: Heartbeat = { busy() {}, beat() {} };

/**
 * Claims a slot for this thread and starts beating (the timer is unref'd: it never keeps the
 * thread alive). A missing table (watchdog off) or a full one returns a heartbeat that does
 * nothing: the thread then simply runs unwatched.
 */
export function startHeartbeat(table: Int32Array | undefined, threadId: number): Heartbeat {
  if (!table) return NONE;
  for (let base = 0; base + SLOT_FIELDS <= table.length; base += SLOT_FIELDS) {
    if (Atomics.compareExchange(table, base + F_THREAD, 0, threadId) !== 0) continue;
    Atomics.store(table, base + F_BUSY, 0);
    setInterval(() => Atomics.add(table, base + F_BEATS, 1), BEAT_INTERVAL_MS).unref();
    return { busy: (delta) => void Atomics.add(table, base + F_BUSY, delta), beat: () => void Atomics.add(table, base + F_BEATS, 1) };
  }
  return NONE;
}
