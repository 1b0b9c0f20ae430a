// The traffic-mix file: parsing (every malformed input names file, path and reason), the request
// generator (deterministic per connection, weights and sizes honoured, templates filled), the
// answer judge, and loading a real checks module.
import { mkdtempSync, readdirSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { encodeFrame } from '../../src/shared/protocol.ts';
import { describeRequest, judge, loadChecks } from '../../bench/mix/expect.ts';
import { EXPECT_KEYS, loadMix, parseMix, PAYLOAD_KEYS, REQUEST_KEYS, TOP_KEYS } from '../../bench/mix/parse.ts';
import { MixSource, sampleRequests, Sfc32 } from '../../bench/mix/source.ts';
import { MixError, type CheckFn, type Mix, type MixAnswer, type MixRequest } from '../../bench/mix/types.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FILE = 'mix.json';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-mix-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const KV = {
  $schema: '../../bench/mix/mix.schema.json',
  name: 'kv 90/10',
  seed: 7,
  checks: './checks.ts',
  requests: [
    { name: 'get', op: '0x20', weight: 90, payload: { template: 'key-{rand:1000}' }, expect: { check: 'getAnswer' } },
    { name: 'set', op: 33, weight: 10, payload: { template: 'key-{rand:1000}={hex:32}' }, expect: { op: '0x21' } },
    { name: 'echo', op: 1, weight: 5, payload: { random: 64 }, expect: 'echo' },
  ],
};

/** A mix with these request kinds (and top-level extras). */
const mixOf = (requests: unknown[], extra: object = {}) => JSON.stringify({ requests, ...extra });
const req = (extra: object = {}) => ({ op: 1, weight: 1, payload: { utf8: 'x' }, ...extra });

/** The MixError a bad mix throws: its message must be `${file}: ${path}: ${reason}`. */
function errorOf(text: string): MixError {
  try {
    parseMix(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(MixError);
    const e = err as MixError;
    expect(e.message).toBe(`${FILE}: ${e.path}: ${e.reason}`);
    return e;
  }
  throw new Error('parsed without error');
}

describe('parseMix: a valid mix', () => {
  it('gives the expected structure', () => {
    const mix = parseMix(JSON.stringify(KV), '/data/kv/mix.json');
    expect(mix).toEqual({
      file: '/data/kv/mix.json',
      name: 'kv 90/10',
      seed: 7,
      checks: pathToFileURL('/data/kv/checks.ts').href,
      kinds: [
        {
          name: 'get',
          op: 0x20,
          weight: 90,
          payload: { kind: 'template', parts: [{ kind: 'text', text: 'key-' }, { kind: 'rand', below: 1000 }] },
          expect: { kind: 'check', name: 'getAnswer' },
        },
        {
          name: 'set',
          op: 0x21,
          weight: 10,
          payload: { kind: 'template', parts: [{ kind: 'text', text: 'key-' }, { kind: 'rand', below: 1000 }, { kind: 'text', text: '=' }, { kind: 'hex', bytes: 32 }] },
          expect: { kind: 'op', op: 0x21 },
        },
        { name: 'echo', op: 1, weight: 5, payload: { kind: 'random', sizes: [{ bytes: 64, weight: 1 }] }, expect: { kind: 'echo' } },
      ],
    });
  });

  it('fills defaults: name from the file, seed 1, no checks, op-0xNN names, expect none', () => {
    const mix = parseMix(mixOf([{ op: 2, weight: 1, payload: { hex: '00ff' } }]), 'some/dir/my-mix.json');
    expect(mix.file).toBe(path.resolve('some/dir/my-mix.json'));
    expect(mix.name).toBe('my-mix');
    expect(mix.seed).toBe(1);
    expect(mix.checks).toBeNull();
    expect(mix.kinds[0]).toEqual({ name: 'op-0x02', op: 2, weight: 1, payload: { kind: 'bytes', bytes: Buffer.from([0, 0xff]) }, expect: { kind: 'none' } });
  });

  it('parses every payload and expectation form', () => {
    const mix = parseMix(
      mixOf([
        req({ name: 'a', payload: { random: { min: 10, max: 20 } }, expect: 'same-op' }),
        req({ name: 'b', payload: { random: { sizes: [{ bytes: 64, weight: 9 }, { bytes: 65536, weight: 1 }] } }, expect: { bytes: { hex: '0a0b' }, op: '0xff' } }),
        req({ name: 'c', payload: { template: '{{literal}} {conn}/{n}' }, expect: { error: 'E_BAD_ARGS' } }),
        req({ name: 'd', expect: { bytes: { utf8: 'hi' } } }),
      ]),
      FILE,
    );
    expect(mix.kinds.map((k) => [k.payload, k.expect])).toEqual([
      [{ kind: 'random-range', min: 10, max: 20 }, { kind: 'op', op: null }],
      [{ kind: 'random', sizes: [{ bytes: 64, weight: 9 }, { bytes: 65536, weight: 1 }] }, { kind: 'bytes', op: 0xff, bytes: Buffer.from([10, 11]) }],
      [{ kind: 'template', parts: [{ kind: 'text', text: '{literal} ' }, { kind: 'conn' }, { kind: 'text', text: '/' }, { kind: 'n' }] }, { kind: 'error', code: 'E_BAD_ARGS' }],
      [{ kind: 'bytes', bytes: Buffer.from('x') }, { kind: 'bytes', op: null, bytes: Buffer.from('hi') }],
    ]);
  });

  it('every example mix under examples/*/mix.json parses (none yet is fine)', () => {
    const dir = path.join(ROOT, 'examples');
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(dir, d.name, 'mix.json'))
      .filter((f) => existsSync(f));
    for (const f of files) {
      const mix = loadMix(f);
      expect(sampleRequests(mix, 0, 20)).toHaveLength(20);
    }
  });

  it('the schema lists the same keys parse.ts accepts', () => {
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'bench/mix/mix.schema.json'), 'utf8'));
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(schema.properties).sort()).toEqual([...TOP_KEYS].sort());
    expect(Object.keys(schema.$defs.request.properties).sort()).toEqual([...REQUEST_KEYS].sort());
    expect(schema.$defs.payload.oneOf.map((s: { required: string[] }) => s.required[0]).sort()).toEqual([...PAYLOAD_KEYS].sort());
    const expectKeys = schema.$defs.expect.oneOf.flatMap((s: { properties?: object }) => Object.keys(s.properties ?? {}));
    expect([...new Set(expectKeys)].sort()).toEqual([...EXPECT_KEYS].sort());
  });
});

