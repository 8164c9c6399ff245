import type { CoreContext } from './context.js';
import { CodestratorError, invalid } from './errors.js';
import type { WorktreeRow } from './rows.js';
import { deriveSlug } from './slug.js';
import { getTask } from './tasks.js';
import { createWorktree, materializeWorktree, planWorktree } from './worktree-create.js';
import { checkWorktreePath } from './worktree-path.js';
import { activate, checkBranchName, checkWorktreeOwner, getWorktree } from './worktrees.js';

/**
 * The two calls that give a caller a worktree: worktree.create (standalone, from the main branch
 * or base_ref) and worktree.spawn (a child of a parent worktree). Both create on disk by default;
 * create_on_disk: false records a planned worktree, and a later call naming its branch creates it.
 */

export interface CreateWorktreeInput {
  task_id?: number;
  name?: string;
  branch?: string;
  base_ref?: string;
  path?: string;
  create_on_disk?: boolean;
}

/** base_ref may be any commit git resolves (branch, tag, sha, HEAD~2), but never an option. */
async function checkBaseRef(ctx: CoreContext, ref: string): Promise<void> {
  const resolved = ref.startsWith('-') ? null : await ctx.git.resolveCommit(ref).catch(() => null);
  if (!resolved) {
    throw invalid(
      `base_ref ${JSON.stringify(ref)} does not name a commit.`,
      'base_ref',
      'Pass a branch, tag or commit that exists in this repository.',
    );
  }
}

async function checkInputs(ctx: CoreContext, input: CreateWorktreeInput): Promise<void> {
  if (input.branch !== undefined) await checkBranchName(ctx, input.branch);
  if (input.base_ref !== undefined) await checkBaseRef(ctx, input.base_ref);
}

/** What the caller learns about a planned worktree: it is recorded, and how to create it. */
const plannedResult = (row: WorktreeRow, method: string) => ({
  created_on_disk: false,
  materialize_with: { method, params: { branch: row.branch, create_on_disk: true } },
});

/**
 * worktree.create: a standalone task worktree from the main branch (or base_ref), owned by the
 * caller, at `path` when given. create_on_disk: false only plans it; a later call with a planned
 * worktree's branch creates that one on disk.
 */
export async function createTaskWorktree(ctx: CoreContext, input: CreateWorktreeInput) {
  await checkInputs(ctx, input);
  const owner = { sessionId: ctx.actor.sessionId ?? null, threadId: ctx.actor.threadId ?? null };
  const planned = findPlanned(ctx, input, 'worktree.create');
  if (planned) return { worktree: await materializePlanned(ctx, planned, input), created_on_disk: true, materialized: true };
  const task = input.task_id !== undefined ? ctx.store.read((sql) => getTask(sql, input.task_id!)) : undefined;
  const spec = {
    kind: 'task' as const,
    slug: deriveSlug(input.name, task?.title ?? input.branch),
    ...(input.task_id !== undefined ? { taskId: input.task_id } : {}),
    ...(input.base_ref !== undefined ? { baseBranch: input.base_ref } : {}),
    ...(input.branch !== undefined ? { branch: input.branch } : {}),
    ...(input.path !== undefined ? { path: input.path } : {}),
  };
  if (input.create_on_disk === false) {
    const row = await planWorktree(ctx, spec, owner);
    return { worktree: row, ...plannedResult(row, 'worktree.create') };
  }
  return { worktree: await activate(ctx, await createWorktree(ctx, spec), owner), created_on_disk: true };
}

export interface SpawnWorktreeInput extends CreateWorktreeInput {
  parent_worktree_id?: number;
  force?: boolean;
  reason?: string;
}

/**
 * worktree.spawn: a child worktree on its own branch from the current tip of a parent (by default
 * the caller's session root), or from base_ref, for one case and one worker.
 */
