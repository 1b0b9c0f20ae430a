// switchboard agent: the server-side figures of a remote benchmark. A real server, the real agent
// over HTTP, and a cell run through `--target` that takes its server CPU from the agent; checked
// against the same server's /proc read here directly.
import { describe, expect, it, onTestFinished } from 'vitest';
import { cpuBetween, fetchSample, sampleServers, startAgent } from '../../bench/agent.ts';
import { runCell } from '../../bench/cell.ts';
import { WORKLOADS } from '../../bench/workloads.ts';
import { sampleTree } from '../../harness/proc-tree.ts';
import { startServer } from '../helpers/server.ts';

async function agentFor(pids: number[]): Promise<string> {
  const server = await startAgent(pids, '127.0.0.1', 0);
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('switchboard agent', () => {
  it('GET /sample: the CPU and RSS of each watched server tree, as /proc has them', async () => {
    const s = await startServer('process-pool', ['--processes', '2']);
    const agent = await agentFor([s.pid]);
    const sample = await fetchSample(agent);
    const direct = sampleTree(s.pid);
    expect(sample.servers).toHaveLength(1);
    expect(sample.servers[0]!.alive).toBe(true);
    // The parent and its two children.
    expect(sample.processes).toBe(3);
    expect(sample.rssBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(Math.abs(sample.rssBytes - direct.rssBytes) / direct.rssBytes).toBeLessThan(0.2);
    expect(sample.cpuUs).toBeGreaterThan(0);
    expect(sample.cpuUs).toBeLessThanOrEqual(sampleTree(s.pid).cpuUs);
  });

  it('answers 404 for another path and 405 for another method, with the reason', async () => {
    const agent = await agentFor([process.pid]);
    const other = await fetch(`http://${agent}/metrics`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: string }).error).toMatch(/GET \/sample/);
    const post = await fetch(`http://${agent}/sample`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
  });

  it('cpuBetween counts only servers alive at both ends (a killed one adds nothing)', () => {
    const a = { at: 0, cpuUs: 300, rssBytes: 0, processes: 2, servers: [{ pid: 1, alive: true, cpuUs: 100, rssBytes: 0, processes: 1 }, { pid: 2, alive: true, cpuUs: 200, rssBytes: 0, processes: 1 }] };
    const b = { at: 1000, cpuUs: 150, rssBytes: 0, processes: 1, servers: [{ pid: 1, alive: true, cpuUs: 150, rssBytes: 0, processes: 1 }, { pid: 2, alive: false, cpuUs: 0, rssBytes: 0, processes: 0 }] };
    expect(cpuBetween(a, b)).toEqual({ cpuUs: 50, ms: 1000, servers: 1 });
    expect(sampleServers([2 ** 22 + 12345]).servers[0]!.alive).toBe(false);
  });

  it('bench --target with --agent: the remote cell gets server CPU per request from the agent, close to /proc read here', async () => {
    const s = await startServer('event-loop');
    const agent = await agentFor([s.pid]);
    const echo = WORKLOADS.find((w) => w.name === 'echo-64B')!;
    const remote = await runCell({ target: { name: 'remote', kind: 'remote', host: '127.0.0.1', port: s.port, agents: [agent] }, workload: echo, connections: 8, warmupMs: 200, durationMs: 1000, clientThreads: 1 });
    expect(remote.error).toBeNull();
    expect(remote.params.agents).toEqual([agent]);
    const perRequest = remote.serverTree?.cpuUsPerRequest;
    expect(perRequest, JSON.stringify(remote.serverTree)).toBeGreaterThan(0);
    // The same server measured as a local cell reads /proc itself: the two agree within the noise
    // of a shared machine (CLK_TCK is 10 ms; a 1 s window holds hundreds of ticks).
    const local = await runCell({ target: { name: 'event-loop', kind: 'model' }, workload: echo, connections: 8, warmupMs: 200, durationMs: 1000, clientThreads: 1 });
    const ratio = perRequest! / local.serverTree!.cpuUsPerRequest!;
    expect(ratio, `agent ${perRequest} µs/req, local ${local.serverTree!.cpuUsPerRequest} µs/req`).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