describe('parseMix: malformed input names file, path and reason', () => {
  const cases: [string, string, string, RegExp][] = [
    ['bad JSON', '{\n  "requests": [\n    {"op": 1,}\n  ]\n}', '(file)', /not valid JSON.*line 3 column 14/],
    ['truncated JSON', '{"requests": [', '(file)', /not valid JSON.*line 1 column 15/],
    ['not an object', '[1]', '(file)', /a mix is a JSON object/],
    ['missing requests', '{"name": "x"}', 'requests', /^required/],
    ['empty requests', mixOf([]), 'requests', /at least one/],
    ['unknown top-level key', mixOf([req()], { sede: 3 }), 'sede', /unknown key \(did you mean "seed"\?\)/],
    ['unknown request key', mixOf([req(), req({ name: 'b', wieght: 2 })]), 'requests[1].wieght', /did you mean "weight"/],
    ['unknown payload key', mixOf([req({ payload: { text: 'x' } })]), 'requests[0].payload.text', /unknown key: expected one of utf8, hex, random, template/],
    ['negative size', mixOf([req(), req({ name: 'b' }), req({ name: 'c', payload: { random: -5 } })]), 'requests[2].payload.random', /^a size must be a non-negative integer, got -5$/],
    ['size over 16 MiB', mixOf([req({ payload: { random: { min: 0, max: 16777217 } } })]), 'requests[0].payload.random.max', /at most 16777216/],
    ['min above max', mixOf([req({ payload: { random: { min: 9, max: 3 } } })]), 'requests[0].payload.random', /min 9 is above max 3/],
    ['size weights all 0', mixOf([req({ payload: { random: { sizes: [{ bytes: 1, weight: 0 }] } } })]), 'requests[0].payload.random.sizes', /every weight is 0/],
    ['hex odd length', mixOf([req({ payload: { hex: 'abc' } })]), 'requests[0].payload.hex', /odd length 3/],
    ['hex bad digit', mixOf([req({ payload: { hex: '0g' } })]), 'requests[0].payload.hex', /not a hex digit at character 1: "g"/],
    ['two payload keys', mixOf([req({ payload: { utf8: 'a', hex: '00' } })]), 'requests[0].payload', /exactly one of .* got utf8 and hex/],
    ['missing payload', mixOf([{ op: 1, weight: 1 }]), 'requests[0].payload', /^required/],
    ['missing weight', mixOf([{ op: 1, payload: { utf8: '' } }]), 'requests[0].weight', /^required/],
    ['negative weight', mixOf([req({ weight: -1 })]), 'requests[0].weight', /finite number ≥ 0, got -1/],
    ['every weight 0', mixOf([req({ weight: 0 }), req({ name: 'b', weight: 0 })]), 'requests', /^every weight is 0: nothing would be sent$/],
    ['unknown placeholder', mixOf([req({ payload: { template: 'key-{foo}' } })]), 'requests[0].payload.template', /unknown placeholder \{foo\}/],
    ['unbalanced }', mixOf([req({ payload: { template: 'a}b' } })]), 'requests[0].payload.template', /unbalanced "}" at character 1/],
    ['unclosed {', mixOf([req({ payload: { template: 'a{rand:3' } })]), 'requests[0].payload.template', /unclosed "\{" at character 1/],
    ['rand:0', mixOf([req({ payload: { template: '{rand:0}' } })]), 'requests[0].payload.template', /\{rand:0\}: K must be an integer from 1/],
    ['hex:70000', mixOf([req({ payload: { template: '{hex:70000}' } })]), 'requests[0].payload.template', /B must be an integer from 1 to 65536/],
    ['check without checks module', mixOf([req({ expect: { check: 'getAnswer' } })]), 'requests[0].expect.check', /needs a "checks" module/],
    ['duplicate name', mixOf([req({ name: 'get' }), req({ name: 'get' })]), 'requests[1].name', /duplicate name "get" \(requests\[0\] has it too\)/],
    ['duplicate default name', mixOf([req(), req()]), 'requests[1]', /default name "op-0x01" is taken by requests\[0\]/],
    ['op 255', mixOf([req({ op: 255 })]), 'requests[0].op', /op 255 \(0xff\) is ERROR/],
    ['op "0xff"', mixOf([req({ op: '0xff' })]), 'requests[0].op', /op 255 \(0xff\) is ERROR/],
    ['op 300', mixOf([req({ op: 300 })]), 'requests[0].op', /integer 0–254 .* got 300/],
    ['op "20"', mixOf([req({ op: '20' })]), 'requests[0].op', /hex string .* got "20"/],
    ['unknown expectation string', mixOf([req({ expect: 'same' })]), 'requests[0].expect', /unknown expectation "same"/],
    ['two expectations', mixOf([req({ expect: { op: 1, error: 'E_X' } })]), 'requests[0].expect', /exactly one of op, bytes, error, check/],
    ['bad error code', mixOf([req({ expect: { error: 'bad args' } })]), 'requests[0].expect.error', /looks like E_BAD_ARGS/],
    ['negative seed', mixOf([req()], { seed: -1 }), 'seed', /non-negative integer, got -1/],
    ['over 64 MiB in total', mixOf([0, 1, 2, 3, 4].map((i) => req({ name: `k${i}`, payload: { random: 16777216 } }))), 'requests', /83886080 bytes, over the 67108864-byte/],
  ];
  it.each(cases)('%s', (_label, text, at, reason) => {
    const e = errorOf(text);
    expect(e.file).toBe(FILE);
    expect(e.path).toBe(at);
    expect(e.reason).toMatch(reason);
  });

  it('loadMix: an unreadable file is a MixError at (file)', () => {
    const missing = path.join(tmp, 'nope.json');
    expect(() => loadMix(missing)).toThrow(MixError);
    expect(() => loadMix(missing)).toThrow(`${missing}: (file): cannot read the mix: ENOENT`);
  });
});

