// The example handlers in examples/kv-sqlite, examples/json-api and examples/deflate, each loaded
// by path under every model variant: their ops, their bad-input answers, the requests of their
// own mix.json judged by its expectations, and (kv) that an answered SET survives a kill -9 of
// whatever served it.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Op, parseError, type Frame } from '../src/shared/protocol.ts';
import { FrameClient } from '../src/shared/client.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { DEFAULT_VARIANTS, VARIANTS, connectionCapacity } from '../harness/variants.ts';
import { descendants, isAlive, procAvailable } from '../harness/proc-tree.ts';
import { loadMix } from '../bench/mix/parse.ts';
import { loadChecks, judge, describeRequest } from '../bench/mix/expect.ts';
import { sampleRequests } from '../bench/mix/source.ts';
import type { Mix } from '../bench/mix/types.ts';

const example = (p: string) => fileURLToPath(new URL(`../examples/${p}`, import.meta.url));
const KV = example('kv-sqlite/handler.ts');
const JSON_API = example('json-api/handler.ts');
const DEFLATE = example('deflate/handler.ts');
const EXAMPLES = [
  { name: 'kv-sqlite', dir: example('kv-sqlite') },
  { name: 'json-api', dir: example('json-api') },
  { name: 'deflate', dir: example('deflate') },
];

const text = (s: string) => Buffer.from(s, 'utf8');
const seedValue = (i: number) => `value-${i}-`.padEnd(100, '.');

function expectError(f: Frame, code: string, message?: string | RegExp): void {
  expect(f.op, `expected ERROR ${code}, got op 0x${f.op.toString(16)} ${f.payload.subarray(0, 80).toString()}`).toBe(Op.ERROR);
  const e = parseError(f.payload);
  expect(e.code).toBe(code);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else if (message) expect(e.message).toMatch(message);
}

/** A connection closed when the test ends, passed or failed (a pool slot must not stay taken). */
async function client(server: TestServer): Promise<FrameClient> {
  const c = await FrameClient.connect(server.port);
  onTestFinished(() => c.close());
  return c;
}

function tempStateDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'switchboard-examples-'));
}

/** Sends the first `count` requests of connection `conn` of the mix, one at a time, and judges each answer. */
async function expectMixAnswered(server: TestServer, mix: Mix, conn: number, count: number): Promise<void> {
  const checks = await loadChecks(mix);
  const c = await client(server);
  const wrong: string[] = [];
  const seen = new Set<number>();
  for (const req of sampleRequests(mix, conn, count)) {
    const f = await c.sendRaw(req.frame);
    seen.add(req.kind);
    const why = judge(mix, checks, req, { op: f.op, payload: f.payload });
    if (why !== null) wrong.push(`${describeRequest(mix, req)}: ${why}`);
  }
  expect(wrong).toEqual([]);
  // The sample is large enough to have sent every kind of the mix at least once.
  expect([...seen].sort()).toEqual(mix.kinds.map((_, i) => i));
}

describe('mix.json of each example', () => {
  it.each(EXAMPLES)('$name: valid JSON in the mix format, parsed by bench/mix/parse.ts, its checks exported', async ({ dir }) => {
    const file = path.join(dir, 'mix.json');
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    expect(raw.$schema).toBe('../../bench/mix/mix.schema.json');
    expect(typeof raw.name).toBe('string');
    expect(raw.seed).toBe(1);
    expect(Array.isArray(raw.requests) && raw.requests.length).toBeGreaterThan(0);
    for (const r of raw.requests) {
      expect(Object.keys(r).sort()).toEqual(['expect', 'name', 'op', 'payload', 'weight']);
      expect(parseInt(r.op, 16)).toBeGreaterThanOrEqual(0x20);
    }
    if (raw.checks !== undefined) expect(existsSync(path.resolve(dir, raw.checks))).toBe(true);
    const mix = loadMix(file);
    expect(mix.kinds.length).toBe(raw.requests.length);
    await loadChecks(mix); // throws if an expectation names a check the module lacks
  });
});

