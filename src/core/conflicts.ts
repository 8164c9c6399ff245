import type { CoreContext } from './context.js';
import { CodestratorError, notFound } from './errors.js';
import type { WorktreeRow } from './rows.js';
import { targetBranch } from './target.js';
import { gitStep } from './worktree-create.js';

/** Runs async jobs with at most `limit` in flight (git is CPU-bound; the machine may be small). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}

function activeWorktrees(ctx: CoreContext, ids?: readonly number[]): WorktreeRow[] {
  return ctx.store.read((sql) => {
    if (!ids) return sql.all<WorktreeRow>("SELECT * FROM worktrees WHERE status = 'active' ORDER BY id");
    return ids.map((id, index) => {
      const row = sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [id]);
      if (!row) throw notFound('Worktree', id, `worktree_ids.${index}`);
      if (row.status === 'planned') {
        throw new CodestratorError('PRECONDITION_FAILED', `Worktree ${id} is planned: it has no branch to compare yet.`, {
          field: `worktree_ids.${index}`,
          hint: `Create it on disk first (worktree.create with branch ${JSON.stringify(row.branch)}), or leave it out.`,
        });
      }
      return row;
    });
  });
}

/** Whether a path of one list is a directory holding a path of the other (a file/directory clash). */
function pathsNest(a: readonly string[], b: readonly string[]): boolean {
  const dirsOf = (files: readonly string[]) => {
    const dirs = new Set<string>();
    for (const file of files) for (let i = file.indexOf('/'); i !== -1; i = file.indexOf('/', i + 1)) dirs.add(file.slice(0, i));
    return dirs;
  };
  const aDirs = dirsOf(a);
  const bDirs = dirsOf(b);
  return a.some((file) => bDirs.has(file)) || b.some((file) => aDirs.has(file));
}

/** Paths each active branch changed since it forked from the target. */
export async function changedFilesByBranch(ctx: CoreContext, target: string, rows: readonly WorktreeRow[]): Promise<Map<number, string[]>> {
  const lists = await mapLimit(rows, 2, (row) => gitStep(`diff ${row.branch}`, ctx.git.changedFiles(target, row.branch)));
  return new Map(rows.map((row, index) => [row.id, lists[index]!]));
}

export interface ConflictsInput {
  worktree_ids?: number[];
  target_branch?: string;
}

/**
 * worktree.conflicts: for the active branches, which pairs and which branch-vs-target merges would
 * conflict and on which files (git merge-tree, no checkout touched), plus files changed on both
 * sides of a pair that still merge cleanly.
 */
export async function predictConflicts(ctx: CoreContext, input: ConflictsInput) {
  const target = await targetBranch(ctx, input.target_branch);
  const targetTip = await gitStep(`resolve ${target}`, ctx.git.resolveCommit(target));
  const rows = activeWorktrees(ctx, input.worktree_ids);
  const changed = await changedFilesByBranch(ctx, target, rows);
  const vsTarget = await mapLimit(rows, 2, (row) => gitStep(`predict ${row.branch}`, ctx.git.mergeTree(targetTip, row.branch)));
  const pairs: [WorktreeRow, WorktreeRow][] = [];
  for (let i = 0; i < rows.length; i++) for (let j = i + 1; j < rows.length; j++) pairs.push([rows[i]!, rows[j]!]);
  const pairResults = await mapLimit(pairs, 2, async ([a, b]) => {
    const aFiles = changed.get(a.id) ?? [];
    const bFiles = changed.get(b.id) ?? [];
    const bSet = new Set(bFiles);
    const overlap = aFiles.filter((file) => bSet.has(file)).sort();
    // Branches whose changed paths neither match nor nest (file vs directory) cannot conflict: skip git for them.
    if (overlap.length === 0 && !pathsNest(aFiles, bFiles))
      return { a: a.id, b: b.id, conflict_files: [] as string[], overlapping_clean: [] as string[] };
    const prediction = await gitStep(`predict ${a.branch} with ${b.branch}`, ctx.git.mergeTree(a.branch, b.branch));
    const conflictSet = new Set(prediction.conflicts);
    return { a: a.id, b: b.id, conflict_files: prediction.conflicts, overlapping_clean: overlap.filter((file) => !conflictSet.has(file)) };
  });
  const branchOf = new Map(rows.map((row) => [row.id, row.branch]));
  return {
    target_branch: target,
    target_commit: targetTip,
    branches: rows.map((row, index) => ({
      worktree_id: row.id,
      branch: row.branch,
      changed_files: changed.get(row.id)?.length ?? 0,
      conflicts_with_target: vsTarget[index]!.conflicts,
    })),
    pairs: pairResults
      .filter((pair) => pair.conflict_files.length > 0 || pair.overlapping_clean.length > 0)
      .map((pair) => ({ ...pair, a_branch: branchOf.get(pair.a), b_branch: branchOf.get(pair.b) })),
    checked_pairs: pairs.length,
  };
}
