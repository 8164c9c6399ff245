import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { checkOwnership, ownerKeyOf } from './identity.js';
import type { Sql } from './ports.js';
import { type PageRequest, cursorId, pageLimit, toPage } from './paging.js';
import type { WorktreeRow } from './rows.js';
import { deriveSlug } from './slug.js';
import { getTask } from './tasks.js';
import { createWorktree, discardWorktree, gitStep } from './worktree-create.js';
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
async function activate(ctx: CoreContext, row: WorktreeRow, owner: { sessionId: number | null; threadId: number | null }) {
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

export interface CreateWorktreeInput {
  task_id?: number;
  name?: string;
  branch?: string;
  base_ref?: string;
}

/** worktree.create: a standalone task worktree from the main branch (or base_ref), owned by the caller. */
export async function createTaskWorktree(ctx: CoreContext, input: CreateWorktreeInput) {
  if (input.branch !== undefined) await checkBranchName(ctx, input.branch);
  if (input.base_ref !== undefined) await checkBranchName(ctx, input.base_ref, 'base_ref');
  const task = input.task_id !== undefined ? ctx.store.read((sql) => getTask(sql, input.task_id!)) : undefined;
  const row = await createWorktree(ctx, {
    kind: 'task',
    slug: deriveSlug(input.name, task?.title ?? input.branch),
    ...(input.task_id !== undefined ? { taskId: input.task_id } : {}),
    ...(input.base_ref !== undefined ? { baseBranch: input.base_ref } : {}),
    ...(input.branch !== undefined ? { branch: input.branch } : {}),
  });
  return { worktree: await activate(ctx, row, { sessionId: ctx.actor.sessionId ?? null, threadId: ctx.actor.threadId ?? null }) };
}

export interface SpawnWorktreeInput extends CreateWorktreeInput {
  parent_worktree_id?: number;
  force?: boolean;
  reason?: string;
}

/**
 * worktree.spawn: a child worktree on its own branch from the current tip of a parent (by default
 * the caller's session root), for one case and one worker.
 */
export async function spawnWorktree(ctx: CoreContext, input: SpawnWorktreeInput) {
  if (input.branch !== undefined) await checkBranchName(ctx, input.branch);
  // A write: a forced override records itself in the audit log.
  const { parent, task } = ctx.store.write((sql) => {
    let parentId = input.parent_worktree_id;
    if (parentId === undefined) {
      const session =
        ctx.actor.sessionId !== undefined
          ? sql.get<{ worktree_id: number | null }>('SELECT worktree_id FROM sessions WHERE id = ?', [ctx.actor.sessionId])
          : undefined;
      if (!session?.worktree_id) {
        throw invalid('worktree.spawn needs parent_worktree_id, or a calling session that has a worktree.', 'parent_worktree_id');
      }
      parentId = session.worktree_id;
    }
    const parent = getWorktree(sql, parentId, 'parent_worktree_id');
    if (parent.status !== 'active')
      throw new CodestratorError('PRECONDITION_FAILED', `Parent worktree ${parent.id} is ${parent.status}.`, {
        field: 'parent_worktree_id',
      });
    checkWorktreeOwner(sql, ctx, parent, 'worktree.spawn', input);
    return { parent, task: input.task_id !== undefined ? getTask(sql, input.task_id) : undefined };
  });
  const row = await createWorktree(ctx, {
    kind: 'task',
    slug: deriveSlug(input.name, task?.title ?? input.branch),
    parentWorktreeId: parent.id,
    baseBranch: parent.branch,
    ...(input.task_id !== undefined ? { taskId: input.task_id } : {}),
    ...(input.branch !== undefined ? { branch: input.branch } : {}),
  });
  const owner = { sessionId: parent.owner_session_id ?? ctx.actor.sessionId ?? null, threadId: ctx.actor.threadId ?? null };
  return { worktree: await activate(ctx, row, owner), parent: { id: parent.id, path: parent.path, branch: parent.branch } };
}

export interface ListWorktreesInput extends PageRequest {
  owner_session?: number;
  kind?: 'session_root' | 'task';
  state?: 'active' | 'merged' | 'removed';
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
  if (!input.force) {
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
  const removed = ctx.store.write((sql) => {
    sql.run("UPDATE worktrees SET status = 'removed', removed_at = ?, updated_at = ? WHERE id = ?", [ctx.now(), ctx.now(), row.id]);
    return getWorktree(sql, row.id);
  });
  return { worktree: removed, already_removed: false };
}