describe.each(VARIANTS)('examples/kv-sqlite under $name', (variant) => {
  const { model, flags } = variant;
  let server: TestServer;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = tempStateDir();
    server = await startServer(model, [...flags, '--handler', KV], { SWITCHBOARD_STATE_DIR: stateDir });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('GET, SET, DEL, WHO; bad input is E_BAD_ARGS with the reason', async () => {
    const c = await client(server);
    expect(await c.send(0x20, text('key-7'))).toEqual({ op: 0x20, payload: text(seedValue(7)) });
    expect(await c.send(0x20, text('key-999'))).toEqual({ op: 0x20, payload: text(seedValue(999)) });
    expectError(await c.send(0x20, text('key-1000')), 'E_BAD_ARGS', 'no such key: key-1000');

    expect(await c.send(0x21, text('t-k=first'))).toEqual({ op: 0x21, payload: text('OK') });
    expect(await c.send(0x20, text('t-k'))).toEqual({ op: 0x20, payload: text('first') });
    // Split on the first '=': the value may hold more of them, and any bytes.
    const binary = Buffer.concat([text('a=b=c'), Buffer.from([0, 0xff, 0x3d])]);
    expect((await c.send(0x21, Buffer.concat([text('t-k='), binary]))).payload.toString()).toBe('OK');
    expect(await c.send(0x20, text('t-k'))).toEqual({ op: 0x20, payload: binary });

    expect(await c.send(0x22, text('t-k'))).toEqual({ op: 0x22, payload: text('1') });
    expectError(await c.send(0x20, text('t-k')), 'E_BAD_ARGS', 'no such key: t-k');
    expectError(await c.send(0x22, text('t-k')), 'E_BAD_ARGS', 'no such key: t-k');

    expect((await c.send(0x21, text(`t-big=${'v'.repeat(16 * 1024)}`))).payload.toString()).toBe('OK');
    expectError(await c.send(0x21, text(`t-big=${'v'.repeat(16 * 1024 + 1)}`)), 'E_BAD_ARGS', /^value is 16385 bytes, at most 16384$/);
    expect((await c.send(0x20, text('t-big'))).payload.length).toBe(16 * 1024);
    expectError(await c.send(0x21, text('no-equals-sign')), 'E_BAD_ARGS', /no '=' found/);
    expectError(await c.send(0x21, text('=value')), 'E_BAD_ARGS', 'empty key');
    expectError(await c.send(0x21, text(`${'k'.repeat(257)}=v`)), 'E_BAD_ARGS', /^key is 257 bytes, at most 256$/);
    expect((await c.send(0x21, text(`${'k'.repeat(256)}=v`))).payload.toString()).toBe('OK');
    expectError(await c.send(0x20), 'E_BAD_ARGS', 'empty key');
    expectError(await c.send(0x20, Buffer.from([0xc3, 0x28])), 'E_BAD_ARGS', /not valid UTF-8/);
    expectError(await c.send(0x2e), 'E_UNKNOWN_OP');

    const who = await c.send(0x2f);
    expect(who.op).toBe(0x2f);
    expect(who.payload.toString()).toMatch(/^pid=\d+ thread=\d+$/);
    // The connection stays usable after every error.
    expect(await c.send(0x20, text('key-0'))).toEqual({ op: 0x20, payload: text(seedValue(0)) });
  });

  it('one database for every thread and process: a SET on one connection is read on the others', async () => {
    // As many connections at once as the variant serves at once (thread-pool K=1: two), up to 4:
    // under process-pool and the pools they land on different children and threads.
    const n = Math.min(4, connectionCapacity(variant));
    const clients = await Promise.all(Array.from({ length: n }, () => client(server)));
    for (const [i, c] of clients.entries()) expect((await c.send(0x21, text(`shared-${i}=from-${i}`))).payload.toString()).toBe('OK');
    for (const c of clients) {
      for (let i = 0; i < clients.length; i++) expect((await c.send(0x20, text(`shared-${i}`))).payload.toString()).toBe(`from-${i}`);
    }
  });

  it("answers its mix.json's requests as the mix expects", async () => {
    await expectMixAnswered(server, loadMix(example('kv-sqlite/mix.json')), 0, 60);
  });
});

