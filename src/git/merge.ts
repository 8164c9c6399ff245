import { runGit } from './run-git.js';

/** Internal commits never run the user's hooks (they are ours, not the user's). */
const NO_HOOKS = ['-c', 'core.hooksPath=/dev/null'];

export interface MergePrediction {
  clean: boolean;
  /** The merged tree (with conflict markers when not clean). */
  tree: string;
  /** Paths with conflicts, sorted. */
  conflicts: string[];
}

/**
 * Merges `theirs` into `ours` in memory (`git merge-tree --write-tree`): no checkout, index or
 * ref is touched, so a prediction can run while agents work.
 */
export async function mergeTree(root: string, ours: string, theirs: string): Promise<MergePrediction> {
  const result = await runGit(
    root,
    ['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', '--end-of-options', ours, theirs],
    {
      allowFailure: true,
    },
  );
  // Exit 0: clean; 1: conflicts; anything else is an error (unrelated histories, bad ref).
  if (result.exitCode !== 0 && result.exitCode !== 1) {
    throw new Error(`git merge-tree ${ours} ${theirs} failed: ${result.stderr.trim()}`);
  }
  const [tree = '', ...paths] = result.stdout.split('\0').filter(Boolean);
  return { clean: result.exitCode === 0, tree, conflicts: [...new Set(paths)].sort() };
}

export async function commitTree(root: string, options: { tree: string; parents: readonly string[]; message: string }): Promise<string> {
  const args = [...NO_HOOKS, 'commit-tree', options.tree, ...options.parents.flatMap((parent) => ['-p', parent]), '-m', options.message];
  return (await runGit(root, args)).stdout.trim();
}

/**
 * Moves `refs/heads/<branch>` to `next` only if it still points at `expected`: a compare-and-swap
 * that git performs under its ref lock. Returns false when the branch moved meanwhile.
 */
export async function updateBranch(root: string, branch: string, next: string, expected: string, reason: string): Promise<boolean> {
  const result = await runGit(root, ['update-ref', '-m', reason, `refs/heads/${branch}`, next, expected], { allowFailure: true });
  return result.exitCode === 0;
}

/**
 * Brings a clean checkout whose branch just moved from `from` to `to` up to date: a two-tree
 * `read-tree -m -u`, which refuses (and changes nothing) if local edits would be overwritten.
 */
export async function advanceCheckout(worktreePath: string, from: string, to: string): Promise<boolean> {
  const result = await runGit(worktreePath, ['read-tree', '-m', '-u', from, to], { allowFailure: true });
  return result.exitCode === 0;
}

/** Stages everything in a checkout and commits it; returns the new commit. */
export async function commitAll(worktreePath: string, message: string): Promise<string> {
  await runGit(worktreePath, ['add', '-A']);
  await runGit(worktreePath, [...NO_HOOKS, 'commit', '-q', '--no-verify', '-m', message]);
  return (await runGit(worktreePath, ['rev-parse', 'HEAD'])).stdout.trim();
}
