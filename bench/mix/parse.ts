// Reads a mix file (docs/MIX.md) into a checked Mix. This module is the enforcement of the format
// (mix.schema.json only documents it for editors): a benchmark that quietly ran a typo'd mix
// would measure the wrong traffic, so every rule is checked here, unknown keys included, and the
// first problem is thrown as a MixError naming the file, the JSON path and the reason.
// Pure apart from loadMix's one read: the checks module is not imported here (see expect.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MixError, type Expectation, type Mix, type PayloadSpec, type RequestKind, type TemplatePart } from './types.ts';

/** Largest payload one request may carry (random sizes are checked against it). */
export const MAX_PAYLOAD = 16 * 1024 * 1024;
/** The largest payloads of all kinds together: a guard against a mix that would exhaust memory. */
export const MAX_TOTAL_PAYLOAD = 64 * 1024 * 1024;
/** Largest B in a template's {hex:B}. */
export const MAX_TEMPLATE_HEX = 65536;

// The keys each object may have; exported so the test can hold mix.schema.json to the same list.
export const TOP_KEYS = ['$schema', 'name', 'seed', 'checks', 'requests'] as const;
export const REQUEST_KEYS = ['name', 'op', 'weight', 'payload', 'expect'] as const;
export const PAYLOAD_KEYS = ['utf8', 'hex', 'random', 'template'] as const;
export const EXPECT_KEYS = ['op', 'bytes', 'error', 'check'] as const;

type Fail = (at: string, reason: string) => never;
type Obj = Record<string, unknown>;

/** Reads and parses a mix file; a read failure is a MixError at `(file)` like any other. */
export function loadMix(file: string): Mix {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MixError(file, '(file)', `cannot read the mix: ${(err as Error).message}`);
  }
  return parseMix(text, file);
}

/** Parses mix JSON; `file` names it in errors and anchors `checks` (relative to its directory). */
export function parseMix(text: string, file: string): Mix {
  const fail: Fail = (at, reason) => {
    throw new MixError(file, at, reason);
  };
  const top = object(parseJson(text, fail), '(file)', 'a mix is a JSON object with a "requests" array', fail);
  onlyKeys(top, '', TOP_KEYS, fail);

  const abs = path.resolve(file);
  let name = path.basename(abs, path.extname(abs));
  if (top.name !== undefined) name = nonEmpty(top.name, 'name', fail);
  let seed = 1;
  if (top.seed !== undefined) {
    if (!Number.isSafeInteger(top.seed) || (top.seed as number) < 0) fail('seed', `a seed is a non-negative integer, got ${show(top.seed)}`);
    seed = top.seed as number;
  }
  let checks: string | null = null;
  if (top.checks !== undefined) checks = pathToFileURL(path.resolve(path.dirname(abs), nonEmpty(top.checks, 'checks', fail))).href;

  if (top.requests === undefined) fail('requests', 'required: a non-empty array of request kinds');
  if (!Array.isArray(top.requests)) fail('requests', `must be an array of request kinds, got ${show(top.requests)}`);
  const list = top.requests as unknown[];
  if (list.length === 0) fail('requests', 'must list at least one request kind');

  const kinds: RequestKind[] = [];
  const seen = new Map<string, string>(); // name → path of the kind that has it
  for (let i = 0; i < list.length; i++) {
    const at = `requests[${i}]`;
    const kind = parseKind(list[i], at, checks !== null, fail);
    const other = seen.get(kind.name);
    if (other !== undefined) {
      if ((list[i] as Obj).name === undefined) fail(at, `its default name "${kind.name}" is taken by ${other}: give this kind a "name"`);
      fail(`${at}.name`, `duplicate name "${kind.name}" (${other} has it too): names must be unique`);
    }
    seen.set(kind.name, at);
    kinds.push(kind);
  }
  if (kinds.every((k) => k.weight === 0)) fail('requests', 'every weight is 0: nothing would be sent');
  const total = kinds.reduce((sum, k) => sum + maxPayloadBytes(k.payload), 0);
  if (total > MAX_TOTAL_PAYLOAD) fail('requests', `the largest payloads of all kinds add up to ${total} bytes, over the ${MAX_TOTAL_PAYLOAD}-byte (64 MiB) limit`);
  return { file: abs, name, seed, checks, kinds };
}