describe.each(VARIANTS)('examples/json-api under $name', ({ model, flags }) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(model, [...flags, '--handler', JSON_API]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('QUOTE: lines and totals in integer cents, rounded half up', async () => {
    const c = await client(server);
    const req = {
      customer: 'c-12',
      currency: 'EUR',
      items: [
        { sku: 'A-1', qty: 2, unitPrice: 9.5 },
        { sku: 'B-22', qty: 3, unitPrice: 0.35, category: 'reduced', discountPct: 10 },
        { sku: 'C-3', qty: 1, unitPrice: 4, category: 'zero' },
      ],
    };
    const f = await c.send(0x30, text(JSON.stringify(req)));
    expect(f.op).toBe(0x30);
    const res = JSON.parse(f.payload.toString());
    expect(res.customer).toBe('c-12');
    expect(res.currency).toBe('EUR');
    expect(res.lines).toEqual([
      { sku: 'A-1', qty: 2, unitPrice: '9.50', discount: '0.00', net: '19.00', vat: '3.80', gross: '22.80', vatRate: '20%' },
      // 3 × 0.35 = 1.05, 10 % off = 0.105 → 0.11; net 0.94; 5.5 % of it = 0.0517 → 0.05.
      { sku: 'B-22', qty: 3, unitPrice: '0.35', discount: '0.11', net: '0.94', vat: '0.05', gross: '0.99', vatRate: '5.5%' },
      { sku: 'C-3', qty: 1, unitPrice: '4.00', discount: '0.00', net: '4.00', vat: '0.00', gross: '4.00', vatRate: '0%' },
    ]);
    expect(res.totals).toEqual({ net: '23.94', vat: '3.85', gross: '27.79', discount: '0.11' });
    expect(res.lineCount).toBe(3);
    expect(res.itemCount).toBe(6);
    // Deterministic: the same request, the same bytes.
    expect((await c.send(0x30, text(JSON.stringify(req)))).payload.equals(f.payload)).toBe(true);
  });

  it('invalid requests are E_BAD_ARGS naming the field', async () => {
    const c = await client(server);
    const item = { sku: 'A-1', qty: 1, unitPrice: 1 };
    const quote = (over: Record<string, unknown>) => text(JSON.stringify({ customer: 'c-1', currency: 'EUR', items: [item], ...over }));
    const cases: [Buffer, string | RegExp][] = [
      [quote({ items: [item, item, item, { ...item, qty: 0 }] }), 'items[3].qty: expected a positive integer'],
      [quote({ items: [{ ...item, qty: 1.5 }] }), 'items[0].qty: expected a positive integer'],
      [quote({ items: [{ ...item, unitPrice: 1.234 }] }), 'items[0].unitPrice: at most two decimal places'],
      [quote({ items: [{ ...item, unitPrice: '1' }] }), /^items\[0\]\.unitPrice: expected a number/],
      [quote({ items: [{ ...item, sku: 'lower-1' }] }), /^items\[0\]\.sku: /],
      [quote({ items: [{ ...item, category: 'luxury' }] }), /^items\[0\]\.category: expected one of standard, reduced, zero$/],
      [quote({ items: [{ ...item, colour: 'red' }] }), 'items[0].colour: unexpected field'],
      [quote({ items: [] }), 'items: expected an array of 1 to 50 items'],
      [quote({ items: Array.from({ length: 51 }, () => item) }), 'items: expected an array of 1 to 50 items'],
      [quote({ currency: 'XYZ' }), 'currency: expected one of EUR, USD, GBP, CHF'],
      [quote({ customer: '' }), /^customer: /],
      [text('[1, 2]'), 'request: expected a JSON object'],
      [text('{"customer": "c-1", "items": ['), /^bad JSON: /],
    ];
    for (const [payload, message] of cases) expectError(await c.send(0x30, payload), 'E_BAD_ARGS', message);
    expectError(await c.send(0x31, quote({})), 'E_UNKNOWN_OP');
    expect((await c.send(0x30, quote({}))).op).toBe(0x30);
  });

  it("answers its mix.json's requests as the mix expects", async () => {
    await expectMixAnswered(server, loadMix(example('json-api/mix.json')), 1, 200);
  });
});

