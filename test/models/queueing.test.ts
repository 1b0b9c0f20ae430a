// Connections that queue for a slot (thread-pool with a K too small, thread beyond --max-threads,
// process beyond --max-processes): the model says so once in its log, not once per connection,
// and its stats show how many wait and how long the oldest has waited. Servers run in this
// process (src/server.ts) so their live stats can be read; their threads and children are real.
import { describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import type { Socket } from 'node:net';
import { startServer, type RunningServer } from '../../src/server.ts';
import type { ServerOptions } from '../../src/shared/config.ts';
import type { ConnectionTicket } from '../../src/shared/accept-loop.ts';
import { MODEL_NAMES } from '../../src/models/registry.ts';
import { WaitQueue } from '../../src/models/wait-queue.ts';
import { RawPeer } from '../../harness/peer.ts';
import { info } from '../../harness/client.ts';
import { until } from '../../harness/time.ts';
import { infoFrame, sleep } from '../../harness/wire.ts';

const QUEUEING = /^connections are queueing/;

/** A pino logger whose lines are kept (parsed) instead of written. */
function capturingLogger() {
  const lines: Record<string, any>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines, warnings: () => lines.filter((l) => l.level === 40 && QUEUEING.test(l.msg)) };
}

async function serve(options: ServerOptions) {
  const { log, lines, warnings } = capturingLogger();
  const server = await startServer({ port: 0, ...options }, log);
  const peers: RawPeer[] = [];
  onTestFinished(async () => {
    for (const p of peers) p.destroy();
    await server.stop();
  });
  const connect = async () => {
    const p = await RawPeer.connect(server.address.port);
    peers.push(p);
    return p;
  };
  return { server, lines, warnings, connect };
}

const connections = (s: RunningServer) => s.stats().connections;

describe.each([
  { model: 'thread-pool', options: { threads: 1, connectionsPerThread: 1 }, slots: '--threads 1 × --connections-per-thread 1 = 1 connections' },
  { model: 'thread', options: { maxThreads: 1 }, slots: '--max-threads 1 connection threads' },
  { model: 'process', options: { maxProcesses: 1 }, slots: '--max-processes 1 children' },
])('$model with one slot', ({ model, options, slots }) => {
  it('one warning when connections start to queue, not one per connection; stats: queued and the oldest wait', { timeout: 30_000 }, async () => {
    const { server, warnings, connect } = await serve({ model, ...options });
    const a = await connect();
    await info(a);
    expect(connections(server)).toMatchObject({ queued: 0, oldestWaitMs: 0 });
    expect(warnings()).toHaveLength(0);

    const b = await connect();
    await b.write(infoFrame());
    expect(await until(() => connections(server).queued === 1)).toBe(true);
    const c = await connect();
    await c.write(infoFrame());
    expect(await until(() => connections(server).queued === 2)).toBe(true);
    await sleep(150);
    const waited = connections(server).oldestWaitMs;
    expect(waited, 'b has waited since before c arrived').toBeGreaterThanOrEqual(150);
    await sleep(50);
    expect(connections(server).oldestWaitMs, 'the wait grows while it lasts').toBeGreaterThan(waited);

    const [w, ...more] = warnings();
    expect(more, 'one warning for the episode, not one per queued connection').toHaveLength(0);
    expect(w).toMatchObject({ queued: 1, slots, queueTimeoutMs: 30_000 });
    expect(w!.msg).toContain(slots);
    expect(w!.msg).toContain('--queue-timeout');

    // The queue empties as slots free: b, then c, are served; the figures fall back to 0.
    a.destroy();
    expect((await b.waitFrames(1))[0]!.payload.toString()).toContain(`"model":"${model}"`);
    expect(connections(server).queued).toBe(1);
    b.destroy();
    await c.waitFrames(1);
    expect(connections(server)).toMatchObject({ queued: 0, oldestWaitMs: 0 });

    // A second episode within the rate limit (60 s) logs nothing more; it is counted.
    const d = await connect();
    await d.write(infoFrame());
    expect(await until(() => connections(server).queued === 1)).toBe(true);
    expect(warnings()).toHaveLength(1);
    expect(server.stats().extra.queueEpisodes).toBe(2);
  });
});