function parseKind(v: unknown, at: string, hasChecks: boolean, fail: Fail): RequestKind {
  const o = object(v, at, 'a request kind is an object with op, weight and payload', fail);
  onlyKeys(o, at, REQUEST_KEYS, fail);
  if (o.op === undefined) fail(`${at}.op`, 'required: the request op, 0–254 or "0x00".."0xfe"');
  const op = parseOp(o.op, `${at}.op`, 254, fail);
  const name = o.name === undefined ? `op-${hex2(op)}` : nonEmpty(o.name, `${at}.name`, fail);
  if (o.weight === undefined) fail(`${at}.weight`, 'required: a relative weight ≥ 0');
  if (typeof o.weight !== 'number' || !Number.isFinite(o.weight) || o.weight < 0) fail(`${at}.weight`, `a weight is a finite number ≥ 0, got ${show(o.weight)}`);
  if (o.payload === undefined) fail(`${at}.payload`, 'required: one of {"utf8"}, {"hex"}, {"random"}, {"template"}');
  const payload = parsePayload(o.payload, `${at}.payload`, fail);
  const expect = parseExpect(o.expect, `${at}.expect`, hasChecks, fail);
  return { name, op, weight: o.weight as number, payload, expect };
}

/** An op as an integer or "0x.." string; `max` is 254 for requests (255 is ERROR), 255 for answers. */
function parseOp(v: unknown, at: string, max: number, fail: Fail): number {
  let n = NaN;
  if (typeof v === 'string' && /^0x[0-9a-f]{1,2}$/i.test(v)) n = parseInt(v.slice(2), 16);
  else if (typeof v === 'number' && Number.isInteger(v)) n = v;
  const bad = `an op is an integer 0–${max} or a hex string "0x00".."0x${max.toString(16)}", got ${show(v)}`;
  if (n === 0xff && max === 254) fail(at, 'op 255 (0xff) is ERROR, which only answers carry: a request op is 0–254');
  if (!(n >= 0 && n <= max)) fail(at, bad);
  return n;
}

function parsePayload(v: unknown, at: string, fail: Fail): PayloadSpec {
  const o = object(v, at, 'a payload is an object with one of utf8, hex, random, template', fail);
  onlyKeys(o, at, PAYLOAD_KEYS, fail);
  const key = exactlyOne(o, at, 'utf8, hex, random, template', fail);
  const kat = `${at}.${key}`;
  if (key === 'random') return parseRandom(o.random, kat, fail);
  if (key === 'template') return { kind: 'template', parts: parseTemplate(o.template, kat, fail) };
  return { kind: 'bytes', bytes: literal(o, key, kat, fail) };
}

/** The bytes of {"utf8": text} or {"hex": digits} (`key` says which). */
function literal(o: Obj, key: string, at: string, fail: Fail): Buffer {
  const s = o[key];
  if (typeof s !== 'string') fail(at, `must be a string, got ${show(s)}`);
  if (key === 'utf8') return Buffer.from(s, 'utf8');
  if (s.length % 2 !== 0) fail(at, `hex has two digits per byte, got an odd length ${s.length}`);
  const bad = /[^0-9a-f]/i.exec(s);
  if (bad) fail(at, `not a hex digit at character ${bad.index}: ${JSON.stringify(bad[0])}`);
  return Buffer.from(s, 'hex');
}

