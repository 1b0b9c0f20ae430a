// The bundled worker and child entries and built-in handler (src/models/entries.ts,
// scripts/build-entries.ts): used only
// while they match the sources, and the .ts sources still serve when asked for or when stale.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { descendants } from '../../harness/proc-tree.ts';
import { startModelServer, type ServerProcess } from '../../harness/server.ts';
import { ENTRY_NAMES, MANIFEST, MANIFEST_SCHEMA, ROOT, checkManifest, handlerModuleUrl, readFromRoot, sha1, type EntriesManifest } from '../../src/models/entries.ts';
import { FrameClient } from '../../src/shared/client.ts';
import { ProtocolError } from '../../src/shared/errors.ts';
import { BUILTIN_HANDLER, loadHandler } from '../../src/shared/handler.ts';
import { Op } from '../../src/shared/protocol.ts';

describe('checkManifest', () => {
  const files: Record<string, string> = { 'src/a.ts': 'a', 'src/b.ts': 'b' };
  for (const name of ENTRY_NAMES) files[`.build/${name}.mjs`] = 'bundle';
  const read = (fs: Record<string, string>) => (rel: string) => (rel in fs ? Buffer.from(fs[rel]!) : null);
  const manifest = (): EntriesManifest => ({
    schema: MANIFEST_SCHEMA,
    entries: Object.fromEntries(ENTRY_NAMES.map((n) => [n, { file: `${n}.mjs`, inputs: { 'src/a.ts': sha1('a'), 'src/b.ts': sha1('b') } }])),
  });

  it('fresh while every input has its recorded hash', () => {
    expect(checkManifest(manifest(), read(files))).toEqual({ fresh: true });
  });
  it('stale when a source changed or is gone, naming it', () => {
    expect(checkManifest(manifest(), read({ ...files, 'src/b.ts': 'b2' }))).toEqual({ fresh: false, reason: expect.stringMatching(/^src\/b\.ts changed/) });
    const { ['src/a.ts']: _gone, ...without } = files;
    expect(checkManifest(manifest(), read(without))).toEqual({ fresh: false, reason: expect.stringMatching(/^src\/a\.ts is gone/) });
  });
  it('stale when an entry or its bundled file is missing, or there is no manifest', () => {
    const m = manifest();
    delete m.entries['process.child'];
    expect(checkManifest(m, read(files))).toEqual({ fresh: false, reason: 'the bundle has no process.child entry' });
    const { ['.build/offload.worker.mjs']: _gone, ...without } = files;
    expect(checkManifest(manifest(), read(without))).toEqual({ fresh: false, reason: 'offload.worker.mjs is missing' });
    expect(checkManifest(null, read(files)).fresh).toBe(false);
    expect(checkManifest({ ...manifest(), schema: 0 }, read(files)).fresh).toBe(false);
  });
});

describe('the entries a server starts its threads and children from', () => {
  const servers: ServerProcess[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
  });
  const serve = async (model: string, env: NodeJS.ProcessEnv = {}) => {
    const s = await startModelServer({ model, flags: ['--log-level', 'info'] }, [], { env });
    servers.push(s);
    const c = await FrameClient.connect(s.port);
    expect((await c.echo(Buffer.from('entries'))).toString()).toBe('entries');
    expect((await c.work(1000)).length).toBeGreaterThan(0);
    return { s, c };
  };
  const childEntries = (s: ServerProcess) =>
    descendants(s.pid)
      .map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))
      .map((argv) => argv.find((a) => /process\.child\.(ts|mjs)$/.test(a)))
      .filter(Boolean);

  it('make setup built a bundle that matches the sources (else: run make setup)', () => {
    const state = checkManifest(JSON.parse(readFileSync(MANIFEST, 'utf8')), readFromRoot);
    expect(state).toEqual({ fresh: true });
  });

  it('a fresh bundle: children run .build/process.child.mjs, and the server says nothing about sources', async () => {
    const { s, c } = await serve('process');
    expect(childEntries(s)).toEqual([path.join(ROOT, '.build/process.child.mjs')]);
    await c.close();
    expect(s.stderr()).not.toMatch(/start from the \.ts sources/);
  });

  it('SWITCHBOARD_ENTRIES=source: children run src/models/process.child.ts, said once at start', async () => {
    const { s, c } = await serve('process', { SWITCHBOARD_ENTRIES: 'source' });
    expect(childEntries(s)).toEqual([path.join(ROOT, 'src/models/process.child.ts')]);
    await c.close();
    expect(s.stderr().match(/start from the \.ts sources/g)).toHaveLength(1);
    expect(s.stderr()).toMatch(/SWITCHBOARD_ENTRIES=source/);
  });

  it('the built-in handler is imported from its bundle, which answers as the source does; other handlers as given', async () => {
    expect(handlerModuleUrl(BUILTIN_HANDLER)).toBe(pathToFileURL(path.join(ROOT, '.build/builtin-handler.mjs')).href);
    expect(handlerModuleUrl('file:///srv/h.mjs?us=5')).toBe('file:///srv/h.mjs?us=5');
    const bundled = await loadHandler(handlerModuleUrl(BUILTIN_HANDLER));
    const source = await loadHandler(BUILTIN_HANDLER);
    const ctx = { model: 'test', pid: 1, threadId: 0, connection: 1, requests: 1, maxWork: 1000, peer: '' };
    const work = Buffer.from([0, 0, 0, 3, 9, 9]);
    expect(await bundled(Op.WORK, work, ctx)).toEqual(await source(Op.WORK, work, ctx));
    expect(await bundled(Op.ECHO, Buffer.from('hi'), ctx)).toEqual({ op: Op.ECHO, payload: Buffer.from('hi') });
    // Its ProtocolError is a copy of errors.ts's, and still one (branded with Symbol.for).
    expect(() => bundled(Op.WORK, Buffer.alloc(2), ctx)).toThrow(ProtocolError);
  });

  // The conformance suite runs every model on the bundles; each thread entry also serves from source.
  for (const model of ['thread', 'thread-pool', 'offload', 'process-pool']) {
    it(`${model} serves from the .ts sources too`, async () => {
      const { s, c } = await serve(model, { SWITCHBOARD_ENTRIES: 'source' });
      await c.close();
      expect(s.stderr()).toMatch(/start from the \.ts sources/);
    });
  }
});
