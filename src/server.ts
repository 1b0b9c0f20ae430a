// Puts the pieces together: options → model → accept loop, plus graceful shutdown and live
// switches. Used by `switchboard serve`; tests and the benchmark start the CLI as a real process.
//
// A live switch (switchTo) keeps the listening socket: the new model instance — generation N+1 —
// starts and proves ready (its threads or children answer their start-up handshake) before the
// accept loop gives it a connection. From then on new connections go to it; the old generation
// keeps serving the connections it has until their clients close them, and is drained (the
// shutdown rules: quiet ones close, busy ones get E_SHUTTING_DOWN) only when --drain-timeout
// runs out, then closed. If the new generation fails to start, nothing changes and the caller
// gets the reason.
import type { AddressInfo } from 'node:net';
import { AcceptLoop, type AcceptStats } from './shared/accept-loop.ts';
import { fillOptions, type FilledServerOptions, type ServerOptions } from './shared/config.ts';
import { SwitchboardError } from './shared/errors.ts';
import { handlerUrl } from './shared/handler.ts';
import { createLogger, type Logger } from './shared/log.ts';
import { addInto, emptyTotals, type DurationCounts, type MetricsTotals } from './shared/metrics.ts';
import { bundleState, handlerModuleUrl } from './models/entries.ts';
import { createModel, modelEntry, type ModelName } from './models/registry.ts';
import type { Lifecycle, Model, ModelMetrics, ModelStats } from './models/model.ts';

export interface SwitchResult {
  generation: number;
  model: string;
  previous: { generation: number; model: string };
  /** Until the new generation was ready to take connections. */
  startMs: number;
  /** Connections the previous generation still had when new ones stopped going to it. */
  connectionsLeft: number;
}

/** A restart: in place, one worker at a time (process-pool, thread-pool), or as a new generation of the same options. */
export type RestartResult =
  | ({ kind: 'rolling'; generation: number; model: string; replaced: number; ms: number })
  | ({ kind: 'generation' } & SwitchResult);

export interface RunningServer {
  readonly address: AddressInfo;
  /** The options of the generation serving new connections. */
  readonly options: FilledServerOptions;
  /** The generation serving new connections. */
  readonly model: Model;
  readonly generation: number;
  /** The serving generation's stats, with the accept loop's, the generation and the counts of the ones before. */
  stats(): ModelStats & { accept: AcceptStats; generation: number; retiring: number };
  /** Live metrics over every generation: the serving one, the ones still finishing, the ones gone. */
  metrics(): ModelMetrics;
  /**
   * Starts `input` (filled and checked like the first) as the next generation and moves new
   * connections to it; resolves once it serves them (the old one retires in the background).
   * Host and port cannot change: the listening socket stays. One switch at a time.
   */
  switchTo(input: ServerOptions): Promise<SwitchResult>;
  /** Fresh threads or children with the same options, no connection refused (see RestartResult). */
  restart(): Promise<RestartResult>;
  /**
   * Graceful stop: no new connections, every open one finishes its outstanding requests
   * (bounded by --drain-timeout, after which what is left is force-closed), every thread and
   * child released. Resolves true when the drain finished within the deadline.
   */
  stop(): Promise<boolean>;
}

interface Generation {
  n: number;
  model: Model;
  options: FilledServerOptions;
}

/** The start-up note on unbundled entries is given once per process, not per generation. */
let toldSourceEntries = false;

