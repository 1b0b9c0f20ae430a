#!/usr/bin/env node
// The package's `bin` entry, for a Node that is already >= 24 (npx, npm install -g).
// From a checkout, ./bin/switchboard picks or installs a suitable Node first.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`switchboard needs Node.js >= 24 (this is ${process.version}); from a checkout, run ./bin/switchboard instead.`);
  process.exit(2);
}
// Node's on-disk compile cache before the CLI's modules load: it starts in about half the time warm.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
await import('../src/cli.ts');
