// results/scale-out.md from what bench/scale-out/run.ts measured: pure (data in, Markdown out),
// so the page can be re-rendered from scale-out.json (`node bench/scale-out/report.ts FILE`).
import { readFileSync } from 'node:fs';
import type { CellResult } from '../results.ts';
import { spread } from '../report/aggregate.ts';
import { lat, latRanged, num, pct, ranged } from '../report/format.ts';

export interface CountRun {
  instances: number;
  /** One echo-64B cell per round (bench/run.ts --target through HAProxy). */
  cells: CellResult[];
  /** Share of client→server bytes HAProxy forwarded to each instance, mean over rounds. */
  shares: Record<string, number>;
  /** Connections HAProxy opened to each instance (health checks included), summed over rounds. */
  sessions: Record<string, number>;
  /** HAProxy's own CPU µs per request it forwarded, one figure per round (warm-up included). */
  haproxyCpuUsPerRequest: number[];
}

export interface EventRun {
  kind: 'kill' | 'drain';
  instances: number;
  victim: string;
  /** Client connections HAProxy had open to the victim just before the event. */
  victimConnections: number;
  cell: CellResult | null;
  /** kill: from SIGKILL until HAProxy's checks showed it DOWN. */
  markedDownMs: number | null;
  victimExit: number | string | null;
  /** From the event until the victim's process had exited. */
  victimExitMs: number | null;
  shares: Record<string, number>;
}

export interface ScaleOutReport {
  startedAt: string;
  finishedAt?: string;
  commit: string;
  machine: { cpus: number; node: string; haproxy: string; kernel: string };
  model: string;
  connections: number;
  rounds: number;
  durationS: number;
  check: { interMs: number; fall: number; rise: number };
  command: string;
  counts: CountRun[];
  events: EventRun[];
}

const shareText = (shares: Record<string, number>) =>
  Object.entries(shares)
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([k, v]) => `${k} ${pct(v)}`)
    .join(', ');

const errorsOf = (c: CellResult | null) => c?.errors ?? null;