export async function startServer(input: ServerOptions, log?: Logger): Promise<RunningServer> {
  const first = fillOptions(input);
  log ??= createLogger(first.logLevel);
  const logger = log;
  const start = async (options: FilledServerOptions): Promise<Model> => {
    const model = await createModel(options.model, { options, handlerUrl: handlerModuleUrl(handlerUrl(options.handler)), log: logger });
    const entries = bundleState();
    if (modelEntry(options.model as ModelName).family !== 'event-loop' && !entries.fresh && !toldSourceEntries) {
      toldSourceEntries = true;
      logger.info({ reason: entries.reason }, 'threads and children start from the .ts sources, not the bundled entries (slower start-up, same code)');
    }
    try {
      await model.start();
    } catch (err) {
      await model.close();
      throw err;
    }
    return model;
  };
  let current: Generation = { n: 1, model: await start(first), options: first };
  const loop = new AcceptLoop(current.model, first, log);
  let address: AddressInfo;
  try {
    address = await loop.listen();
  } catch (err) {
    await current.model.close();
    throw err;
  }

  /** Generations replaced and still finishing their connections. */
  const retiring = new Set<Generation>();
  /** What the generations that are gone counted (so totals never go down). */
  const gone: { totals: MetricsTotals; lifecycle: Lifecycle; queueWait: DurationCounts } = {
    totals: emptyTotals(),
    lifecycle: { starts: 0, exits: 0, respawns: 0, recycles: 0, watchdogKills: 0 },
    queueWait: emptyTotals().duration,
  };
  const addDurations = (into: DurationCounts, d: DurationCounts) => {
    d.counts.forEach((v, i) => (into.counts[i] = (into.counts[i] ?? 0) + v));
    into.sum += d.sum;
    into.count += d.count;
  };
  let switching: Promise<SwitchResult> | null = null;
  let stopping: Promise<boolean> | null = null;

  const retire = async (g: Generation): Promise<void> => {
    retiring.add(g);
    const startedAt = performance.now();
    const left = g.model.stats().connections.active;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), g.options.drainTimeoutMs)));
    // Its clients close their connections in their own time; at the deadline the shutdown rules apply.
    const idle = await Promise.race([g.model.whenIdle().then(() => true as const), deadline]);
    clearTimeout(timer);
    if (!idle) await Promise.race([g.model.drain(), new Promise((r) => setTimeout(r, 1000).unref())]);
    const cut = g.model.stats().connections.active;
    await g.model.close();
    const m = g.model.metrics();
    addInto(gone.totals, m.totals);
    addDurations(gone.queueWait, m.queueWait);
    const lc = g.model.stats().lifecycle;
    for (const k of Object.keys(lc) as (keyof Lifecycle)[]) gone.lifecycle[k] += lc[k];
    retiring.delete(g);
    logger.info({ generation: g.n, model: g.options.model, connectionsLeft: left, closedAtDeadline: cut, retireMs: Math.round(performance.now() - startedAt) }, 'previous generation retired');
  };

  const sumLifecycle = (a: Lifecycle, b: Lifecycle): Lifecycle => ({
    starts: a.starts + b.starts,
    exits: a.exits + b.exits,
    respawns: a.respawns + b.respawns,
    recycles: a.recycles + b.recycles,
    watchdogKills: a.watchdogKills + b.watchdogKills,
  });

  const switchTo = (next: ServerOptions): Promise<SwitchResult> => {
    if (stopping) return Promise.reject(new SwitchboardError('ERR_MODEL_STATE', 'the server is shutting down'));
    if (switching) return Promise.reject(new SwitchboardError('ERR_MODEL_STATE', 'a switch is already under way'));
    switching = (async () => {
      const options = fillOptions(next);
      for (const key of ['host', 'port'] as const) {
        if (options[key] !== current.options[key]) {
          throw new SwitchboardError('ERR_INVALID_OPTION', `options.${key} cannot change live (the listening socket stays): it is ${current.options[key]}, asked ${options[key]}`);
        }
      }
      const t0 = performance.now();
      const model = await start(options); // throws, changing nothing, if it cannot start
      const startMs = Math.round(performance.now() - t0);
      if (stopping) {
        await model.close();
        throw new SwitchboardError('ERR_MODEL_STATE', 'the server began shutting down during the switch');
      }
      const previous = current;
      current = { n: previous.n + 1, model, options };
      loop.switchTo(model, options);
      const connectionsLeft = previous.model.stats().connections.active;
      void retire(previous);
      const result: SwitchResult = { generation: current.n, model: options.model, previous: { generation: previous.n, model: previous.options.model }, startMs, connectionsLeft };
      logger.info({ ...result }, 'switched');
      return result;
    })().finally(() => (switching = null));
    return switching;
  };

  return {
    address,
    get options() {
      return current.options;
    },
    get model() {
      return current.model;
    },
    get generation() {
      return current.n;
    },
    stats: () => {
      const s = current.model.stats();
      let lifecycle = sumLifecycle(s.lifecycle, gone.lifecycle);
      for (const g of retiring) lifecycle = sumLifecycle(lifecycle, g.model.stats().lifecycle);
      return { ...s, lifecycle, accept: loop.stats(), generation: current.n, retiring: retiring.size };
    },
    metrics: () => {
      const now = current.model.metrics();
      const workers = [...now.workers];
      const totals = addInto(addInto(emptyTotals(), gone.totals), now.totals);
      const queueWait = structuredClone(gone.queueWait);
      addDurations(queueWait, now.queueWait);
      for (const g of retiring) {
        const m = g.model.metrics();
        workers.push(...m.workers);
        addInto(totals, m.totals);
        addDurations(queueWait, m.queueWait);
      }
      return { workers, totals, queueWait };
    },
    switchTo,
    async restart(): Promise<RestartResult> {
      const model = current.model;
      if (stopping) throw new SwitchboardError('ERR_MODEL_STATE', 'the server is shutting down');
      const r = model.rollingRestart ? await model.rollingRestart() : null;
      if (r) {
        logger.info({ generation: current.n, model: current.options.model, ...r }, 'restarted in place');
        return { kind: 'rolling', generation: current.n, model: current.options.model, ...r };
      }
      return { kind: 'generation', ...(await switchTo(current.options)) };
    },
    stop() {
      stopping ??= (async () => {
        await loop.stopAccepting();
        await switching?.catch(() => {});
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), current.options.drainTimeoutMs);
        });
        const all = [current, ...retiring];
        const drained = await Promise.race([Promise.all(all.map((g) => g.model.drain())).then(() => true as const), deadline]);
        clearTimeout(timer);
        await Promise.all(all.map((g) => g.model.close()));
        return drained;
      })();
      return stopping;
    },
  };
}
