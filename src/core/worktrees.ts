import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { checkOwnership, ownerKeyOf } from './identity.js';
import type { Sql } from './ports.js';
import { type PageRequest, cursorId, pageLimit, toPage } from './paging.js';
import type { WorktreeRow } from './rows.js';
import { discardWorktree, gitStep } from './worktree-create.js';
import { targetBranch } from './target.js';

export function getWorktree(sql: Sql, id: number, field = 'worktree_id'): WorktreeRow {
  const row = sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [id]);
  if (!row) throw notFound('Worktree', id, field);
  return row;
}

/** An agent acts only on its own session's worktrees unless forced (recorded); a person at the CLI (no identity) on any. */
export function checkWorktreeOwner(
  sql: Sql,
  ctx: CoreContext,
  row: WorktreeRow,
  method: string,
  input: { force?: boolean; reason?: string },
): void {
  if (row.owner_session_id === null || ownerKeyOf(ctx.actor) === undefined || ctx.actor.sessionId === row.owner_session_id) return;
  checkOwnership(sql, ctx.actor, {
    method,
    ownerKey: `session:${row.owner_session_id}`,
    target: `worktree ${row.id}`,
    force: input.force,
    reason: input.reason,
    now: ctx.now(),
  });
}

/** Branch names from callers are data: git must accept them, and none may look like an option. */
export async function checkBranchName(ctx: CoreContext, branch: string, field = 'branch'): Promise<void> {
  if (branch.startsWith('-') || !(await ctx.git.isValidBranchName(branch))) {
    throw invalid(
      `${JSON.stringify(branch)} is not a valid branch name.`,
      field,
      'git refuses it (no spaces, control characters, ~ ^ : ? * [ \\, "..", or a leading "-").',
    );
  }
}

/** Activates a reserved worktree for its owner in one transaction, or removes it if that fails. */
export async function activate(ctx: CoreContext, row: WorktreeRow, owner: { sessionId: number | null; threadId: number | null }) {
  try {
    return ctx.store.write((sql) => {
      sql.run("UPDATE worktrees SET status = 'active', owner_session_id = ?, owner_thread_id = ?, updated_at = ? WHERE id = ?", [
        owner.sessionId,
        owner.threadId,
        ctx.now(),
        row.id,
      ]);
      return getWorktree(sql, row.id);
    });
  } catch (err) {
    await discardWorktree(ctx, row);
    throw err;
  }
}

export interface ListWorktreesInput extends PageRequest {
  owner_session?: number;
  kind?: 'session_root' | 'task';
  state?: 'planned' | 'active' | 'merged' | 'removed';
  live?: boolean;
}

/** worktree.list, with live facts from disk and git: exists, dirty paths, ahead/behind its parent branch. */
export async function listWorktrees(ctx: CoreContext, input: ListWorktreesInput) {
  const page = ctx.store.read((sql) => {
    const limit = pageLimit(input);
    const where = ['id > ?', "status != 'creating'"];
    const params: (string | number)[] = [cursorId(input)];
    if (input.owner_session !== undefined) {
      where.push('owner_session_id = ?');
      params.push(input.owner_session);
    }
    if (input.kind) {
      where.push('kind = ?');
      params.push(input.kind);
    }
    if (input.state) {
      where.push('status = ?');
      params.push(input.state);
    } else {
      where.push("status != 'removed'");
    }
    const rows = sql.all<WorktreeRow>(`SELECT * FROM worktrees WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, [...params, limit + 1]);
    const parents = new Map(
      rows.map((row) => [
        row.id,
        row.parent_worktree_id ? sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [row.parent_worktree_id]) : undefined,
      ]),
    );
    return { page: toPage(rows, limit, (row) => row), parents };
  });
  if (input.live === false) return page.page;
  const target = await targetBranch(ctx).catch(() => null);
  const items = await Promise.all(
    page.page.items.map(async (row) => {
      // A planned worktree has no branch and no directory of its own yet (its path may hold someone else's files).
      if (row.status === 'planned') {
        return { ...row, exists: false, dirty: false, dirty_paths: [], dirty_count: 0, compared_to: null, ahead: null, behind: null };
      }
      const exists = row.status !== 'removed' && ctx.files.exists(row.path);
      const base = page.parents.get(row.id)?.branch ?? target;
      const dirty = exists ? await ctx.git.dirtyPaths(row.path).catch(() => []) : [];
      const counts = base ? await ctx.git.aheadBehind(base, row.branch).catch(() => null) : null;
      return {
        ...row,
        exists,
        dirty: dirty.length > 0,
        dirty_paths: dirty.slice(0, 20),
        dirty_count: dirty.length,
        compared_to: base,
        ahead: counts?.ahead ?? null,
        behind: counts?.behind ?? null,
      };
    }),
  );
  return { ...page.page, items };
}

/** worktree.remove: removes a worktree and its branch; refuses uncommitted or unmerged work unless forced. */
export async function removeWorktree(ctx: CoreContext, input: { worktree_id: number; force?: boolean; reason?: string }) {
  const row = ctx.store.write((sql) => {
    const row = getWorktree(sql, input.worktree_id);
    checkWorktreeOwner(sql, ctx, row, 'worktree.remove', input);
    return row;
  });
  if (row.status === 'removed') return { worktree: row, already_removed: true };
  // Nothing of a planned worktree is on disk: its path and branch name may be someone else's by now.
  if (row.status !== 'planned') await removeFromDisk(ctx, row, input.force === true);
  const removed = ctx.store.write((sql) => {
    sql.run("UPDATE worktrees SET status = 'removed', removed_at = ?, updated_at = ? WHERE id = ?", [ctx.now(), ctx.now(), row.id]);
    return getWorktree(sql, row.id);
  });
  return { worktree: removed, already_removed: false };
}

async function removeFromDisk(ctx: CoreContext, row: WorktreeRow, force: boolean): Promise<void> {
  if (!force) {
    const dirty = ctx.files.exists(row.path) ? await gitStep('read the worktree status', ctx.git.dirtyPaths(row.path)) : [];
    if (dirty.length > 0) {
      throw new CodestratorError('PRECONDITION_FAILED', `Worktree ${row.id} has uncommitted changes: ${dirty.slice(0, 10).join(', ')}.`, {
        data: { dirty_paths: dirty },
        hint: 'Commit or discard them, or pass force: true with a reason.',
      });
    }
    const base = await targetBranch(ctx);
    const counts = await gitStep('compare branches', ctx.git.aheadBehind(base, row.branch));
    if (counts.ahead > 0 && !(await ctx.git.patchesApplied(base, row.branch))) {
      throw new CodestratorError('PRECONDITION_FAILED', `Branch ${row.branch} has ${counts.ahead} commits not in ${base}.`, {
        hint: 'Merge it first (worktree.merge_to_parent or merge.main.request), or pass force: true with a reason.',
      });
    }
  }
  await gitStep('remove the worktree', ctx.git.removeWorktree(row.path));
  await gitStep('delete the branch', ctx.git.deleteBranch(row.branch));
}

// Callers that spawn worktrees for child threads import it from here (see worktree-spawn.ts).
export { spawnWorktree } from './worktree-spawn.js';