function parseRandom(v: unknown, at: string, fail: Fail): PayloadSpec {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { kind: 'random', sizes: [{ bytes: size(v, at, fail), weight: 1 }] };
  const o = v as Obj;
  onlyKeys(o, at, ['min', 'max', 'sizes'], fail);
  if (o.sizes !== undefined) {
    if (o.min !== undefined || o.max !== undefined) fail(at, 'give either "sizes" or "min" and "max", not both');
    const sat = `${at}.sizes`;
    if (!Array.isArray(o.sizes) || o.sizes.length === 0) fail(sat, `must be a non-empty array of {"bytes", "weight"}, got ${show(o.sizes)}`);
    const sizes = (o.sizes as unknown[]).map((e, i) => {
      const eat = `${sat}[${i}]`;
      const s = object(e, eat, 'a size entry is {"bytes": N, "weight": W}', fail);
      onlyKeys(s, eat, ['bytes', 'weight'], fail);
      if (s.bytes === undefined) fail(`${eat}.bytes`, 'required: a size in bytes');
      if (s.weight === undefined) fail(`${eat}.weight`, 'required: a relative weight ≥ 0');
      const bytes = size(s.bytes, `${eat}.bytes`, fail);
      if (typeof s.weight !== 'number' || !Number.isFinite(s.weight) || s.weight < 0) fail(`${eat}.weight`, `a weight is a finite number ≥ 0, got ${show(s.weight)}`);
      return { bytes, weight: s.weight as number };
    });
    if (sizes.every((s) => s.weight === 0)) fail(sat, 'every weight is 0: no size could be drawn');
    return { kind: 'random', sizes };
  }
  if (o.min === undefined) fail(`${at}.min`, 'required (with "max"): the smallest size in bytes');
  if (o.max === undefined) fail(`${at}.max`, 'required (with "min"): the largest size in bytes');
  const min = size(o.min, `${at}.min`, fail);
  const max = size(o.max, `${at}.max`, fail);
  if (min > max) fail(at, `min ${min} is above max ${max}`);
  return { kind: 'random-range', min, max };
}

function size(v: unknown, at: string, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(at, `a size must be a non-negative integer, got ${show(v)}`);
  if (v > MAX_PAYLOAD) fail(at, `a size must be at most ${MAX_PAYLOAD} (16 MiB), got ${v}`);
  return v;
}

const PLACEHOLDERS = '{conn}, {n}, {rand:K}, {hex:B}';

/** Splits a template into text and placeholders; `{{` and `}}` are literal braces. */
export function parseTemplate(v: unknown, at: string, fail: Fail): TemplatePart[] {
  if (typeof v !== 'string') fail(at, `a template is a string, got ${show(v)}`);
  const parts: TemplatePart[] = [];
  let text = '';
  const flush = () => {
    if (text) parts.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '}') {
      if (v[i + 1] !== '}') fail(at, `unbalanced "}" at character ${i}: write "}}" for a literal brace`);
      text += '}';
      i++;
    } else if (c !== '{') {
      text += c;
    } else if (v[i + 1] === '{') {
      text += '{';
      i++;
    } else {
      const end = v.indexOf('}', i);
      const nested = v.indexOf('{', i + 1);
      if (end < 0 || (nested >= 0 && nested < end)) fail(at, `unclosed "{" at character ${i}: write "{{" for a literal brace`);
      flush();
      parts.push(placeholder(v.slice(i + 1, end), at, fail));
      i = end;
    }
  }
  flush();
  return parts;
}

function placeholder(body: string, at: string, fail: Fail): TemplatePart {
  if (body === 'conn') return { kind: 'conn' };
  if (body === 'n') return { kind: 'n' };
  const m = /^(rand|hex):(.*)$/.exec(body);
  if (!m) {
    const hint = body === 'rand' || body === 'hex' ? `{${body}} needs a number: {${body}:${body === 'rand' ? 'K' : 'B'}}` : `unknown placeholder {${body}}`;
    fail(at, `${hint} (known: ${PLACEHOLDERS})`);
  }
  const n = /^\d+$/.test(m[2]!) ? Number(m[2]) : NaN;
  if (m[1] === 'rand') {
    if (!Number.isSafeInteger(n) || n < 1) fail(at, `{${body}}: K must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`);
    return { kind: 'rand', below: n };
  }
  if (!Number.isInteger(n) || n < 1 || n > MAX_TEMPLATE_HEX) fail(at, `{${body}}: B must be an integer from 1 to ${MAX_TEMPLATE_HEX}`);
  return { kind: 'hex', bytes: n };
}

