// GET /metrics: a prom-client registry whose switchboard_* metrics are read from the running
// server at each scrape (live: the model's stats, the accept loop's counters, and the latest
// report of every thread and child, see src/shared/metrics.ts), beside prom-client's own Node
// process metrics (CPU, memory, event-loop lag, handles, GC).
import { Registry, collectDefaultMetrics } from 'prom-client';
import { DURATION_BUCKETS_S, type DurationCounts } from '../shared/metrics.ts';
import type { ModelMetrics, ModelStats } from '../models/model.ts';
import type { AcceptStats } from '../shared/accept-loop.ts';

/** What the registry reads at each scrape. */
export interface MetricsSource {
  stats(): ModelStats & { accept: AcceptStats };
  metrics(): ModelMetrics;
  /** 1 for the model started with the server; +1 at each live switch. */
  generation(): number;
  draining(): boolean;
}

type Labels = Record<string, string>;
interface Value {
  value: number;
  labels?: Labels;
  metricName?: string;
}
type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * A metric computed at scrape time. prom-client's own Counter cannot be set to a total kept
 * elsewhere (only inc()), so these implement its Metric shape (name, help, type, get()) and leave
 * the text format, escaping and the registry to prom-client.
 */
function define(register: Registry, name: string, help: string, type: MetricType, values: () => Value[]): void {
  register.registerMetric({
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
  } as never);
}

/** Prometheus buckets are cumulative: `le` counts everything at or under it. */
function histogramValues(name: string, h: DurationCounts, labels: Labels = {}): Value[] {
  const out: Value[] = [];
  let running = 0;
  DURATION_BUCKETS_S.forEach((le, i) => {
    running += h.counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: running });
  });
  running += h.counts[DURATION_BUCKETS_S.length] ?? 0;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: running });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

const byLabel = (label: string, counts: Record<string, number>): Value[] => Object.entries(counts).map(([k, v]) => ({ labels: { [label]: k }, value: v }));

export function createRegistry(source: MetricsSource): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  // One reading per scrape: every metric below is computed from the same snapshot.
  let cached: { at: number; stats: ReturnType<MetricsSource['stats']>; metrics: ModelMetrics } | null = null;
  const now = () => {
    const t = performance.now();
    if (!cached || t - cached.at > 50) cached = { at: t, stats: source.stats(), metrics: source.metrics() };
    return cached;
  };
  const S = 'switchboard_';
  define(register, `${S}model_generation`, 'Generation of the model serving new connections (1 at start, +1 per live switch), labelled with its name.', 'gauge', () => [{ labels: { model: now().stats.model }, value: source.generation() }]);
  define(register, `${S}draining`, '1 while the server drains (GET /healthz answers 503).', 'gauge', () => [{ value: source.draining() ? 1 : 0 }]);
  define(register, `${S}connections_accepted_total`, 'Connections accepted by the accept loop.', 'counter', () => [{ value: now().stats.accept.accepted }]);
  define(register, `${S}connections_active`, 'Connections accepted and not yet closed (including queued ones).', 'gauge', () => [{ value: now().stats.accept.active }]);
  define(register, `${S}connections_queued`, 'Connections waiting, unread, for a thread or child.', 'gauge', () => [{ value: now().stats.connections.queued }]);
  // Every reason from the start, at 0, so a rate() over them works before the first refusal.
  const REASONS = ['max-connections', 'per-ip', 'queue', 'shutting-down', 'start-failed'];
  define(register, `${S}connections_refused_total`, 'Connections refused with an ERROR frame, by reason.', 'counter', () =>
    byLabel('reason', { ...Object.fromEntries(REASONS.map((r) => [r, 0])), ...now().stats.accept.refusedBy }),
  );
  define(register, `${S}connections_bad_proxy_header_total`, '--proxy-protocol: connections closed for a missing, malformed, oversized or late header.', 'counter', () => [{ value: now().stats.accept.badProxyHeader }]);
  define(register, `${S}requests_total`, 'Requests handed to the handler, by op.', 'counter', () => byLabel('op', now().metrics.totals.requests));
  define(register, `${S}errors_total`, 'ERROR frames sent, by code.', 'counter', () => byLabel('code', now().metrics.totals.errors));
  define(register, `${S}request_duration_seconds`, 'From a request decoded to its answer written.', 'histogram', () => histogramValues(`${S}request_duration_seconds`, now().metrics.totals.duration));
  define(register, `${S}queue_wait_seconds`, 'How long a connection waited, unread, for a thread or child (thread, thread-pool, process).', 'histogram', () => histogramValues(`${S}queue_wait_seconds`, now().metrics.queueWait));
  define(register, `${S}worker_active_connections`, 'Open connections per thread or child (worker = thread:<id> or pid:<pid>): uneven dispatch shows here.', 'gauge', () => now().metrics.workers.map((w) => ({ labels: { worker: w.worker }, value: w.activeConnections })));
  define(register, `${S}worker_requests_total`, 'Requests served per thread or child (a series ends when its worker does).', 'counter', () => now().metrics.workers.map((w) => ({ labels: { worker: w.worker }, value: Object.values(w.requests).reduce((a, b) => a + b, 0) })));
  define(register, `${S}workers`, 'Threads or processes serving connections now (1 for event-loop).', 'gauge', () => [{ value: now().stats.workers }]);
  const lifecycle = (key: keyof ModelStats['lifecycle'], help: string) => define(register, `${S}worker_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`, help, 'counter', () => [{ value: now().stats.lifecycle[key] }]);
  lifecycle('starts', 'Threads or children started.');
  lifecycle('exits', 'Threads or children that ended.');
  lifecycle('respawns', 'Threads or children started to replace one that died.');
  lifecycle('recycles', 'Children retired after --max-connections-per-child.');
  lifecycle('watchdogKills', 'Threads or children ended by the watchdog (event loop blocked past --request-timeout).');
  return register;
}
