// process-pool: pids, dispatch, crash and respawn, recycling, fd hygiene, drain, orphans.
// Real CLI servers, real children, /proc for the process tree.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Op } from '../../src/shared/protocol.ts';
import { FAULTY_HANDLER, FaultOp, STARTUP_CRASH_HANDLER } from '../../harness/fixtures.ts';
import { RawPeer } from '../../harness/peer.ts';
import { startServer } from '../helpers/server.ts';
import { echoFrame, sleep, sleepFrame } from '../../harness/wire.ts';
import { info, pidOfNewConnection } from '../../harness/client.ts';
import { isAlive as alive, childrenOf, fdCount, zombiesOf } from '../../harness/proc-tree.ts';
import { finalStats } from '../../harness/server.ts';
import { until } from '../../harness/time.ts';

const CRASH_HANDLER = STARTUP_CRASH_HANDLER;
const scratch = mkdtempSync(join(tmpdir(), 'switchboard-pool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every child of the server has said ready: one connection per child answers. */
async function readyChildren(pid: number, n: number): Promise<number[]> {
  expect(await until(() => childrenOf(pid).length === n, 15_000), `${n} children`).toBe(true);
  return childrenOf(pid);
}

describe('process-pool', () => {
  it.each(['least-connections', 'round-robin'])('INFO pids are the N children, never the parent (%s)', async (dispatch) => {
    const s = await startServer('process-pool', ['--processes', '2', '--dispatch', dispatch]);
    const kids = await readyChildren(s.pid, 2);
    const peers = await Promise.all(Array.from({ length: 6 }, () => RawPeer.connect(s.port)));
    const pids = await Promise.all(peers.map(async (p) => (await info(p)).pid));
    for (const pid of pids) {
      expect(pid).not.toBe(s.pid);
      expect(kids).toContain(pid);
    }
    // Six open connections over two children: both policies use both, three each.
    expect(new Set(pids).size).toBe(2);
    expect(pids.filter((p) => p === kids[0]).length).toBe(3);
    for (const p of peers) p.destroy();
    expect(await s.stop()).toBe(0);
    expect(kids.some(alive), 'no child remains after stop').toBe(false);
  });

  it('kill -9 of one child mid-load: its connections only; a replacement appears; new connections work', async () => {
    const s = await startServer('process-pool', ['--processes', '2', '--dispatch', 'round-robin']);
    const kids = await readyChildren(s.pid, 2);
    const peers = await Promise.all(Array.from({ length: 8 }, () => RawPeer.connect(s.port)));
    const pids = await Promise.all(peers.map(async (p) => (await info(p)).pid));
    const victim = pids[0]!;
    const survivors = peers.filter((_, i) => pids[i] !== victim);
    const doomed = peers.filter((_, i) => pids[i] === victim);
    expect(survivors.length).toBe(4);
    // Load on every connection while the victim dies.
    const load = survivors.map(async (p, c) => {
      for (let i = 0; i < 40; i++) {
        const n = p.frames.length;
        await p.write(echoFrame(`${c}/${i}`));
        const got = await p.waitFrames(n + 1);
        expect(got[n]!.payload.toString()).toBe(`${c}/${i}`);
        // One client kills it (the others would race a pid already reaped: ESRCH).
        if (i === 10 && c === 0) process.kill(victim, 'SIGKILL');
        await sleep(2);
      }
    });
    await Promise.all(load);
    for (const p of doomed) expect(await p.closedWithin(5000), 'a connection of the killed child is closed').toBe(true);
    // The server replaces it and reaps it (no zombie).
    expect(await until(() => childrenOf(s.pid).length === 2 && !childrenOf(s.pid).includes(victim), 10_000)).toBe(true);
    expect(await until(() => zombiesOf(s.pid).length === 0, 3000), 'every child reaped').toBe(true);
    const replacement = childrenOf(s.pid).find((p) => !kids.includes(p));
    expect(replacement).toBeDefined();
    // New connections succeed all along, and once it is ready the replacement serves some of them.
    let servedByReplacement = false;
    for (let i = 0; i < 200 && !servedByReplacement; i++) {
      servedByReplacement = (await pidOfNewConnection(s.port)) === replacement;
      if (!servedByReplacement) await sleep(50);
    }
    expect(servedByReplacement).toBe(true);
    for (const p of survivors) p.destroy();
    expect(await s.stop()).toBe(0);
  });

  it('--max-connections-per-child 5: 50 sequential connections all succeed, served by more than N pids', async () => {
    const s = await startServer('process-pool', ['--processes', '2', '--max-connections-per-child', '5', '--log-level', 'info']);
    await readyChildren(s.pid, 2);
    const pids: number[] = [];
    for (let i = 0; i < 50; i++) {
      const peer = await RawPeer.connect(s.port);
      await peer.write(echoFrame(`c${i}`));
      const [f] = await peer.waitFrames(1);
      expect(f!.op, `connection ${i} is served, not refused`).toBe(Op.ECHO);
      pids.push((await info(peer)).pid);
      peer.destroy();
    }
    expect(new Set(pids).size).toBeGreaterThan(2);
    // At most 5 + 10 % jitter (rounded: 1) connections per child.
    const perPid = new Map<number, number>();
    for (const p of pids) perPid.set(p, (perPid.get(p) ?? 0) + 1);
    for (const n of perPid.values()) expect(n).toBeLessThanOrEqual(6);
    // Recycled children exit and are reaped; the pool is back to N.
    expect(await until(() => childrenOf(s.pid).length === 2, 10_000)).toBe(true);
    expect(await until(() => zombiesOf(s.pid).length === 0, 3000), 'every child reaped').toBe(true);
    expect(await s.stop()).toBe(0);
    const stats = finalStats(s.stderr());
    expect(stats?.extra.recycled).toBeGreaterThanOrEqual(7);
    // Every child that got ready was timed: the first two and each replacement.
    expect(stats?.startup.unit).toBe('process');
    expect(stats?.startup.n).toBeGreaterThanOrEqual(2 + 7);
    expect(stats?.connections.refused).toBe(0);
    expect(stats?.requests).toBe(100);
  });

  it('no file descriptor stays in the parent after hand-off', async () => {
    const s = await startServer('process-pool', ['--processes', '2']);
    await readyChildren(s.pid, 2);
    for (let i = 0; i < 10; i++) await pidOfNewConnection(s.port); // warm up
    await sleep(200);
    const before = fdCount(s.pid);
    // Open 40 at once (held), then close them: while held, the parent holds none of them either.
    const peers = await Promise.all(Array.from({ length: 40 }, () => RawPeer.connect(s.port)));
    await Promise.all(peers.map((p) => info(p)));
    expect(fdCount(s.pid)).toBeLessThanOrEqual(before + 2);
    for (const p of peers) p.destroy();
    for (let i = 0; i < 40; i++) await pidOfNewConnection(s.port);
    await sleep(200);
    expect(fdCount(s.pid)).toBeLessThanOrEqual(before + 2);
    expect(await s.stop()).toBe(0);
  });

  it('SIGTERM drains every child (the SLEEP in flight is answered), exits 0, no child remains', async () => {
    const s = await startServer('process-pool', ['--processes', '3']);
    const kids = await readyChildren(s.pid, 3);
    const peers = await Promise.all(Array.from({ length: 6 }, () => RawPeer.connect(s.port)));
    await Promise.all(peers.map((p) => info(p)));
    await Promise.all(peers.map((p) => p.write(sleepFrame(300))));
    await sleep(50);
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    for (const p of peers) {
      await p.closedWithin(5000);
      expect(p.frames[1]?.op, 'SLEEP answered').toBe(Op.SLEEP);
    }
    expect(await until(() => !kids.some(alive), 3000), 'no child remains').toBe(true);
  });

  it('orphans: SIGKILL of the parent; every child exits on its own', async () => {
    const s = await startServer('process-pool', ['--processes', '3']);
    const kids = await readyChildren(s.pid, 3);
    const peer = await RawPeer.connect(s.port);
    await info(peer); // one child with an open connection too
    s.proc.kill('SIGKILL');
    await s.exited;
    expect(await until(() => !kids.some(alive), 5000), `children ${kids.filter(alive)} still alive`).toBe(true);
    peer.destroy();
  });

  // A child stuck in a CPU-spinning handler never sees its IPC channel close; the kernel's
  // parent-death signal (children start through setpriv where it exists) must end it anyway.
  it.skipIf(!['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p)))('orphans: a child spinning the CPU dies with its SIGKILLed parent too', async () => {
    const s = await startServer('process-pool', ['--processes', '2', '--handler', FAULTY_HANDLER]);
    const kids = await readyChildren(s.pid, 2);
    const peer = await RawPeer.connect(s.port);
    const spinning = (await info(peer)).pid as number;
    await peer.send(FaultOp.SPIN);
    await sleep(200);
    s.proc.kill('SIGKILL');
    await s.exited;
    expect(await until(() => !kids.some(alive), 5000), `children ${kids.filter(alive)} still alive (spinning: ${spinning})`).toBe(true);
    peer.destroy();
  });

  it('children that die at start-up are not respawned forever; the rest keep serving', { timeout: 60_000 }, async () => {
    const marker = join(scratch, 'crash');
    const s = await startServer('process-pool', ['--processes', '2', '--handler', CRASH_HANDLER, '--log-level', 'info'], { SWITCHBOARD_CRASH_MARKER: marker });
    const kids = await readyChildren(s.pid, 2);
    writeFileSync(marker, '');
    process.kill(kids[0]!, 'SIGKILL');
    // Respawns fail at start-up with backoff (100, 200, 400, 800 ms) and stop after 5.
    // Five start-ups that each load Node before crashing: seconds on a busy 2-core box. The bound
    // only catches a pool that never gives up.
    expect(await until(() => /not forking any more/.test(s.stderr()), 40_000)).toBe(true);
    const forksAfterLimit = s.stderr().match(/child died unexpectedly/g)!.length;
    await sleep(1000);
    expect(s.stderr().match(/child died unexpectedly/g)!.length, 'no fork after the limit').toBe(forksAfterLimit);
    expect(childrenOf(s.pid)).toEqual([kids[1]]);
    for (let i = 0; i < 4; i++) expect(await pidOfNewConnection(s.port)).toBe(kids[1]);
    expect(await s.stop()).toBe(0);
    const stats = finalStats(s.stderr());
    expect(stats?.extra).toMatchObject({ respawnDisabled: true, failedStarts: 5 });
  });
});
