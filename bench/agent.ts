// `switchboard agent`: the server-side half of a remote benchmark. The load generator on another
// host cannot read the server's /proc, so this small HTTP service on the server's host reads it
// on request: `GET /sample` answers the CPU time and RSS of every watched server's process tree
// (children included, as the local benchmark counts them), and the harness asks at the start and
// at the end of its measured window (`bench --target HOST:PORT --agent HOST:9100`).
//
// Read-only, no state beyond its start-up flags; it binds 127.0.0.1 unless told otherwise.
import http from 'node:http';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { procAvailable, sampleTree } from '../harness/proc-tree.ts';
import { parseOrUsage } from './cli-args.ts';

/** What GET /sample answers. `at` is the agent's own clock, so the window's length is the server host's. */
export interface AgentSample {
  /** performance.now() on the agent, ms. */
  at: number;
  /** Σ over the live watched trees; a tree whose root has exited adds nothing from then on. */
  cpuUs: number;
  rssBytes: number;
  processes: number;
  servers: { pid: number; alive: boolean; cpuUs: number; rssBytes: number; processes: number }[];
}

export function sampleServers(pids: readonly number[]): AgentSample {
  const servers = pids.map((pid) => {
    const s = sampleTree(pid);
    return { pid, alive: s.alive, cpuUs: s.alive ? s.cpuUs : 0, rssBytes: s.rssBytes, processes: s.processes };
  });
  const sum = (k: 'cpuUs' | 'rssBytes' | 'processes') => servers.reduce((a, s) => a + s[k], 0);
  return { at: performance.now(), cpuUs: sum('cpuUs'), rssBytes: sum('rssBytes'), processes: sum('processes'), servers };
}

/**
 * CPU µs the watched servers spent between two samples, counted per server present and alive in
 * both (a server killed in between contributes nothing: its last ticks went with it).
 */
export function cpuBetween(a: AgentSample, b: AgentSample): { cpuUs: number; ms: number; servers: number } {
  let cpuUs = 0;
  let servers = 0;
  for (const s of b.servers) {
    const before = a.servers.find((x) => x.pid === s.pid);
    if (!before?.alive || !s.alive) continue;
    cpuUs += Math.max(0, s.cpuUs - before.cpuUs);
    servers++;
  }
  return { cpuUs, ms: b.at - a.at, servers };
}

/** GET http://host:port/sample from the harness (bounded: a dead agent costs at most `timeoutMs`). */
export async function fetchSample(agent: string, timeoutMs = 3000): Promise<AgentSample> {
  const res = await fetch(`http://${agent}/sample`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`agent ${agent}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as AgentSample;
}

export function startAgent(pids: readonly number[], host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/sample') return reply(404, { error: `no such path ${path}; the agent answers GET /sample` });
    if (req.method !== 'GET') return reply(405, { error: `${req.method} not allowed; use GET` });
    reply(200, sampleServers(pids));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

async function main(): Promise<void> {
  const a = await parseOrUsage(
    yargs(hideBin(process.argv))
      .scriptName('switchboard agent')
      .usage(
        '$0 --pid PID [--pid PID …] [--port 9100] [--host 127.0.0.1]\n\n' +
          'Serves GET /sample: CPU time and RSS of the process trees of the switchboard servers named by --pid, for a benchmark ' +
          'run from another host (`switchboard bench --target HOST:PORT --agent HOST:9100`). Read-only; stops on SIGTERM/SIGINT.',
      )
      .option('pid', { type: 'number', array: true, demandOption: true, describe: 'root pid of a server to watch (repeat for several instances)' })
      .option('port', { type: 'number', default: 9100, describe: 'HTTP port (0 = any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (the benchmark client must reach it)' })
      .example('$0 --pid 4242 --pid 4243 --host 198.18.1.2', 'two instances on this host, asked from the client host'),
    'switchboard agent',
  );
  if (!a) process.exit(2);
  if (!procAvailable) {
    console.error('switchboard agent: /proc is not readable here; it reads server CPU and RSS from /proc (Linux only)');
    process.exit(4);
  }
  const pids = (a.pid as number[]).filter((p) => Number.isInteger(p) && p > 0);
  if (pids.length === 0) {
    console.error('switchboard agent: --pid must name at least one positive process id');
    process.exit(2);
  }
  const server = await startAgent(pids, a.host as string, a.port as number).catch((err: Error) => {
    console.error(`switchboard agent: cannot listen on ${a.host}:${a.port}: ${err.message}`);
    process.exit(3);
  });
  const addr = server.address() as { address: string; port: number };
  console.log(`switchboard agent listening on ${addr.address}:${addr.port} (GET /sample), watching ${pids.join(", ")}`);
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.main) await main();
