// Bundles each worker and child entry and the built-in handler (src/models/entries.ts,
// ENTRY_SOURCES) into .build/<name>.mjs
// with rolldown, and writes .build/manifest.json with the hash of every source file in each
// bundle, so a process uses a bundle only while it matches the sources (entries.ts checks).
// Node built-ins and packages (piscina, pino) stay imports, resolved from the repository's
// node_modules; dynamic imports (process.child's logger) stay lazy chunks, loaded when used.
//
// Run by `make setup` (so by make test and make bench) whenever a source file changed. Without
// rolldown (an install without dev dependencies) it says so and exits 0: the models then start
// from the .ts sources, as they did before bundles.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUILD_DIR, ENTRY_NAMES, ENTRY_SOURCES, MANIFEST, MANIFEST_SCHEMA, ROOT, sha1, type EntriesManifest } from '../src/models/entries.ts';

let rolldown: typeof import('rolldown').rolldown;
try {
  ({ rolldown } = await import('rolldown'));
} catch {
  console.log('build-entries: rolldown is not installed (no dev dependencies?): threads and children start from the .ts sources');
  process.exit(0);
}

const t0 = performance.now();
rmSync(BUILD_DIR, { recursive: true, force: true });
mkdirSync(BUILD_DIR, { recursive: true });
const manifest: EntriesManifest = { schema: MANIFEST_SCHEMA, entries: {} };
for (const name of ENTRY_NAMES) {
  const bundle = await rolldown({
    input: path.join(ROOT, ENTRY_SOURCES[name]),
    platform: 'node',
    // Bare specifiers and node: built-ins are resolved at run time, as in the sources.
    external: [/^node:/, /^[a-z@]/],
    logLevel: 'warn',
  });
  const out = await bundle.write({ dir: BUILD_DIR, format: 'esm', entryFileNames: '[name].mjs', chunkFileNames: `${name}.[name]-[hash].mjs` });
  await bundle.close();
  const inputs: Record<string, string> = {};
  for (const chunk of out.output) {
    if (chunk.type !== 'chunk') continue;
    for (const id of Object.keys(chunk.modules)) {
      if (id.startsWith('\0')) continue; // the bundler's own runtime helpers
      const rel = path.relative(ROOT, id);
      inputs[rel] = sha1(readFileSync(id));
    }
  }
  manifest.entries[name] = { file: `${name}.mjs`, inputs };
}
writeFileSync(MANIFEST, JSON.stringify(manifest, null, 2) + '\n');
const files = Object.values(manifest.entries).reduce((n, e) => n + Object.keys(e.inputs).length, 0);
console.log(`build-entries: ${ENTRY_NAMES.length} entries bundled into ${path.relative(ROOT, BUILD_DIR)}/ (${files} source files) in ${Math.round(performance.now() - t0)} ms`);