export async function spawnWorktree(ctx: CoreContext, input: SpawnWorktreeInput) {
  await checkInputs(ctx, input);
  const planned = findPlanned(ctx, input, 'worktree.spawn');
  if (planned) {
    const worktree = await materializePlanned(ctx, planned, input);
    const parent = planned.parent_worktree_id === null ? null : ctx.store.read((sql) => getWorktree(sql, planned.parent_worktree_id!));
    return {
      worktree,
      parent: parent && { id: parent.id, path: parent.path, branch: parent.branch },
      created_on_disk: true,
      materialized: true,
    };
  }
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
        ...(parent.status === 'planned'
          ? { hint: `Create it on disk first: worktree.create {branch: ${JSON.stringify(parent.branch)}}.` }
          : {}),
      });
    checkWorktreeOwner(sql, ctx, parent, 'worktree.spawn', input);
    return { parent, task: input.task_id !== undefined ? getTask(sql, input.task_id) : undefined };
  });
  const spec = {
    kind: 'task' as const,
    slug: deriveSlug(input.name, task?.title ?? input.branch),
    parentWorktreeId: parent.id,
    baseBranch: input.base_ref ?? parent.branch,
    ...(input.task_id !== undefined ? { taskId: input.task_id } : {}),
    ...(input.branch !== undefined ? { branch: input.branch } : {}),
    ...(input.path !== undefined ? { path: input.path } : {}),
  };
  const owner = { sessionId: parent.owner_session_id ?? ctx.actor.sessionId ?? null, threadId: ctx.actor.threadId ?? null };
  const parentView = { id: parent.id, path: parent.path, branch: parent.branch };
  if (input.create_on_disk === false) {
    const row = await planWorktree(ctx, spec, owner);
    return { worktree: row, parent: parentView, ...plannedResult(row, 'worktree.spawn') };
  }
  return { worktree: await activate(ctx, await createWorktree(ctx, spec), owner), parent: parentView, created_on_disk: true };
}

/**
 * The planned worktree a create/spawn call with create_on_disk (the default) names by its branch;
 * undefined when the branch is not a planned worktree's. Inputs that contradict the plan are refused.
 */
function findPlanned(ctx: CoreContext, input: SpawnWorktreeInput, method: string): WorktreeRow | undefined {
  if (input.create_on_disk === false || input.branch === undefined) return undefined;
  return ctx.store.write((sql) => {
    const row = sql.get<WorktreeRow>("SELECT * FROM worktrees WHERE branch = ? AND status = 'planned'", [input.branch!]);
    if (!row) return undefined;
    checkWorktreeOwner(sql, ctx, row, method, input);
    const mismatch = (field: string, planned: unknown) =>
      invalid(
        `Worktree ${row.id} was planned with another ${field} (${String(planned)}).`,
        field,
        `Omit ${field} to create it as planned.`,
      );
    if (input.path !== undefined && checkWorktreePath(ctx, sql, input.path, 'path', row.id) !== row.path) throw mismatch('path', row.path);
    if (input.parent_worktree_id !== undefined && input.parent_worktree_id !== row.parent_worktree_id) {
      throw mismatch('parent_worktree_id', row.parent_worktree_id);
    }
    if (input.task_id !== undefined && row.task_id !== null && input.task_id !== row.task_id) throw mismatch('task_id', row.task_id);
    return row;
  });
}

/** Creates a planned worktree on disk (from base_ref when given, else its planned base) and activates it for its owner. */
async function materializePlanned(ctx: CoreContext, planned: WorktreeRow, input: CreateWorktreeInput): Promise<WorktreeRow> {
  const created = await materializeWorktree(ctx, planned, input.base_ref);
  if (input.task_id !== undefined && planned.task_id === null) {
    ctx.store.write((sql) => sql.run('UPDATE worktrees SET task_id = ? WHERE id = ?', [input.task_id!, planned.id]));
  }
  return activate(ctx, created, { sessionId: planned.owner_session_id, threadId: planned.owner_thread_id });
}