describe.each(VARIANTS)('examples/deflate under $name', ({ model, flags }) => {
  let server: TestServer;
  beforeAll(async () => {
    // --max-frame above 1 MiB so an oversized payload reaches the handler (at the default 1 MiB
    // the server itself refuses the frame as E_TOO_LARGE).
    server = await startServer(model, [...flags, '--handler', DEFLATE, '--max-frame', String(2 * 1024 * 1024)]);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('COMPRESS answers zlib data that inflates to the request; over 1 MiB is E_BAD_ARGS', async () => {
    const c = await client(server);
    const input = text(Array.from({ length: 4000 }, (_, i) => `line ${i} GET /api/v1/items/${(i * 7919) % 100000} 200\n`).join(''));
    const f = await c.send(0x40, input);
    expect(f.op).toBe(0x40);
    expect(f.payload.length).toBeLessThan(input.length / 3);
    expect(zlib.inflateSync(f.payload).equals(input)).toBe(true);
    expect(f.payload.equals(zlib.deflateSync(input, { level: 9 }))).toBe(true);

    const empty = await c.send(0x40);
    expect(zlib.inflateSync(empty.payload).length).toBe(0);

    const mib = Buffer.alloc(1024 * 1024, 'abc');
    expect(zlib.inflateSync((await c.send(0x40, mib)).payload).equals(mib)).toBe(true);
    expectError(await c.send(0x40, Buffer.alloc(1024 * 1024 + 1, 'abc')), 'E_BAD_ARGS', 'COMPRESS takes at most 1048576 bytes, got 1048577');
    expectError(await c.send(0x41, input), 'E_UNKNOWN_OP');
    expect((await c.send(0x40, text('after the errors'))).op).toBe(0x40);
  });

  it("answers its mix.json's requests as the mix expects", async () => {
    await expectMixAnswered(server, loadMix(example('deflate/mix.json')), 2, 40);
  });
});

// "A SET that was answered survives a kill -9 of the child or thread that served it." WAL with
// synchronous=NORMAL: the commit is in the WAL file (the OS page cache) before the answer is
// sent, so only losing the OS could lose it. A child process can be killed alone; a thread
// cannot, so for the in-process models the whole server is killed and a new one opens the file.
describe.each(DEFAULT_VARIANTS)('examples/kv-sqlite durability under $name', ({ model, flags }) => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = tempStateDir();
  });
  afterAll(() => {
    rmSync(stateDir, { recursive: true, force: true });
  });
  const start = () => startServer(model, [...flags, '--handler', KV], { SWITCHBOARD_STATE_DIR: stateDir });
  const servedBy = async (c: FrameClient) => {
    const m = /^pid=(\d+) thread=(\d+)$/.exec((await c.send(0x2f)).payload.toString());
    expect(m).not.toBeNull();
    return { pid: Number(m![1]), thread: Number(m![2]) };
  };
  const isChildModel = model === 'process' || model === 'process-pool';

  // Plain if/else rather than it.runIf: one test per variant, no skipped twin in the report.
  if (isChildModel) {
    it('an answered SET survives a SIGKILL of the child process that served it', childKilled);
  } else {
    it('an answered SET survives a SIGKILL of the server whose thread served it', serverKilled);
  }

  async function childKilled() {
    const server = await start();
    const c = await client(server);
    expect((await c.send(0x21, text('durable=survives kill -9 of its child'))).payload.toString()).toBe('OK');
    const { pid } = await servedBy(c);
    expect(pid).not.toBe(server.pid);
    if (procAvailable) expect(descendants(server.pid)).toContain(pid);
    process.kill(pid, 'SIGKILL');
    await c.closed; // its connection dies with it
    const d = await client(server);
    expect(await d.send(0x20, text('durable'))).toEqual({ op: 0x20, payload: text('survives kill -9 of its child') });
    expect((await servedBy(d)).pid).not.toBe(pid);
    await d.close();
    const tree = procAvailable ? descendants(server.pid) : [];
    expect(await server.stop()).toBe(0);
    // The server reaped its children: none outlives it.
    expect(tree.filter(isAlive)).toEqual([]);
  }

  async function serverKilled() {
    const first = await start();
    const c = await client(first);
    expect((await c.send(0x21, text('durable=survives kill -9 of the server'))).payload.toString()).toBe('OK');
    expect((await servedBy(c)).pid).toBe(first.pid);
    const tree = procAvailable ? descendants(first.pid) : [];
    expect(await first.kill()).toBe('SIGKILL');
    await c.closed;
    expect(tree.filter(isAlive)).toEqual([]);
    // The WAL was not checkpointed by a clean close: the next opener replays it.
    expect(existsSync(path.join(stateDir, 'kv.sqlite-wal'))).toBe(true);
    const second = await start();
    const d = await client(second);
    expect(await d.send(0x20, text('durable'))).toEqual({ op: 0x20, payload: text('survives kill -9 of the server') });
    await d.close();
    expect(await second.stop()).toBe(0);
  }
});