describe('MixSource', () => {
  const parse = (requests: unknown[], extra: object = {}) => parseMix(mixOf(requests, extra), FILE);

  it('is deterministic per (seed, conn): same conn → identical frames, other conn or seed → different', () => {
    const mix = parseMix(JSON.stringify(KV), FILE);
    const frames = (m: Mix, conn: number) => sampleRequests(m, conn, 200).map((r) => r.frame.toString('hex'));
    expect(frames(mix, 3)).toEqual(frames(mix, 3));
    expect(frames(mix, 3)).not.toEqual(frames(mix, 4));
    expect(frames(mix, 3)).not.toEqual(frames({ ...mix, seed: 8 }, 3));
  });

  it('makes well-formed frames: frame = encodeFrame(op, payload)', () => {
    const mix = parse([req({ name: 'r', payload: { random: { min: 0, max: 9 } } }), req({ name: 'f', op: 2, payload: { hex: 'beef' } }), req({ name: 't', op: 3, payload: { template: 'x{n}' } })]);
    for (const r of sampleRequests(mix, 0, 100)) {
      expect(r.op).toBe(mix.kinds[r.kind]!.op);
      expect(r.frame.equals(encodeFrame(r.op, r.payload))).toBe(true);
    }
  });

  it('draws kinds by weight (10k draws within 2 points of 70/20/10, never a weight-0 kind)', () => {
    const mix = parse([req({ name: 'a', weight: 70 }), req({ name: 'b', weight: 20 }), req({ name: 'zero', weight: 0 }), req({ name: 'c', weight: 10 })]);
    const counts = [0, 0, 0, 0];
    for (const r of sampleRequests(mix, 1, 10_000)) counts[r.kind]!++;
    expect(counts[2]).toBe(0);
    expect(Math.abs(counts[0]! / 100 - 70)).toBeLessThan(2);
    expect(Math.abs(counts[1]! / 100 - 20)).toBeLessThan(2);
    expect(Math.abs(counts[3]! / 100 - 10)).toBeLessThan(2);
  });

  it('draws sizes from a distribution and a range', () => {
    const mix = parse([
      req({ name: 'dist', payload: { random: { sizes: [{ bytes: 64, weight: 9 }, { bytes: 1000, weight: 1 }] } } }),
      req({ name: 'range', payload: { random: { min: 5, max: 8 } } }),
    ]);
    const sizes = new Map<string, number>();
    for (const r of sampleRequests(mix, 0, 10_000)) {
      const key = `${mix.kinds[r.kind]!.name}:${r.payload.length}`;
      sizes.set(key, (sizes.get(key) ?? 0) + 1);
    }
    expect([...sizes.keys()].sort()).toEqual(['dist:1000', 'dist:64', 'range:5', 'range:6', 'range:7', 'range:8']);
    const dist = sizes.get('dist:64')! + sizes.get('dist:1000')!;
    expect(Math.abs(sizes.get('dist:64')! / dist - 0.9)).toBeLessThan(0.03);
  });

  // What keeps a 64 KiB payload cheap, asserted as structure rather than timed (timings belong in
  // bench/): one PRNG step per four bytes, and the frame written in place in one buffer, no copy.
  it('random payloads look random, take one PRNG step per 4 bytes and are framed in place', () => {
    const mix = parse([req({ payload: { random: 65536 } })]);
    const source = new MixSource(mix, 0);
    const first = source.next();
    const byteCounts = new Array(256).fill(0);
    for (const b of first.payload) byteCounts[b]++;
    expect(Math.min(...byteCounts)).toBeGreaterThan(150); // 256 expected per value
    expect(source.next().payload.equals(first.payload)).toBe(false);

    const steps = vi.spyOn(Sfc32.prototype, 'u32');
    try {
      const r = source.next();
      expect(steps).toHaveBeenCalledTimes(1 + 65536 / 4); // one step picks the kind
      expect(r.payload.length).toBe(65536);
      // The payload is a view of the frame's own memory: header and bytes in one allocation.
      expect(r.payload.buffer).toBe(r.frame.buffer);
      expect(r.frame.buffer.byteLength).toBeLessThanOrEqual(8 + 65536);
    } finally {
      steps.mockRestore();
    }
  });

  it('fills templates: {conn}, {n} counted per kind from 0, {rand:K} below K, {hex:B} 2B digits, braces', () => {
    const mix = parse([
      req({ name: 'a', payload: { template: 'a{conn}:{n}' } }),
      req({ name: 'b', payload: { template: '{{b}}{n}-{rand:10}-{hex:3}' } }),
    ]);
    const seen: Record<string, string[]> = { a: [], b: [] };
    for (const r of sampleRequests(mix, 5, 40)) seen[mix.kinds[r.kind]!.name]!.push(r.payload.toString());
    expect(seen.a!.length).toBeGreaterThan(5);
    expect(seen.b!.length).toBeGreaterThan(5);
    expect(seen.a).toEqual(seen.a!.map((_, i) => `a5:${i}`));
    seen.b!.forEach((s, i) => expect(s).toMatch(new RegExp(`^\\{b\\}${i}-[0-9]-[0-9a-f]{6}$`)));
  });

  it('fixed bytes payloads are the given bytes', () => {
    const mix = parse([req({ payload: { utf8: 'héllo' } })]);
    const [r] = sampleRequests(mix, 0, 1);
    expect(r!.payload.toString()).toBe('héllo');
  });
});