function parseExpect(v: unknown, at: string, hasChecks: boolean, fail: Fail): Expectation {
  if (v === undefined) return { kind: 'none' };
  if (v === 'echo') return { kind: 'echo' };
  if (v === 'same-op') return { kind: 'op', op: null };
  if (typeof v === 'string') fail(at, `unknown expectation ${show(v)}: "echo", "same-op" or an object with op, bytes, error or check`);
  const o = object(v, at, 'an expectation is "echo", "same-op" or an object with op, bytes, error or check', fail);
  onlyKeys(o, at, EXPECT_KEYS, fail);
  const keys = Object.keys(o);
  if (o.bytes !== undefined && keys.length === 2 && o.op !== undefined) {
    // {bytes, op}: the only pair allowed.
  } else if (keys.length !== 1) {
    fail(at, `needs exactly one of op, bytes, error, check (only op may go with bytes), got ${keys.length ? keys.join(' and ') : 'none'}`);
  }
  if (o.bytes !== undefined) {
    const bat = `${at}.bytes`;
    const b = object(o.bytes, bat, 'expected bytes are {"utf8": text} or {"hex": digits}', fail);
    onlyKeys(b, bat, ['utf8', 'hex'], fail);
    const key = exactlyOne(b, bat, 'utf8, hex', fail);
    const bytes = literal(b, key, `${bat}.${key}`, fail);
    return { kind: 'bytes', op: o.op === undefined ? null : parseOp(o.op, `${at}.op`, 255, fail), bytes };
  }
  if (o.op !== undefined) return { kind: 'op', op: parseOp(o.op, `${at}.op`, 255, fail) };
  if (o.error !== undefined) {
    if (typeof o.error !== 'string' || !/^E_[A-Z_]+$/.test(o.error)) fail(`${at}.error`, `an error code looks like E_BAD_ARGS, got ${show(o.error)}`);
    return { kind: 'error', code: o.error };
  }
  const name = nonEmpty(o.check, `${at}.check`, fail);
  if (!hasChecks) fail(`${at}.check`, `check "${name}" needs a "checks" module named at the top level of the mix`);
  return { kind: 'check', name };
}

/** The most bytes a kind's payload can have (templates: a generous bound on the filled text). */
export function maxPayloadBytes(p: PayloadSpec): number {
  switch (p.kind) {
    case 'bytes':
      return p.bytes.length;
    case 'random':
      return Math.max(...p.sizes.map((s) => s.bytes));
    case 'random-range':
      return p.max;
    case 'template':
      return p.parts.reduce((sum, t) => {
        if (t.kind === 'text') return sum + Buffer.byteLength(t.text);
        if (t.kind === 'hex') return sum + 2 * t.bytes;
        if (t.kind === 'rand') return sum + String(t.below - 1).length;
        return sum + 16; // {conn}, {n}: counters far below 10^16
      }, 0);
  }
}

// ---- JSON and small validators ----

function parseJson(text: string, fail: Fail): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors may add a BOM
  try {
    return JSON.parse(body);
  } catch (err) {
    // V8 says "at position N (line L column C)"; add the line and column where it does not.
    let msg = (err as Error).message;
    const pos = /at position (\d+)/.exec(msg);
    if (pos && !/line \d+/.test(msg)) msg += ` (${lineColumn(body, Number(pos[1]))})`;
    else if (!pos && /end of JSON/i.test(msg)) msg += ` (${lineColumn(body, body.length)})`;
    return fail('(file)', `not valid JSON: ${msg}`);
  }
}

function lineColumn(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return `line ${line} column ${pos - before.lastIndexOf('\n')}`;
}

function object(v: unknown, at: string, what: string, fail: Fail): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(at, `${what}, got ${show(v)}`);
  return v as Obj;
}

function nonEmpty(v: unknown, at: string, fail: Fail): string {
  if (typeof v !== 'string' || v === '') fail(at, `must be a non-empty string, got ${show(v)}`);
  return v;
}

function exactlyOne(o: Obj, at: string, choices: string, fail: Fail): string {
  const keys = Object.keys(o);
  if (keys.length !== 1) fail(at, `needs exactly one of ${choices}, got ${keys.length ? keys.join(' and ') : 'none'}`);
  return keys[0]!;
}

/** Unknown keys are errors, with a "did you mean" when one is a near miss (a typo). */
function onlyKeys(o: Obj, at: string, allowed: readonly string[], fail: Fail): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const near = allowed.find((a) => a.toLowerCase() === k.toLowerCase() || editDistance(a, k) <= Math.min(2, Math.floor(a.length / 3)));
    fail(join(at, k), near ? `unknown key (did you mean "${near}"?)` : `unknown key: expected one of ${allowed.join(', ')}`);
  }
}

function join(at: string, key: string): string {
  const seg = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  if (!at) return seg;
  return seg.startsWith('"') ? `${at}[${seg}]` : `${at}.${seg}`;
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: typos are mostly one. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** A value for an error message: short, and never "[object Object]". */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return String(v);
}

export function hex2(op: number): string {
  return `0x${op.toString(16).padStart(2, '0')}`;
}
