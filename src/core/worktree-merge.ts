import { repairInterruptedPublishes } from './checkout-journal.js';
import type { CoreContext } from './context.js';
import { CodestratorError } from './errors.js';
import { checkpoint } from './holders.js';
import { ownerKeyOf } from './identity.js';
import { committerKey, describeConflict, lockConflicts, sessionOwnerKeys } from './lock-check.js';
import { LockNames, withNamedLock } from './named-locks.js';
import { publishBranch } from './publish.js';
import type { WorktreeRow } from './rows.js';
import { gitStep } from './worktree-create.js';
import { checkWorktreeOwner, getWorktree } from './worktrees.js';

export interface MergeToParentInput {
  worktree_id: number;
  /** Commit the child's uncommitted changes first (otherwise they block the merge). */
  commit_changes?: boolean;
  message?: string;
  force?: boolean;
  reason?: string;
}

const MAX_ATTEMPTS = 5;

function loadPair(ctx: CoreContext, input: MergeToParentInput): { child: WorktreeRow; parent: WorktreeRow } {
  return ctx.store.write((sql) => {
    const child = getWorktree(sql, input.worktree_id);
    if (child.parent_worktree_id === null) {
      throw new CodestratorError(
        'PRECONDITION_FAILED',
        `Worktree ${child.id} has no parent worktree; a session root reaches main through merge.main.request.`,
        {
          field: 'worktree_id',
        },
      );
    }
    if (child.status !== 'active') {
      throw new CodestratorError('PRECONDITION_FAILED', `Worktree ${child.id} is ${child.status}.`, { field: 'worktree_id' });
    }
    checkWorktreeOwner(sql, ctx, child, 'worktree.merge_to_parent', input);
    return { child, parent: getWorktree(sql, child.parent_worktree_id, 'worktree_id') };
  });
}

/**
 * worktree.merge_to_parent: merges a child worktree's branch into its parent's, computed with
 * merge-tree and published by compare-and-swap, so a conflict touches neither checkout (no
 * MERGE_HEAD, no markers). Merges into one parent are serialised by a named lock across processes.
 */
export async function mergeToParent(ctx: CoreContext, input: MergeToParentInput) {
  const { child, parent } = loadPair(ctx, input);
  const holder = ownerKeyOf(ctx.actor) ?? `process:${process.pid}`;
  return withNamedLock(ctx, LockNames.parentWorktree(parent.id), holder, { ttlSeconds: 300, waitMs: 60_000 }, async () => {
    await repairInterruptedPublishes(ctx);
    const dirty = await gitStep(`read the status of ${child.path}`, ctx.git.dirtyPaths(child.path));
    let committed: string | null = null;
    if (dirty.length > 0) {
      if (!input.commit_changes) {
        throw new CodestratorError(
          'PRECONDITION_FAILED',
          `Worktree ${child.id} has uncommitted changes: ${dirty.slice(0, 20).join(', ')}.`,
          {
            field: 'commit_changes',
            hint: 'Commit them, or pass commit_changes: true to commit them with the merge.',
            data: { dirty_paths: dirty },
          },
        );
      }
      // The commit the pre-commit hook would check, checked the same way (it runs without hooks).
      refuseLocked(ctx, child, dirty, 'commit');
      committed = await gitStep(
        'commit the child changes',
        ctx.git.commitAll(child.path, input.message ?? `codestrator: work in ${child.branch}`),
      );
      checkpoint(ctx, 'merge-to-parent.after-commit');
    }
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const parentTip = await gitStep(`resolve ${parent.branch}`, ctx.git.resolveCommit(parent.branch));
      const childTip = await gitStep(`resolve ${child.branch}`, ctx.git.resolveCommit(child.branch));
      if (await ctx.git.isAncestor(childTip, parentTip))
        return finish(ctx, child, parent, { merge_commit: parentTip, result: 'already_merged', committed });
      // What reaches the parent branch passes the queue's rule too (commits made with --no-verify).
      refuseLocked(ctx, child, await gitStep('list changed files', ctx.git.changedFiles(parentTip, childTip)), 'merge');
      const prediction = await gitStep('predict the merge', ctx.git.mergeTree(parentTip, childTip));
      if (!prediction.clean) {
        throw new CodestratorError(
          'CONFLICT',
          `Merging ${child.branch} into ${parent.branch} conflicts in ${prediction.conflicts.join(', ')}; nothing was changed.`,
          {
            field: 'worktree_id',
            hint: 'Rebase or edit the child branch to resolve these paths, then merge again.',
            data: { conflicting_paths: prediction.conflicts },
          },
        );
      }
      const merge = await gitStep(
        'create the merge commit',
        ctx.git.commitTree({
          tree: prediction.tree,
          parents: [parentTip, childTip],
          message: `Merge ${child.branch} into ${parent.branch}`,
        }),
      );
      const outcome = await publishBranch(ctx, {
        branch: parent.branch,
        from: parentTip,
        to: merge,
        reason: `codestrator: merge ${child.branch}`,
      });
      if (outcome.ok) return finish(ctx, child, parent, { merge_commit: merge, result: 'merged', committed });
      if (outcome.why === 'moved') continue;
      throw new CodestratorError(
        'PRECONDITION_FAILED',
        `The parent checkout ${outcome.checkout} has uncommitted changes (${outcome.paths.slice(0, 10).join(', ')}); nothing was merged.`,
        {
          hint: 'Commit or stash them in the parent worktree, then merge again.',
          data: { dirty_paths: outcome.paths },
        },
      );
    }
    throw new CodestratorError('CONFLICT', `${parent.branch} kept moving during the merge; try again.`, { field: 'worktree_id' });
  });
}

/**
 * Refuses (LOCKED, nothing changed) when a path is locked by another owner (lock-check.ts):
 * for the commit, owners other than the committer, as the pre-commit hook checks; for the
 * merge, owners outside the child's session, as the merge queue checks.
 */
function refuseLocked(ctx: CoreContext, child: WorktreeRow, paths: string[], step: 'commit' | 'merge'): void {
  if (paths.length === 0) return;
  const conflicts = ctx.store.read((sql) => {
    const own =
      step === 'commit'
        ? new Set([committerKey(sql, ctx, child.path)].filter((key): key is string => key !== undefined))
        : new Set([...sessionOwnerKeys(sql, child.owner_session_id), ...[ownerKeyOf(ctx.actor)].filter((key) => key !== undefined)]);
    return lockConflicts(sql, ctx, paths, own);
  });
  if (conflicts.length === 0) return;
  const what = step === 'commit' ? 'the uncommitted changes of' : 'the commits of';
  throw new CodestratorError(
    'LOCKED',
    `${what} worktree ${child.id} touch locked paths: ${conflicts.slice(0, 5).map(describeConflict).join('; ')}; nothing was ${step === 'commit' ? 'committed' : 'merged'}.`,
    {
      field: 'worktree_id',
      hint: 'Ask the holder through inbox.send or wait for the lease to end, then merge again.',
      data: { conflicts },
    },
  );
}

function finish(
  ctx: CoreContext,
  child: WorktreeRow,
  parent: WorktreeRow,
  result: { merge_commit: string; result: string; committed: string | null },
) {
  const merged = ctx.store.write((sql) => {
    sql.run("UPDATE worktrees SET status = 'merged', updated_at = ? WHERE id = ?", [ctx.now(), child.id]);
    return getWorktree(sql, child.id);
  });
  return { ...result, child_worktree: merged, parent_worktree: parent };
}
