// No import cycle in bench/: the schema (bench/results.ts) and the report's parts depend on
// nothing that depends back on them. Static `import … from` and `export … from` lines, type-only
// ones included (a type cycle is a design cycle too); only relative imports inside bench/.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const BENCH = fileURLToPath(new URL('../../bench/', import.meta.url));
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]/gm;

function importGraph(root: string): Map<string, string[]> {
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|mjs)$/.test(f)).map((f) => path.join(root, f));
  return new Map(files.map((f) => [f, [...readFileSync(f, 'utf8').matchAll(IMPORT)].map((m) => path.resolve(path.dirname(f), m[1]!)).filter((t) => t.startsWith(root))]));
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') found.push([...stack.slice(stack.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

it('bench/ has no import cycle', () => {
  const graph = importGraph(BENCH);
  expect(graph.size).toBeGreaterThan(10);
  expect(cycles(graph).map((c) => c.map((f) => path.relative(BENCH, f)).join(' → '))).toEqual([]);
});

it('finds a cycle when there is one', () => {
  expect(cycles(new Map([['a', ['b']], ['b', ['a']], ['c', []]]))).toEqual([['a', 'b', 'a']]);
});
