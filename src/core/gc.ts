import { isAbsolute, join, relative, resolve } from 'node:path';
import type { CoreContext } from './context.js';
import { CodestratorError, invalid } from './errors.js';
import { type GcFacts, collectFacts } from './gc-facts.js';
import { recoverGates } from './recovery.js';
import { targetBranch } from './target.js';
import { gitStep } from './worktree-create.js';

/**
 * Garbage collection of codestrator's worktrees: collectFacts (gc-facts.ts) reads the database and git,
 * planGc decides from those facts alone (pure, unit-tested with plain objects), applyGc
 * removes what the plan lists after checking each one again.
 */

export type GcRemoveReason = 'merged' | 'identical patch' | 'abandoned' | 'stale reservation';

export interface GcItem {
  worktree_id: number;
  path: string;
  branch: string;
  reason: string;
}

export interface GcRemoval extends GcItem {
  reason: GcRemoveReason;
  /** Log files that go with it (planned), or that were deleted (applied). */
  logs: string[];
}

export interface GcPlan {
  remove: GcRemoval[];
  keep: GcItem[];
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The one rule: keep anything that could hold work or be in use; remove only what is in the target or was never used. */
function decide(f: GcFacts, target: string): { remove: GcRemoveReason } | { keep: string } {
  // Only a row: gc never touches its path or branch name (they may be someone else's); worktree.remove drops it.
  if (f.status === 'planned')
    return { keep: 'planned: nothing on disk yet (worktree.create with its branch creates it, worktree.remove drops it)' };
  if (f.foreign) return { keep: f.foreign };
  if (f.dirtyPaths.length > 0) {
    return { keep: `dirty: ${plural(f.dirtyPaths.length, 'changed file')}, e.g. ${f.dirtyPaths.slice(0, 3).join(', ')}` };
  }
  if (f.heldBy) return { keep: `held by ${f.heldBy}` };
  if (f.activeCase) return { keep: `${f.activeCase} is in progress` };
  if (f.openQueueItem) return { keep: `in the merge queue (${f.openQueueItem})` };
  if (f.unmergedChildren.length > 0) return { keep: `child worktrees not merged yet: ${f.unmergedChildren.join(', ')}` };
  if (f.checkedOutElsewhere) return { keep: `checked out in ${f.checkedOutElsewhere}` };
  // A checkout on another branch or a detached HEAD may hold commits that deleting our branch would not show.
  if (f.exists && !f.ownCheckout) return { keep: `its checkout is not on ${f.branch} (another branch or a detached HEAD)` };
  // No branch and no directory: only the row is left.
  if (!f.branchExists) return { remove: f.status === 'creating' ? 'stale reservation' : 'abandoned' };
  if (f.merged === null) return { keep: `unmerged: ${plural(f.ahead, 'commit')} not in ${target}` };
  if (f.status === 'creating') return { remove: 'stale reservation' };
  if (f.untouched && f.merged === 'ancestor') return { remove: 'abandoned' };
  return { remove: f.merged === 'ancestor' ? 'merged' : 'identical patch' };
}

/** Decides, without I/O, which worktrees gc removes and why each other one is kept. */
export function planGc(facts: readonly GcFacts[], target: string): GcPlan {
  const plan: GcPlan = { remove: [], keep: [] };
  for (const f of facts) {
    const item = { worktree_id: f.worktreeId, path: f.path, branch: f.branch };
    const decision = decide(f, target);
    if ('remove' in decision) plan.remove.push({ ...item, reason: decision.remove, logs: f.logs });
    else plan.keep.push({ ...item, reason: decision.keep });
  }
  return plan;
}

/**
 * Deletes a removed worktree's log files: the gate logs its plan lists and any `worktree-<id>…`
 * file, only regular files inside the logs directory. Returns the deleted paths.
 */
function deleteLogs(ctx: CoreContext, item: { worktree_id: number; logs: readonly string[] }): string[] {
  const dir = ctx.workspace.logsDir;
  // worktree-1 must not match worktree-12's logs.
  const own = new RegExp(`^worktree-${item.worktree_id}(?![0-9])`);
  const candidates = [
    ...item.logs,
    ...ctx.files
      .listDir(dir)
      .filter((name) => own.test(name))
      .map((name) => join(dir, name)),
  ];
  return [...new Set(candidates.map((candidate) => resolve(dir, candidate)))].filter((path) => {
    const rel = relative(dir, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && ctx.files.removeFile(path);
  });
}

/**
 * Removes what the plan lists. Each worktree is checked again just before (an agent may have
 * started working there since the plan was made); one that no longer qualifies moves to keep.
 * The directory is removed first, then the branch and the log files, then the row is marked removed.
 */
export async function applyGc(ctx: CoreContext, plan: GcPlan, target: string): Promise<GcPlan> {
  const done: GcPlan = { remove: [], keep: [...plan.keep] };
  for (const planned of plan.remove) {
    const [fresh] = await collectFacts(ctx, target, { ids: [planned.worktree_id] });
    if (!fresh) continue; // removed by someone else meanwhile
    const again = planGc([fresh], target);
    const item = again.remove[0];
    if (!item) {
      done.keep.push(...again.keep);
      continue;
    }
    ctx.progress?.(`removing ${item.path}`);
    await gitStep(`remove the worktree ${item.path}`, ctx.git.removeWorktree(item.path));
    if (ctx.files.exists(item.path)) {
      done.keep.push({ worktree_id: item.worktree_id, path: item.path, branch: item.branch, reason: `git could not remove ${item.path}` });
      continue;
    }
    if (fresh.branchExists) await gitStep(`delete the branch ${item.branch}`, ctx.git.deleteBranch(item.branch));
    const now = ctx.now();
    ctx.store.write((sql) =>
      sql.run("UPDATE worktrees SET status = 'removed', removed_at = ?, updated_at = ? WHERE id = ? AND status != 'removed'", [
        now,
        now,
        item.worktree_id,
      ]),
    );
    done.remove.push({ ...item, logs: deleteLogs(ctx, item) });
  }
  done.keep.sort((a, b) => a.worktree_id - b.worktree_id);
  return done;
}

export interface GcInput {
  apply?: boolean;
  target_branch?: string;
}

/** worktree.gc: the plan (dry run, the default) or its result; `logs_dir` is where the listed logs live. */
export async function runGc(ctx: CoreContext, input: GcInput) {
  const target = await targetBranch(ctx, input.target_branch);
  if (target.startsWith('-') || !(await gitStep('check the target branch name', ctx.git.isValidBranchName(target)))) {
    throw invalid(`${JSON.stringify(target)} is not a valid branch name.`, 'target_branch', 'Name an existing local branch.');
  }
  try {
    await ctx.git.resolveCommit(target);
  } catch (err) {
    throw new CodestratorError('NOT_FOUND', `Target branch ${target} does not exist.`, {
      field: 'target_branch',
      hint: 'Pass target_branch naming an existing branch, or fix target_branch in .codestrator/config.json.',
      cause: err,
    });
  }
  // Gate runs dead processors left (their temporary worktrees) are shown, and removed with apply, first.
  const interrupted = await recoverGates(ctx, { apply: input.apply === true });
  const plan = planGc(await collectFacts(ctx, target), target);
  const result = input.apply ? await applyGc(ctx, plan, target) : plan;
  return {
    dry_run: !input.apply,
    interrupted,
    target_branch: target,
    remove: result.remove,
    keep: result.keep,
    removed_count: input.apply ? result.remove.length : 0,
    logs_dir: ctx.workspace.logsDir,
  };
}

export type GcResult = Awaited<ReturnType<typeof runGc>>;
