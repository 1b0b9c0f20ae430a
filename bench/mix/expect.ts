// Judges answers against a kind's expectation. Reasons are short and concrete (what was expected,
// what came, where bytes first differ) because they end up as a run's first-error line, the one
// thing a user reads to find out why their handler "failed". The checks module is loaded here
// rather than in parse.ts because import() is async and runs user code.
import { fileURLToPath } from 'node:url';
import { Op, parseError } from '../../src/shared/protocol.ts';
import { hex2 } from './parse.ts';
import { MixError, type CheckFn, type Mix, type MixAnswer, type MixRequest } from './types.ts';

/**
 * Imports the mix's checks module and returns the functions its expectations name. Fails up front
 * (MixError at the expectation's path) rather than on the first answer, when a run is under way.
 */
export async function loadChecks(mix: Mix): Promise<Record<string, CheckFn>> {
  const used = mix.kinds.flatMap((k, i) => (k.expect.kind === 'check' ? [{ name: k.expect.name, at: `requests[${i}].expect.check` }] : []));
  if (mix.checks === null) {
    if (used.length) throw new MixError(mix.file, used[0]!.at, `check "${used[0]!.name}" needs a "checks" module named at the top level of the mix`);
    return {};
  }
  const where = fileURLToPath(mix.checks);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(mix.checks)) as Record<string, unknown>;
  } catch (err) {
    throw new MixError(mix.file, 'checks', `cannot load ${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const checks: Record<string, CheckFn> = {};
  for (const { name, at } of used) {
    const fn = mod[name];
    if (typeof fn !== 'function') {
      const exported = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
      const has = exported.length ? `its functions are ${exported.join(', ')}` : 'it exports no functions';
      throw new MixError(mix.file, at, `${where} has no exported function "${name}"${fn === undefined ? '' : ` (it is a ${typeof fn})`}: ${has}`);
    }
    checks[name] = fn as CheckFn;
  }
  return checks;
}

/** null when `answer` is a correct answer to `req`, else a short reason. */
export function judge(mix: Mix, checks: Record<string, CheckFn>, req: MixRequest, answer: MixAnswer): string | null {
  const kind = mix.kinds[req.kind]!;
  const e = kind.expect;
  switch (e.kind) {
    case 'none':
      return null;
    case 'echo':
      return opDiffers(req.op, answer) ?? bytesDiffer(req.payload, answer.payload);
    case 'op':
      return opDiffers(e.op ?? req.op, answer);
    case 'bytes':
      return opDiffers(e.op ?? req.op, answer) ?? bytesDiffer(e.bytes, answer.payload);
    case 'error': {
      if (answer.op !== Op.ERROR) return `expected ERROR ${e.code}, got ${describeAnswer(answer)}`;
      return parseError(answer.payload).code === e.code ? null : `expected ERROR ${e.code}, got ${describeAnswer(answer)}`;
    }
    case 'check': {
      const fn = checks[e.name];
      if (!fn) return `check ${e.name} is not loaded (call loadChecks first)`;
      let verdict: unknown;
      try {
        verdict = fn({ op: req.op, payload: req.payload, kind: kind.name }, answer);
      } catch (err) {
        return err instanceof Error ? err.message || `check ${e.name} threw` : String(err);
      }
      if (verdict === true) return null;
      if (verdict === false || verdict === '') return `check ${e.name} said no`;
      if (typeof verdict === 'string') return verdict;
      // Most likely a missing return, or an async check: say so rather than pass or fail silently.
      return `check ${e.name} returned ${verdict instanceof Promise ? 'a promise' : String(verdict)}, not true or a reason string`;
    }
  }
}

function opDiffers(expected: number, answer: MixAnswer): string | null {
  return answer.op === expected ? null : `expected op ${hex2(expected)}, got ${describeAnswer(answer)}`;
}

/** `ERROR E_BAD_ARGS no such key` for an error, else `op 0x21 (12 bytes)`. */
function describeAnswer(a: MixAnswer): string {
  if (a.op !== Op.ERROR) return `op ${hex2(a.op)} (${a.payload.length} bytes)`;
  const { code, message } = parseError(a.payload);
  const text = `ERROR ${code}${message ? ` ${message}` : ''}`;
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

function bytesDiffer(expected: Buffer, got: Buffer): string | null {
  if (expected.equals(got)) return null;
  let i = 0;
  const common = Math.min(expected.length, got.length);
  while (i < common && expected[i] === got[i]) i++;
  const byte = (b: Buffer) => (i < b.length ? hex2(b[i]!) : 'the end');
  return `payload differs at byte ${i} (expected ${byte(expected)}, got ${byte(got)}); ${expected.length} bytes expected, ${got.length} got`;
}

const PREVIEW_BYTES = 48;

/** A request for an error message: `get op 0x20, 7 bytes: "key-123"` (hex when not printable text). */
export function describeRequest(mix: Mix, req: MixRequest): string {
  const name = mix.kinds[req.kind]?.name ?? `kind ${req.kind}`;
  const head = `${name} op ${hex2(req.op)}, ${req.payload.length} bytes`;
  if (req.payload.length === 0) return head;
  const cut = req.payload.subarray(0, PREVIEW_BYTES);
  const more = req.payload.length > PREVIEW_BYTES ? '…' : '';
  const text = printable(cut, req.payload.length > PREVIEW_BYTES);
  return text === null ? `${head}: ${cut.toString('hex')}${more}` : `${head}: ${JSON.stringify(text)}${more}`;
}

/** The bytes as text when they are valid UTF-8 without control characters (tab and newlines aside), else null. */
function printable(bytes: Buffer, truncated: boolean): string | null {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // A cut may split a multi-byte character: drop up to 3 trailing bytes before giving up.
  for (let drop = 0; drop <= (truncated ? 3 : 0); drop++) {
    try {
      const text = decoder.decode(bytes.subarray(0, bytes.length - drop));
      return /[\p{Cc}]/u.test(text.replace(/[\t\n\r]/g, '')) ? null : text; // control bytes: show hex
    } catch {
      // not valid UTF-8 at this length
    }
  }
  return null;
}
