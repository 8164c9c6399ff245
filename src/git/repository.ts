import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { CommandError, runGit } from './run-git.js';
import { installWorktreeHooks } from './hooks.js';
import {
  type CommitInfo,
  type DiffResult,
  aheadBehind,
  changedFiles,
  checkedOutBranches,
  commitsBetween,
  diff,
  dirtyPaths,
  isAncestor,
  patchesApplied,
} from './inspect.js';
import { type CheckoutRepair, finishCheckout } from './checkout-repair.js';
import { type MergePrediction, advanceCheckout, commitAll, commitTree, mergeTree, updateBranch } from './merge.js';

/** Where a repository's main worktree and common git dir are, seen from any of its worktrees. */
export interface RepositoryLocation {
  mainRoot: string;
  commonDir: string;
}

/**
 * Finds the main worktree of the repository containing `cwd`, through `git rev-parse
 * --git-common-dir`, so a linked worktree resolves to the same place as the main checkout.
 * Returns undefined outside a git repository.
 */
export async function locateRepository(cwd: string): Promise<RepositoryLocation | undefined> {
  const result = await runGit(cwd, ['rev-parse', '--path-format=absolute', '--git-common-dir'], { allowFailure: true });
  if (result.exitCode !== 0) return undefined;
  const commonDir = result.stdout.trim();
  const absolute = isAbsolute(commonDir) ? commonDir : resolve(cwd, commonDir);
  // A non-bare repository keeps its common dir at <main root>/.git.
  if (basename(absolute) !== '.git') {
    throw new Error(`The repository at ${absolute} is bare or uses a separate git dir; codestrator needs a main worktree.`);
  }
  return { mainRoot: dirname(absolute), commonDir: absolute };
}

/** git operations bound to one repository's main worktree. Satisfies the domain's GitPort. */
export class GitRepository {
  constructor(
    readonly mainRoot: string,
    private readonly hooks?: { argv: readonly string[]; dir: string },
  ) {}

  installHooks = async (worktreePath: string): Promise<void> => {
    if (this.hooks) await installWorktreeHooks(this.mainRoot, worktreePath, this.hooks.argv, this.hooks.dir);
  };

  async mainBranch(): Promise<string> {
    const head = await runGit(this.mainRoot, ['symbolic-ref', '--quiet', '--short', 'HEAD'], { allowFailure: true });
    if (head.exitCode === 0 && head.stdout.trim()) return head.stdout.trim();
    const origin = await runGit(this.mainRoot, ['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'], {
      allowFailure: true,
    });
    if (origin.exitCode === 0 && origin.stdout.trim()) return origin.stdout.trim().replace(/^origin\//, '');
    for (const candidate of ['main', 'master']) {
      const ref = await runGit(this.mainRoot, ['show-ref', '--verify', '--quiet', `refs/heads/${candidate}`], {
        allowFailure: true,
      });
      if (ref.exitCode === 0) return candidate;
    }
    throw new CommandError('git', ['symbolic-ref', 'HEAD'], 1, 'the main checkout has a detached HEAD and no main or master branch');
  }

  async resolveCommit(ref: string): Promise<string> {
    const result = await runGit(this.mainRoot, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
    return result.stdout.trim();
  }

  async listBranches(prefix: string): Promise<Set<string>> {
    const result = await runGit(this.mainRoot, ['for-each-ref', '--format=%(refname:short)', `refs/heads/${prefix}`]);
    return new Set(result.stdout.split('\n').filter(Boolean));
  }

  async addWorktree(options: { path: string; branch: string; base: string }): Promise<void> {
    await runGit(this.mainRoot, ['worktree', 'add', '--quiet', '-b', options.branch, '--', options.path, options.base]);
  }

  async removeWorktree(path: string): Promise<void> {
    if (existsSync(path)) {
      await runGit(this.mainRoot, ['worktree', 'remove', '--force', '--force', '--', path], { allowFailure: true });
    }
    await runGit(this.mainRoot, ['worktree', 'prune'], { allowFailure: true });
  }

  async deleteBranch(branch: string): Promise<void> {
    await runGit(this.mainRoot, ['branch', '-D', '--', branch], { allowFailure: true });
  }

  /** A worktree on no branch at `commit` (for gate runs); removed with removeWorktree. */
  async addDetachedWorktree(path: string, commit: string): Promise<void> {
    await runGit(this.mainRoot, ['worktree', 'add', '--quiet', '--detach', '--', path, commit]);
  }

  /** Whether git accepts the name as a branch (`git check-ref-format --branch`). */
  async isValidBranchName(name: string): Promise<boolean> {
    return (await runGit(this.mainRoot, ['check-ref-format', '--branch', name], { allowFailure: true })).exitCode === 0;
  }

  mergeTree = (ours: string, theirs: string): Promise<MergePrediction> => mergeTree(this.mainRoot, ours, theirs);
  commitTree = (options: { tree: string; parents: readonly string[]; message: string }): Promise<string> =>
    commitTree(this.mainRoot, options);
  updateBranch = (branch: string, next: string, expected: string, reason: string): Promise<boolean> =>
    updateBranch(this.mainRoot, branch, next, expected, reason);
  advanceCheckout = (worktreePath: string, from: string, to: string): Promise<boolean> => advanceCheckout(worktreePath, from, to);
  finishCheckout = (worktreePath: string, from: string, to: string): Promise<CheckoutRepair> => finishCheckout(worktreePath, from, to);
  commitAll = (worktreePath: string, message: string): Promise<string> => commitAll(worktreePath, message);
  dirtyPaths = (worktreePath: string, options?: { untracked?: boolean }): Promise<string[]> => dirtyPaths(worktreePath, options);
  changedFiles = (base: string, head: string): Promise<string[]> => changedFiles(this.mainRoot, base, head);
  aheadBehind = (base: string, head: string): Promise<{ ahead: number; behind: number }> => aheadBehind(this.mainRoot, base, head);
  isAncestor = (ancestor: string, descendant: string): Promise<boolean> => isAncestor(this.mainRoot, ancestor, descendant);
  patchesApplied = (base: string, head: string): Promise<boolean> => patchesApplied(this.mainRoot, base, head);
  checkedOutBranches = (): Promise<Map<string, string>> => checkedOutBranches(this.mainRoot);
  diff = (base: string, head: string, maxBytes: number): Promise<DiffResult> => diff(this.mainRoot, base, head, maxBytes);
  commitsBetween = (base: string, head: string, limit?: number): Promise<CommitInfo[]> => commitsBetween(this.mainRoot, base, head, limit);
}

/** `.git/info/exclude` of the repository, where the state dir is listed so it never shows as untracked. */
export const excludeFile = (location: RepositoryLocation): string => join(location.commonDir, 'info', 'exclude');