describe('models that never queue a connection', () => {
  it.each(MODEL_NAMES.filter((m) => !['thread', 'process'].includes(m)).map((model) => ({ model })))(
    '$model (defaults, 2 threads/processes): 5 connections at once, none queued, oldestWaitMs 0, no warning',
    { timeout: 30_000 },
    async ({ model }) => {
      const { server, warnings, connect } = await serve({ model, threads: 2, processes: 2 });
      const peers = await Promise.all(Array.from({ length: 5 }, () => connect()));
      await Promise.all(peers.map((p) => info(p)));
      expect(connections(server)).toMatchObject({ active: 5, queued: 0, oldestWaitMs: 0 });
      expect(warnings()).toHaveLength(0);
    },
  );
});

describe('WaitQueue: the queueing warning', () => {
  const entry = () => [{} as Socket, {} as ConnectionTicket] as const;

  it('warns when an episode starts, again after the queue emptied and refilled once the interval passed; counts the episodes in between', async () => {
    const { log, warnings } = capturingLogger();
    const q = new WaitQueue(0, 'a slot', { log, slots: () => '2 slots', warnIntervalMs: 100 });
    q.push(...entry());
    q.push(...entry());
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ queued: 1, slots: '2 slots', queueTimeoutMs: 0 });
    expect(warnings()[0]!.msg).toContain('no limit');
    q.shift();
    q.shift();
    q.push(...entry()); // a second episode inside the interval: counted, not logged
    q.shift();
    expect(warnings()).toHaveLength(1);
    await sleep(120);
    q.push(...entry());
    expect(warnings()).toHaveLength(2);
    expect(warnings()[1]).toMatchObject({ episodesSinceLastWarning: 1 });
    expect(q.episodes).toBe(3);
  });

  it('stopServingAfter (drain): once the time is up, every waiting connection and any put back later is refused E_SHUTTING_DOWN, unread', async () => {
    const refused: string[] = [];
    const ticket = (id: string) => ({ refuse: (_s: Socket, code: string) => void refused.push(`${id}:${code}`) }) as unknown as ConnectionTicket;
    const q = new WaitQueue(0, 'a child');
    q.push({} as Socket, ticket('a'));
    q.push({} as Socket, ticket('b'));
    q.stopServingAfter(50);
    expect(q.shift()!.ticket, 'served meanwhile, as slots free').toBeDefined();
    await sleep(80);
    expect(refused).toEqual(['b:E_SHUTTING_DOWN']);
    q.push({} as Socket, ticket('c'));
    q.unshift({ socket: {} as Socket, ticket: ticket('d'), since: 0 });
    expect(refused).toEqual(['b:E_SHUTTING_DOWN', 'c:E_SHUTTING_DOWN', 'd:E_SHUTTING_DOWN']);
    expect(q.length).toBe(0);
  });

  it('`ahead` connections are waiting but not queued: no warning, no oldest wait, until the queue outgrows them', async () => {
    const { log, warnings } = capturingLogger();
    let ahead = 2;
    const q = new WaitQueue(0, 'a child', { log, ahead: () => ahead });
    q.push(...entry());
    q.push(...entry());
    expect([q.length, q.queued, q.oldestWaitMs()]).toEqual([2, 0, 0]);
    expect(warnings()).toHaveLength(0);
    await sleep(30);
    q.push(...entry());
    expect(q.queued).toBe(1);
    expect(q.oldestWaitMs(), 'the third one, just queued').toBeLessThan(20);
    ahead = 0;
    expect(q.oldestWaitMs(), 'the first one').toBeGreaterThanOrEqual(25);
    expect(warnings()).toHaveLength(1);
  });
});
