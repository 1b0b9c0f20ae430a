// The base build for bench-ci's paired A/B mode: the base commit checked out in a git worktree
// under .toolchain/ci-base/<sha> with its own `npm ci`, so its servers run its own code and its
// own dependencies, next to this checkout's, in the same rounds. Built once per sha and reused.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { git } from '../git.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = path.join(ROOT, '.toolchain/ci-base');

export interface BaseBuild {
  sha: string;
  short: string;
  /** Its src/cli.ts. */
  cli: string;
  dir: string;
}

/** Resolves `rev` to a commit and builds it; throws with the reason when it cannot. */
export function buildBase(rev: string, log: (s: string) => void): BaseBuild {
  const sha = git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  if (!sha) throw new Error(`the base ${rev} is not a commit of this repository (a shallow clone? fetch it)`);
  const short = sha.slice(0, 7);
  const dir = path.join(DIR, sha);
  const stamp = path.join(dir, 'node_modules/.installed');
  if (!existsSync(path.join(dir, 'src/cli.ts'))) {
    mkdirSync(DIR, { recursive: true });
    log(`building the base ${short} in ${path.relative(ROOT, dir)} (git worktree + npm ci) …`);
    // A stale registration (a worktree dir removed by hand) would make `add` refuse.
    try {
      execFileSync('git', ['-C', ROOT, 'worktree', 'prune'], { stdio: 'ignore' });
      execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', '--force', dir, sha], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw new Error(`git worktree add failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim().slice(-300)}`);
    }
  }
  if (!existsSync(stamp)) {
    try {
      // The same Node (and npm) as this run: PATH already starts with the toolchain's bin.
      execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
      writeFileSync(stamp, '');
    } catch (err) {
      throw new Error(`npm ci in the base worktree failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim().slice(-300)}`);
    }
  }
  if (!existsSync(path.join(dir, 'src/cli.ts'))) throw new Error(`the base ${short} has no src/cli.ts`);
  // A base that bundles its worker and child entries gets them built as `make setup` would, so
  // base and head start threads and children the same way (a base without them starts from .ts).
  if (existsSync(path.join(dir, 'scripts/build-entries.ts')) && !existsSync(path.join(dir, '.build/manifest.json'))) {
    try {
      execFileSync(process.execPath, ['scripts/build-entries.ts'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    } catch (err) {
      throw new Error(`building the base's entries failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim().slice(-300)}`);
    }
  }
  return { sha, short, cli: path.join(dir, 'src/cli.ts'), dir };
}