describe('judge', () => {
  const mix = parseMix(
    mixOf(
      [
        req({ name: 'none' }),
        req({ name: 'echo', expect: 'echo' }),
        req({ name: 'same', op: 0x20, expect: 'same-op' }),
        req({ name: 'op', op: 0x21, expect: { op: '0x21' } }),
        req({ name: 'bytes', expect: { bytes: { utf8: 'ok' }, op: 2 } }),
        req({ name: 'err', expect: { error: 'E_BAD_ARGS' } }),
        req({ name: 'chk', expect: { check: 'c' } }),
      ],
      { checks: './c.ts' },
    ),
    FILE,
  );
  const request = (name: string, payload = Buffer.from('hello')): MixRequest => {
    const kind = mix.kinds.findIndex((k) => k.name === name);
    const op = mix.kinds[kind]!.op;
    return { kind, op, payload, frame: encodeFrame(op, payload) };
  };
  const error = (text: string) => ({ op: 0xff, payload: Buffer.from(text) });
  const noChecks = {};

  it('none: anything goes', () => {
    expect(judge(mix, noChecks, request('none'), error('E_INTERNAL boom'))).toBeNull();
  });

  it('echo: same op and bytes, else where they differ', () => {
    const p = Buffer.alloc(64, 0x41);
    expect(judge(mix, noChecks, request('echo', p), { op: 1, payload: Buffer.from(p) })).toBeNull();
    const q = Buffer.from(p);
    q[17] = 0x42;
    expect(judge(mix, noChecks, request('echo', p), { op: 1, payload: q })).toBe('payload differs at byte 17 (expected 0x41, got 0x42); 64 bytes expected, 64 got');
    expect(judge(mix, noChecks, request('echo', p), { op: 1, payload: p.subarray(0, 10) })).toBe('payload differs at byte 10 (expected 0x41, got the end); 64 bytes expected, 10 got');
    expect(judge(mix, noChecks, request('echo', p), { op: 2, payload: p })).toBe('expected op 0x01, got op 0x02 (64 bytes)');
  });

  it('op / same-op: the op, any payload; an ERROR answer shows its code and message', () => {
    expect(judge(mix, noChecks, request('same'), { op: 0x20, payload: Buffer.from('whatever') })).toBeNull();
    expect(judge(mix, noChecks, request('op'), { op: 0x21, payload: Buffer.alloc(0) })).toBeNull();
    expect(judge(mix, noChecks, request('op'), error('E_BAD_ARGS no such key'))).toBe('expected op 0x21, got ERROR E_BAD_ARGS no such key');
  });

  it('bytes: exactly these bytes with this op', () => {
    expect(judge(mix, noChecks, request('bytes'), { op: 2, payload: Buffer.from('ok') })).toBeNull();
    expect(judge(mix, noChecks, request('bytes'), { op: 1, payload: Buffer.from('ok') })).toBe('expected op 0x02, got op 0x01 (2 bytes)');
    expect(judge(mix, noChecks, request('bytes'), { op: 2, payload: Buffer.from('ko') })).toBe('payload differs at byte 0 (expected 0x6f, got 0x6b); 2 bytes expected, 2 got');
  });

  it('error: an ERROR frame with the code', () => {
    expect(judge(mix, noChecks, request('err'), error('E_BAD_ARGS nope'))).toBeNull();
    expect(judge(mix, noChecks, request('err'), error('E_UNKNOWN_OP op 0x01'))).toBe('expected ERROR E_BAD_ARGS, got ERROR E_UNKNOWN_OP op 0x01');
    expect(judge(mix, noChecks, request('err'), { op: 1, payload: Buffer.from('hi') })).toBe('expected ERROR E_BAD_ARGS, got op 0x01 (2 bytes)');
  });

  it('check: true passes, a string is the reason, false and throws are reported', () => {
    const answer: MixAnswer = { op: 1, payload: Buffer.from('HELLO') };
    const seen: unknown[] = [];
    const run = (c: CheckFn) => judge(mix, { c }, request('chk'), answer);
    expect(run((r, a) => (seen.push(r, a), true))).toBeNull();
    expect(seen).toEqual([{ op: 1, payload: Buffer.from('hello'), kind: 'chk' }, answer]);
    expect(run(() => 'not upper-cased')).toBe('not upper-cased');
    expect(run(() => false)).toBe('check c said no');
    expect(
      run(() => {
        throw new Error('bad answer shape');
      }),
    ).toBe('bad answer shape');
    expect(run((() => undefined) as never)).toBe('check c returned undefined, not true or a reason string');
  });

  it('describeRequest: kind, op, length, first 48 bytes as text or hex', () => {
    expect(describeRequest(mix, request('op', Buffer.from('key-42')))).toBe('op op 0x21, 6 bytes: "key-42"');
    expect(describeRequest(mix, request('echo', Buffer.from([0, 1, 0xff])))).toBe('echo op 0x01, 3 bytes: 0001ff');
    expect(describeRequest(mix, request('echo', Buffer.alloc(0)))).toBe('echo op 0x01, 0 bytes');
    const long = describeRequest(mix, request('echo', Buffer.from(`x${'é'.repeat(40)}`))); // byte 48 is mid-character
    expect(long).toBe(`echo op 0x01, 81 bytes: "x${'é'.repeat(23)}"…`);
    expect(describeRequest(mix, request('echo', Buffer.alloc(100, 7)))).toBe(`echo op 0x01, 100 bytes: ${'07'.repeat(48)}…`);
  });
});

