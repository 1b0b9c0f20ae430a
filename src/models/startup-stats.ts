// Start-up times of the threads or child processes a model starts (start → handler loaded and
// ready), summarised the same way for every model: ModelStats.startup. A bounded ring of the
// most recent samples, so a server that has started millions of threads keeps cheap stats.

/** What a model starts: worker threads or child processes (null: it starts neither). */
export type StartupUnit = 'thread' | 'process';

export interface StartupSummary {
  unit: StartupUnit | null;
  /** Starts timed over the model's life; the percentiles cover the most recent ones. */
  n: number;
  /** Nearest-rank percentiles in ms, rounded to 0.01 ms; null until something was timed. */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Samples kept for the percentiles. */
export const STARTUP_SAMPLES = 4096;

export class StartupStats {
  readonly unit: StartupUnit | null;
  readonly #ring: number[] = [];
  readonly #cap: number;
  #next = 0;
  #count = 0;

  constructor(unit: StartupUnit | null, cap = STARTUP_SAMPLES) {
    this.unit = unit;
    this.#cap = cap;
  }

  /** One start, in ms; NaN/negative (never got ready) is ignored. */
  add(ms: number): void {
    if (!(ms >= 0)) return;
    this.#count++;
    if (this.#ring.length < this.#cap) this.#ring.push(ms);
    else {
      this.#ring[this.#next] = ms;
      this.#next = (this.#next + 1) % this.#cap;
    }
  }

  summary(): StartupSummary {
    const sorted = [...this.#ring].sort((a, b) => a - b);
    return { unit: this.unit, n: this.#count, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  }
}

/** Nearest-rank percentile of ascending samples, rounded to 0.01 ms; null when empty. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[rank]! * 100) / 100;
}
