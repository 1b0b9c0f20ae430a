// A traffic mix (`--mix FILE`): the request kinds a user's handler gets, their weights, how each
// payload is made and what a correct answer is. Parsed and checked by parse.ts (mix.schema.json
// is the same contract for editors); requests made by source.ts; answers judged by expect.ts.
// Pure data: nothing here opens a socket or loads a handler.

/** How a request's payload is made. Random bytes come from the connection's seeded PRNG. */
export type PayloadSpec =
  | { kind: 'bytes'; bytes: Buffer }
  /** Random bytes; the size drawn from `sizes` by weight (a fixed size is one entry). */
  | { kind: 'random'; sizes: { bytes: number; weight: number }[] }
  /** Random bytes, size uniform in [min, max]. */
  | { kind: 'random-range'; min: number; max: number }
  /** UTF-8 text with placeholders filled per request: see TemplatePart. */
  | { kind: 'template'; parts: TemplatePart[] };

export type TemplatePart =
  | { kind: 'text'; text: string }
  /** {conn}: the connection's index (0, 1, …) in the run. */
  | { kind: 'conn' }
  /** {n}: this connection's request counter for the kind (0, 1, …). */
  | { kind: 'n' }
  /** {rand:K}: an integer uniform in [0, K). */
  | { kind: 'rand'; below: number }
  /** {hex:B}: B random bytes as lower-case hex (2B characters). */
  | { kind: 'hex'; bytes: number };

/** What a correct answer to a request is. */
export type Expectation =
  /** No expectation of its own: only the cross-model check applies. */
  | { kind: 'none' }
  /** The same op and payload back. */
  | { kind: 'echo' }
  /** This op (the request's own when null); any payload. */
  | { kind: 'op'; op: number | null }
  /** Exactly these bytes, with this op (the request's own when null). */
  | { kind: 'bytes'; op: number | null; bytes: Buffer }
  /** An ERROR frame whose code is this (e.g. E_BAD_ARGS). */
  | { kind: 'error'; code: string }
  /** A function exported under this name by the mix's `checks` module. */
  | { kind: 'check'; name: string };

export interface RequestKind {
  /** Unique in the mix; the report's per-op rows use it. */
  name: string;
  /** Request op byte, 0–254 (255 is ERROR). */
  op: number;
  /** Relative weight, ≥ 0 (at least one kind > 0). */
  weight: number;
  payload: PayloadSpec;
  expect: Expectation;
}

export interface Mix {
  /** Absolute path of the file it came from. */
  file: string;
  name: string;
  /** Seed of every connection's PRNG (default 1): the same mix makes the same requests. */
  seed: number;
  /** Absolute file: URL of the checks module, or null. */
  checks: string | null;
  kinds: RequestKind[];
}

/** One request as made by a MixSource. */
export interface MixRequest {
  /** Index into mix.kinds. */
  kind: number;
  op: number;
  payload: Buffer;
  /** The whole frame, ready to write. */
  frame: Buffer;
}

/** A response as a check sees it. */
export interface MixAnswer {
  op: number;
  payload: Buffer;
}

/**
 * A named check: true when the answer is correct, else a string saying why (or false).
 * `request` is the request as sent; `kind` its kind's name.
 */
export type CheckFn = (request: { op: number; payload: Buffer; kind: string }, answer: MixAnswer) => boolean | string;

/** A mix file that cannot be used: exit 2 with `${file}: ${path}: ${reason}`. */
export class MixError extends Error {
  readonly file: string;
  /** JSON path inside the file, e.g. `requests[2].payload.random`, or `(file)` for the whole. */
  readonly path: string;
  readonly reason: string;
  constructor(file: string, path: string, reason: string) {
    super(`${file}: ${path}: ${reason}`);
    this.name = 'MixError';
    this.file = file;
    this.path = path;
    this.reason = reason;
  }
}
