// The user's handler and mix through the real harness: per-kind counting of answers that are
// wrong, thrown, never sent or cut off by a dying process; the cross-model answer check; and the
// exit codes of bad input (a malformed mix → 2 naming file and path, a handler that does not load → 4).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCell } from '../../bench/cell.ts';
import { checkConsistency } from '../../bench/mix/consistency.ts';
import { loadMix } from '../../bench/mix/parse.ts';
import { profileHandler } from '../../bench/mix/profile.ts';
import { mixWorkloads } from '../../bench/workloads.ts';
import { handlerUrl } from '../../src/shared/handler.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const FAULTY = here('../../harness/fixtures/faulty-handler.ts');
const REVERSE = here('../../examples/reverse-handler.ts');
const MIXES = here('../../harness/fixtures/mixes/');
const RUN = here('../../bench/run.ts');

describe('a mix under load, counted per kind', () => {
  it('requests that throw or never answer are counted against their kind; the rest are served; nothing crashes', async () => {
    const mixFile = `${MIXES}faulty.json`;
    const [closed] = mixWorkloads(mixFile, FAULTY, 'faulty');
    // No warm-up: one request in ten hangs its connection for good, so within a few dozen
    // requests every connection is stuck; the window must see them before that.
    const r = await runCell({ target: { name: 'event-loop', kind: 'model' }, workload: closed!, connections: 8, warmupMs: 0, durationMs: 800, clientThreads: 1, graceMs: 300 });
    expect(r.error).toBeNull();
    const [echo, thrown, hang] = r.perKind!;
    expect(echo!.name).toBe('echo');
    expect(echo!.ok).toBeGreaterThan(0);
    expect(echo!.errors).toBe(0);
    expect(echo!.latencyUs.count).toBe(echo!.ok);
    expect(thrown!.ok).toBe(0);
    expect(thrown!.errorFrames.E_INTERNAL ?? 0).toBeGreaterThan(0);
    expect(thrown!.firstError).toMatch(/^throw op 0x22.*E_INTERNAL/);
    // A hung request holds its connection for good: the ones sent inside the window are unanswered.
    expect(hang!.ok).toBe(0);
    expect(hang!.unanswered).toBeGreaterThan(0);
    expect(hang!.unanswered).toBeLessThanOrEqual(8); // at most one per connection: nothing is sent after it
    expect(r.errors!.unanswered).toBe(hang!.unanswered);
    expect(r.errors!.total).toBe(thrown!.errors + hang!.errors);
  });

  it('a handler that ends its process: the requests cut off are counted as closed, per kind, and the run goes on (reconnects)', async () => {
    const mixFile = `${MIXES}exit.json`;
    const [closed] = mixWorkloads(mixFile, FAULTY, 'exit');
    const r = await runCell({ target: { name: 'process-pool', kind: 'model' }, workload: closed!, connections: 4, warmupMs: 200, durationMs: 1500, clientThreads: 1, graceMs: 300 });
    expect(r.error).toBeNull();
    const [echo, exit] = r.perKind!;
    expect(echo!.ok).toBeGreaterThan(0);
    expect(exit!.ok).toBe(0);
    expect(exit!.closed + echo!.closed).toBeGreaterThan(0);
    expect(r.errors!.reconnects).toBeGreaterThan(0);
  });
});

describe('same request, same answer', () => {
  it('an answer that differs between models is reported with the request and both answers', async () => {
    const mix = loadMix(`${MIXES}whoami.json`);
    const c = await checkConsistency(['event-loop', 'thread-pool'], REVERSE, mix, {}, { requests: 30 });
    expect(c.ok).toBe(false);
    const [ref, other] = c.models;
    expect(ref!).toMatchObject({ model: 'event-loop', answered: 30, differ: 0, error: null });
    expect(other!.answered).toBe(30);
    expect(other!.differ).toBeGreaterThan(0);
    expect(other!.differ).toBeLessThan(30); // only WHOAMI differs: REVERSE answers alike
    expect(other!.examples[0]).toMatch(/whoami op 0x12.*event-loop answered .*"event-loop pid=.*thread-pool answered .*"thread-pool pid=/);
  });

  it('the same deterministic mix answered alike by every model passes', async () => {
    const mix = loadMix(`${MIXES}faulty.json`);
    // Without the HANG kind (it would never answer): echo and throw only.
    const tame = { ...mix, kinds: mix.kinds.map((k) => (k.name === 'hang' ? { ...k, weight: 0 } : k)) };
    const c = await checkConsistency(['event-loop', 'process-pool'], FAULTY, tame, {}, { requests: 40 });
    // THROW is answered E_INTERNAL, which its expectation (same op) calls wrong — alike in both models.
    expect(c.models.map((m) => m.differ)).toEqual([0, 0]);
    expect(c.models[0]!.wrong).toBe(c.models[1]!.wrong);
  });
});