describe('loadChecks', () => {
  const mixWith = (checksFile: string, names: string[]) => {
    const file = path.join(tmp, 'mix.json');
    return parseMix(mixOf(names.map((c, i) => req({ name: `k${i}`, expect: { check: c } })), { checks: `./${checksFile}` }), file);
  };

  it('imports a real checks module (TypeScript) and returns the named functions', async () => {
    writeFileSync(
      path.join(tmp, 'checks.ts'),
      `export function upper(req: { payload: Buffer }, ans: { payload: Buffer }): boolean | string {
         return ans.payload.toString() === req.payload.toString().toUpperCase() || 'not upper-cased';
       }
       export const notAFunction = 3;\n`,
    );
    const mix = mixWith('checks.ts', ['upper']);
    const checks = await loadChecks(mix);
    expect(Object.keys(checks)).toEqual(['upper']);
    const r: MixRequest = { kind: 0, op: 1, payload: Buffer.from('abc'), frame: encodeFrame(1, Buffer.from('abc')) };
    expect(judge(mix, checks, r, { op: 1, payload: Buffer.from('ABC') })).toBeNull();
    expect(judge(mix, checks, r, { op: 1, payload: Buffer.from('abc') })).toBe('not upper-cased');
  });

  it('a name the module does not export is a MixError at the expectation', async () => {
    writeFileSync(path.join(tmp, 'few.mjs'), 'export function upper() { return true; }\nexport const three = 3;\n');
    await expect(loadChecks(mixWith('few.mjs', ['upper', 'lower']))).rejects.toMatchObject({
      name: 'MixError',
      path: 'requests[1].expect.check',
      reason: expect.stringMatching(/few\.mjs has no exported function "lower": its functions are upper$/),
    });
    await expect(loadChecks(mixWith('few.mjs', ['three']))).rejects.toMatchObject({ path: 'requests[0].expect.check', reason: expect.stringMatching(/\(it is a number\)/) });
  });

  it('a module that does not load is a MixError at checks', async () => {
    writeFileSync(path.join(tmp, 'broken.mjs'), 'throw new Error("checks exploded");\n');
    await expect(loadChecks(mixWith('broken.mjs', ['x']))).rejects.toMatchObject({ path: 'checks', reason: expect.stringMatching(/cannot load .*broken\.mjs: checks exploded/) });
    await expect(loadChecks(mixWith('absent.mjs', ['x']))).rejects.toMatchObject({ path: 'checks', reason: expect.stringMatching(/cannot load .*absent\.mjs/) });
  });
});
