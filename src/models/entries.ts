// Which file a worker thread or child starts from: the bundled entry (.build/<name>.mjs, one
// module plus lazily loaded chunks, written by scripts/build-entries.ts) when it is fresh, else
// the .ts source; and the same for the built-in handler they import. Every thread and child otherwise resolves, type-strips and instantiates ~10
// modules one by one: held A/B on this VM, churn c=8, bundled vs source, 12 pairs each: thread
// +12.3% connections/s (p=6.8e-6), process +5.8% (p=1.6e-5) (docs/PERFORMANCE.md).
//
// A stale bundle would run old code, so a bundle is used only if every source file it was built
// from still has the hash the manifest recorded; that is checked once per process (≈ 12 small
// files), never per thread. SWITCHBOARD_ENTRIES=source forces the source entries (readable stack
// traces while debugging a worker); a missing or stale bundle falls back to them by itself.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUILTIN_HANDLER } from '../shared/handler.ts';

/**
 * What is bundled, by name: the worker and child entries, and the built-in handler, which every
 * thread and child imports by URL as it would a user's handler. From its three .ts files it cost
 * each thread ≈ 1.7–2.1 ms to resolve, strip and link, bundled ≈ 0.45 ms (wall time of the import
 * in a fresh worker, 3 each, 2026-12-04): a thread-per-connection model pays that per connection.
 */
export const ENTRY_SOURCES = {
  'thread.worker': 'src/models/thread.worker.ts',
  'thread-pool.worker': 'src/models/thread-pool.worker.ts',
  'offload.worker': 'src/models/offload.worker.ts',
  'process.child': 'src/models/process.child.ts',
  'builtin-handler': 'src/shared/builtin-handler.ts',
} as const;
export type EntryName = keyof typeof ENTRY_SOURCES;
export const ENTRY_NAMES = Object.keys(ENTRY_SOURCES) as EntryName[];

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BUILD_DIR = path.join(ROOT, '.build');
export const MANIFEST = path.join(BUILD_DIR, 'manifest.json');
export const MANIFEST_SCHEMA = 1;

/** What scripts/build-entries.ts records: per entry, its file and the hash of every source in it. */
export interface EntriesManifest {
  schema: number;
  /** Per entry: its bundled file (relative to the build directory) and its inputs (relative to the root) → sha1. */
  entries: Record<string, { file: string; inputs: Record<string, string> }>;
}

export const sha1 = (data: Buffer | string): string => createHash('sha1').update(data).digest('hex');

/** Whether the bundle may be used, and if not, why (one line for the start-up log). */
export type BundleState = { fresh: true } | { fresh: false; reason: string };

/**
 * Pure check of a manifest against the files as they are now (`read` returns a file's bytes,
 * or null when it is gone). Fresh only if it lists every entry and no input changed.
 */
export function checkManifest(manifest: unknown, read: (rel: string) => Buffer | null): BundleState {
  const m = manifest as EntriesManifest | null;
  if (!m || m.schema !== MANIFEST_SCHEMA || typeof m.entries !== 'object') return { fresh: false, reason: 'no bundle built (make setup builds it)' };
  const hashes = new Map<string, string | null>();
  for (const name of ENTRY_NAMES) {
    const entry = m.entries[name];
    if (!entry) return { fresh: false, reason: `the bundle has no ${name} entry` };
    for (const [rel, want] of Object.entries(entry.inputs)) {
      if (!hashes.has(rel)) {
        const bytes = read(rel);
        hashes.set(rel, bytes === null ? null : sha1(bytes));
      }
      const now = hashes.get(rel);
      if (now !== want) return { fresh: false, reason: `${rel} ${now === null ? 'is gone' : 'changed'} since the bundle was built (make setup rebuilds it)` };
    }
    if (read(path.join(path.relative(ROOT, BUILD_DIR), entry.file)) === null) return { fresh: false, reason: `${entry.file} is missing` };
  }
  return { fresh: true };
}

/** A file's bytes by its path relative to the repository root, or null when it is gone. */
export function readFromRoot(rel: string): Buffer | null {
  try {
    return readFileSync(path.join(ROOT, rel));
  } catch {
    return null;
  }
}

let state: BundleState | undefined;

/** The bundle's state for this process, checked once. */
export function bundleState(): BundleState {
  if (state) return state;
  if (process.env.SWITCHBOARD_ENTRIES === 'source') return (state = { fresh: false, reason: 'SWITCHBOARD_ENTRIES=source' });
  let manifest: unknown = null;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    /* none built */
  }
  return (state = checkManifest(manifest, readFromRoot));
}

/** The path a thread or child of `name` starts from (or, for the built-in handler, imports). */
export function entryFile(name: EntryName): string {
  return bundleState().fresh ? path.join(BUILD_DIR, `${name}.mjs`) : path.join(ROOT, ENTRY_SOURCES[name]);
}

/** The URL threads and children import a handler from: the built-in handler's bundle when fresh; any other handler as given. */
export function handlerModuleUrl(url: string): string {
  return url === BUILTIN_HANDLER ? pathToFileURL(entryFile('builtin-handler')).href : url;
}