describe('the handler profile', () => {
  it('per kind: CPU, wall and the synchronous stretch; a throwing kind and a hanging one are counted, not fatal', async () => {
    const mix = loadMix(`${MIXES}faulty.json`);
    const p = await profileHandler(FAULTY, handlerUrl(FAULTY), mix, { budgetMs: 100, memory: false });
    const [echo, thrown, hang] = p.kinds;
    expect(echo!.calls).toBeGreaterThan(10);
    expect(echo!.wrong).toBe(0);
    expect(echo!.syncUs.max).toBeGreaterThan(0);
    expect(thrown!.thrown).toBe(thrown!.calls);
    expect(hang!.timeouts).toBeGreaterThan(0);
    expect(hang!.firstError).toMatch(/never answered/);
    expect(p.exited).toBeNull();
  }, 30_000);

  it('a handler that exits the process is reported with the kind it was on', async () => {
    const mix = loadMix(`${MIXES}exit.json`);
    const p = await profileHandler(FAULTY, handlerUrl(FAULTY), mix, { budgetMs: 50, memory: false });
    expect(p.exited).toEqual({ kind: 'exit', status: 3 });
    expect(p.kinds.map((k) => k.name)).toEqual(['echo']);
  });
});

describe('bad input to bench --mix', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout: 60_000 });
  it('a malformed mix: exit 2, naming the file, the path in it and why', () => {
    const r = run(['--mix', `${MIXES}bad-weight.json`, '--handler', FAULTY]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad-weight\.json: requests\[0\]\.payload\.random: .*-5/);
  });
  it('a handler that does not load: exit 4, as serve', () => {
    const r = run(['--mix', `${MIXES}faulty.json`, '--handler', '/nonexistent/handler.ts']);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/cannot load handler/);
  });
  it('--handler without --mix is a usage error', () => {
    const r = run(['--handler', FAULTY]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--handler needs --mix/);
  });
});

describe('switchboard bench --handler --mix, end to end', () => {
  it('runs the mix under the chosen models and writes a report with the profile, the cross-model check and the per-kind table (not latest.md)', async () => {
    const { mkdtempSync, readdirSync, readFileSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const out = mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-mix-'));
    const r = spawnSync(process.execPath, [RUN, '--handler', REVERSE, '--mix', here('../../examples/json-api/mix.json'), '--models', 'event-loop,process-pool', '--quick', '--duration', '0.3', '--warmup', '0.1', '--workloads', 'mix,mix-churn', '--connections', '4', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    // The reverse handler does not speak json-api's op: every answer is E_UNKNOWN_OP — counted, shown, not a crash.
    expect(r.status, r.stderr).toBe(0);
    const [dir] = readdirSync(out).filter((d) => d.endsWith('-reverse-handler-quick'));
    expect(dir).toBeDefined();
    expect(readdirSync(out)).not.toContain('latest.md');
    const md = readFileSync(path.join(out, dir!, 'report.md'), 'utf8');
    expect(md).toMatch(/## Your handler/);
    expect(md).toMatch(/### Profile: the handler called directly, per request kind/);
    expect(md).toMatch(/### Same request, same answer/);
    expect(md).toMatch(/### Per request kind, per model/);
    expect(md).toMatch(/E_UNKNOWN_OP/);
    const results = JSON.parse(readFileSync(path.join(out, dir!, 'results.json'), 'utf8'));
    expect(results.mix.kinds.length).toBeGreaterThan(1);
    expect(results.cells.every((c: { perKind?: unknown[] }) => Array.isArray(c.perKind))).toBe(true);
  }, 150_000);
});

describe('interrupting a runner', () => {
  it('SIGTERM to recommend mid-run kills the servers it started and exits 143', async () => {
    const { cpSync, mkdtempSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { spawn, execFileSync } = await import('node:child_process');
    // A copy of the handler under a unique path, so its servers can be told from everyone else's.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-sigterm-'));
    cpSync(here('../../examples/json-api'), dir, { recursive: true });
    const child = spawn(process.execPath, [here('../../bench/recommend/run.ts'), '--handler', path.join(dir, 'handler.ts'), '--mix', path.join(dir, 'mix.json'), '--quick', '--out', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const servers = () => {
      try {
        return execFileSync('pgrep', ['-f', `serve .*${dir}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    // Wait until it is measuring (a server of ours is up), then interrupt it.
    const deadline = Date.now() + 60_000;
    while (servers().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(servers().length).toBeGreaterThan(0);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(143);
    await new Promise((r) => setTimeout(r, 300));
    expect(servers()).toEqual([]);
  }, 90_000);
});