export function renderScaleOut(r: ScaleOutReport): string {
  const L: string[] = [];
  L.push('# Scale-out: switchboard instances behind HAProxy');
  L.push('');
  L.push(`Commit \`${r.commit}\`, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC; ${r.machine.cpus} CPUs, Node ${r.machine.node}, ${r.machine.haproxy}, Linux ${r.machine.kernel}.`);
  L.push(`Command: \`${r.command}\` (as root). Every instance: \`switchboard serve --model ${r.model} --proxy-protocol --idle-timeout 0 --max-connections 10100\`.`);
  L.push('');
  L.push('**Topology.** Four network namespaces as hosts, joined by veth pairs, addresses from 198.18.0.0/15 with no route out');
  L.push('(scripts/scale-out/netns.sh): a client host (198.18.0.2), a balancer host running HAProxy in TCP mode (198.18.0.1:7070;');
  L.push(`\`balance leastconn\`, \`send-proxy-v2\`, a \`tcp-check\` that sends an INFO frame and expects op 0x04, every ${r.check.interMs} ms, DOWN after ${r.check.fall} failures),`);
  L.push('and two server hosts (198.18.1.2, 198.18.2.2). Instance i runs on server host i mod 2: 1 instance → server1; 2 → one on each; 4 → two on each.');
  L.push('The load is `bench/run.ts --target 198.18.0.1:7070 --agent 198.18.1.2:9100 --agent 198.18.2.2:9100` on the client host:');
  L.push(`echo-64B, closed loop, ${r.connections} connections, ${r.durationS} s windows; rounds interleave 1, 2, 4, 1, 2, 4, …`);
  L.push('Server CPU per request comes from `switchboard agent` on each server host (its own /proc); HAProxy\'s from its /proc over the');
  L.push('whole harness run, divided by the requests it forwarded (its client→server bytes ÷ 69, the size of an echo-64B request).');
  L.push('');
  L.push(`**Read this first.** The "hosts" share this machine's ${r.machine.cpus} CPUs: client, HAProxy and every instance compete for them, so more`);
  L.push('instances cannot add CPU here. What this run shows is the deployment working (PROXY protocol, health checks, spreading,');
  L.push('failure and drain behaviour) and what each arrangement costs; throughput that scales with hosts needs hosts.');
  L.push('');
  L.push(`## Throughput and latency by instance count (median of ${r.rounds} rounds, range in brackets)`);
  L.push('');
  L.push('| instances | req/s | p50 | p99 | server CPU µs/req (all instances) | HAProxy CPU µs/req | share each instance served (bytes HAProxy forwarded) | errors |');
  L.push('|--:|--:|--:|--:|--:|--:|---|--:|');
  for (const c of r.counts) {
    const ok = c.cells.filter((x) => x.ok);
    const tp = spread(ok.map((x) => x.throughput));
    const p50 = spread(ok.map((x) => x.latencyUs?.p50 || null));
    const p99 = spread(ok.map((x) => x.latencyUs?.p99 || null));
    const cpu = spread(ok.map((x) => x.serverTree?.cpuUsPerRequest));
    const errors = c.cells.reduce((a, x) => a + (x.errors?.total ?? 0), 0);
    const failed = c.cells.length - ok.length;
    const hap = spread(c.haproxyCpuUsPerRequest);
    L.push(`| ${c.instances} | ${ranged(tp)} | ${latRanged(p50)} | ${latRanged(p99)} | ${ranged(cpu, (v) => num(v, 1))} | ${ranged(hap, (v) => num(v, 1))} | ${shareText(c.shares)} | ${errors}${failed ? ` (${failed} rounds failed)` : ''} |`);
  }
  const one = r.counts.find((c) => c.instances === 1);
  if (one) {
    const base = spread(one.cells.filter((x) => x.ok).map((x) => x.throughput))?.median;
    const ratios = r.counts
      .filter((c) => c.instances > 1 && base)
      .map((c) => `${c.instances} instances ${num((spread(c.cells.filter((x) => x.ok).map((x) => x.throughput))?.median ?? 0) / base!, 2)}×`);
    if (ratios.length) L.push('', `Throughput against 1 instance, same run: ${ratios.join(', ')}.`);
  }
  L.push('');
  L.push('## One instance lost, one drained (the largest count, 8 s window, the event about 2 s into it)');
  L.push('');
  L.push('| event | instances | victim\'s connections at the event | requests lost (sent, connection closed unanswered) | E_SHUTTING_DOWN answers | other errors | reconnects | HAProxy marked it DOWN after | victim exited | req/s over the window | p99 |');
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const e of r.events) {
    const err = errorsOf(e.cell);
    const shutting = err?.errorFrames?.E_SHUTTING_DOWN ?? 0;
    const otherFrames = Object.entries(err?.errorFrames ?? {}).filter(([k]) => k !== 'E_SHUTTING_DOWN').reduce((a, [, v]) => a + v, 0);
    const other = otherFrames + (err?.mismatch ?? 0) + (err?.unanswered ?? 0);
    const what = e.kind === 'kill' ? `SIGKILL ${e.victim}` : `HAProxy \`set server … state drain\`, then SIGTERM ${e.victim}`;
    L.push(
      `| ${what} | ${e.instances} | ${e.victimConnections} | ${err?.closed ?? '–'} | ${shutting} | ${other} | ${err?.reconnects ?? '–'} | ${e.markedDownMs === null ? (e.kind === 'kill' ? 'not within 15 s' : 'n/a') : `${num(e.markedDownMs)} ms`} | ${e.victimExit ?? '–'} after ${e.victimExitMs === null ? '–' : `${num(e.victimExitMs)} ms`} | ${num(e.cell?.throughput ?? null)} | ${lat(e.cell?.latencyUs?.p99 ?? null)} |`,
    );
  }
  L.push('');
  for (const e of r.events) L.push(`- ${e.kind}: share each instance served over the run: ${shareText(e.shares)}.`);
  L.push('');
  L.push('How to read the events:');
  L.push('- **Kill.** Only requests in flight on the killed instance can be lost: at most one per connection it held (closed loop,');
  L.push('  one request in flight each). The client reconnects (after 100 ms) through HAProxy, which sends new connections to the');
  L.push('  live instances; until its checks mark the dead one DOWN, a connection sent there is refused and HAProxy redispatches it (`retries 3`, `option redispatch`).');
  L.push('- **Drain.** HAProxy stops giving the instance new connections; SIGTERM makes switchboard finish what it has read and');
  L.push('  answer later requests on those connections with `E_SHUTTING_DOWN` (not processed: safe to retry) before it closes them;');
  L.push('  the client retries elsewhere. "Requests lost" counts requests that got neither an answer nor that refusal.');
  L.push('');
  return `${L.join('\n')}\n`;
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/scale-out/report.ts results/scale-out.json');
    process.exit(2);
  }
  process.stdout.write(renderScaleOut(JSON.parse(readFileSync(file, 'utf8')) as ScaleOutReport));
}
