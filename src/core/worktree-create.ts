import { join } from 'node:path/posix';
import type { CoreContext } from './context.js';
import { CodestratorError } from './errors.js';
import { checkpoint, selfProcess } from './holders.js';
import { LockNames, withNamedLock } from './named-locks.js';
import type { WorktreeRow } from './rows.js';
import { slugCandidate } from './slug.js';
import { checkWorktreePath } from './worktree-path.js';

/** Every branch codestrator creates lives under this prefix, so gc never touches the user's branches. */
export const BRANCH_PREFIX = 'codestrator/';
const MAX_SUFFIX = 200;

/** Runs a git step, turning a failure into an EXTERNAL error that says what was attempted. */
export async function gitStep<T>(what: string, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new CodestratorError('EXTERNAL', `git could not ${what}: ${detail}`, { cause: err });
  }
}

export interface NewWorktree {
  kind: 'session_root' | 'task';
  slug: string;
  parentWorktreeId?: number;
  taskId?: number;
  /** Branch to start from (its current tip); default: the main branch. */
  baseBranch?: string;
  /** Exact branch name to create (validated by the caller); default: codestrator/<slug>. */
  branch?: string;
  /** Where to put it, as the caller gave it (vetted by checkWorktreePath); default: <worktrees dir>/<slug>. */
  path?: string;
}

/** Who a planned worktree belongs to (a created one gets its owner when activated). */
export interface WorktreeOwner {
  sessionId: number | null;
  threadId: number | null;
}

/**
 * Reserves a unique slug, path and branch as a row: `creating` while git runs, or `planned`
 * (owned at once) when nothing is to be created on disk yet. A name the caller chose that is
 * already taken is an error; only derived names move to the next free slug.
 */
async function reserveWorktree(ctx: CoreContext, spec: NewWorktree, planned?: WorktreeOwner): Promise<WorktreeRow> {
  const baseBranch = spec.baseBranch ?? (await gitStep('find the main branch', ctx.git.mainBranch()));
  const baseSha = await gitStep(`resolve ${baseBranch}`, ctx.git.resolveCommit(baseBranch));
  const branches = await gitStep('list branches', ctx.git.listBranches(spec.branch ?? BRANCH_PREFIX));
  if (spec.branch !== undefined && branches.has(spec.branch)) {
    throw new CodestratorError('CONFLICT', `Branch ${spec.branch} already exists.`, {
      field: 'branch',
      hint: 'Choose another branch name, or omit branch.',
    });
  }
  return ctx.store.write(
    (sql) => {
      const chosenPath = spec.path === undefined ? undefined : checkWorktreePath(ctx, sql, spec.path);
      const taken = (column: 'branch' | 'path', value: string | undefined, field: string) => {
        const row =
          value === undefined
            ? undefined
            : sql.get<{ id: number; status: string }>(`SELECT id, status FROM worktrees WHERE ${column} = ?`, [value]);
        if (row) {
          throw new CodestratorError('CONFLICT', `${column} ${value} is already worktree ${row.id}'s (${row.status}).`, {
            field,
            hint:
              row.status === 'planned'
                ? `Pass create_on_disk: true with branch ${JSON.stringify(value)} to create it.`
                : `Choose another ${field}, or omit it.`,
          });
        }
      };
      taken('branch', spec.branch, 'branch');
      taken('path', chosenPath, 'path');
      for (let attempt = 0; attempt < MAX_SUFFIX; attempt++) {
        const slug = slugCandidate(spec.slug, attempt);
        const path = chosenPath ?? join(ctx.workspace.worktreesDir, slug);
        const branch = spec.branch ?? BRANCH_PREFIX + slug;
        if (sql.get('SELECT 1 FROM worktrees WHERE slug = ? OR path = ? OR branch = ?', [slug, path, branch])) continue;
        if (branches.has(branch) || (chosenPath === undefined && ctx.files.exists(path))) continue;
        const now = ctx.now();
        const id = sql.run(
          `INSERT INTO worktrees (kind, slug, path, branch, base_branch, base_sha, parent_worktree_id, task_id, status,
             owner_session_id, owner_thread_id, creator_process, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            spec.kind,
            slug,
            path,
            branch,
            baseBranch,
            baseSha,
            spec.parentWorktreeId ?? null,
            spec.taskId ?? null,
            planned ? 'planned' : 'creating',
            planned?.sessionId ?? null,
            planned?.threadId ?? null,
            planned ? null : selfProcess(ctx),
            now,
            now,
          ],
        ).lastInsertRowid;
        return sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [id])!;
      }
      throw new CodestratorError('CONFLICT', `Every slug from ${spec.slug} to ${slugCandidate(spec.slug, MAX_SUFFIX - 1)} is taken.`, {
        field: 'worktree_name',
        hint: 'Choose another worktree_name, or remove old worktrees.',
      });
    },
    // A planned row is a ledger change (it shows in worktree.list); a reservation is not yet.
    { ledger: planned !== undefined },
  );
}

/** Records a planned worktree: name, branch and path reserved for its owner, nothing on disk and no branch yet. */
export const planWorktree = (ctx: CoreContext, spec: NewWorktree, owner: WorktreeOwner): Promise<WorktreeRow> =>
  reserveWorktree(ctx, spec, owner);

/**
 * Creates a worktree on a new branch from the main branch's current tip, with a slug that
 * is unique among codestrator's rows, the directories on disk and the existing branches.
 *
 * The slug is reserved first (a `creating` row, unique in the database, so racing processes
 * pick different slugs), then git runs outside any transaction. On failure the directory,
 * branch and reservation are removed, so nothing is left behind. The caller activates the row (see activateWorktree)
 * or removes it with discardWorktree.
 */
export async function createWorktree(ctx: CoreContext, spec: NewWorktree): Promise<WorktreeRow> {
  const reserved = await reserveWorktree(ctx, spec);
  checkpoint(ctx, 'worktree.reserved');
  try {
    await addOnDisk(ctx, reserved, reserved.base_sha);
    checkpoint(ctx, 'worktree.created');
    return reserved;
  } catch (err) {
    await discardWorktree(ctx, reserved);
    const detail = err instanceof Error ? err.message : String(err);
    throw new CodestratorError('EXTERNAL', `git could not create worktree ${reserved.path}: ${detail}`, { cause: err });
  }
}

/**
 * Creates a planned worktree on disk, from the current tip of its recorded base (or `baseRef`).
 * The row is claimed (planned → creating) first, so two callers cannot both create it; on failure
 * whatever git made is removed and the row is planned again. The caller activates it.
 */
export async function materializeWorktree(ctx: CoreContext, planned: WorktreeRow, baseRef?: string): Promise<WorktreeRow> {
  const base = baseRef ?? planned.base_branch;
  const baseSha = await gitStep(`resolve ${base}`, ctx.git.resolveCommit(base));
  if ((await gitStep('list branches', ctx.git.listBranches(planned.branch))).has(planned.branch)) {
    throw new CodestratorError(
      'CONFLICT',
      `Branch ${planned.branch} of planned worktree ${planned.id} exists already (created outside codestrator).`,
      {
        field: 'branch',
        hint: 'Remove the planned worktree with worktree.remove and plan another branch.',
      },
    );
  }
  const claimed = ctx.store.write((sql) => {
    // The path is vetted again: the directory may have filled up since it was planned.
    checkWorktreePath(ctx, sql, planned.path, 'path', planned.id);
    const row = sql.get<WorktreeRow>(
      `UPDATE worktrees SET status = 'creating', base_branch = ?, base_sha = ?, creator_process = ?, creating_from = 'planned', updated_at = ?
         WHERE id = ? AND status = 'planned' RETURNING *`,
      [base, baseSha, selfProcess(ctx), ctx.now(), planned.id],
    );
    if (!row) {
      throw new CodestratorError('CONFLICT', `Worktree ${planned.id} is no longer planned (another call is creating it).`, {
        field: 'branch',
        hint: 'Read it with worktree.list.',
      });
    }
    return row;
  });
  try {
    await addOnDisk(ctx, claimed, baseSha);
    return claimed;
  } catch (err) {
    await ctx.git.removeWorktree(claimed.path);
    await ctx.git.deleteBranch(claimed.branch);
    ctx.store.write((sql) =>
      sql.run(
        "UPDATE worktrees SET status = 'planned', creator_process = NULL, creating_from = NULL, updated_at = ? WHERE id = ? AND status = 'creating'",
        [ctx.now(), claimed.id],
      ),
    );
    const detail = err instanceof Error ? err.message : String(err);
    throw new CodestratorError('EXTERNAL', `git could not create worktree ${claimed.path}: ${detail}`, { cause: err });
  }
}

async function addOnDisk(ctx: CoreContext, row: WorktreeRow, baseSha: string): Promise<void> {
  // The hooks too: `git config --worktree` reads every worktree's metadata, and fails on one
  // that another process's `git worktree add` has only half written.
  await withWorktreeAdmin(ctx, `create:${row.id}`, async () => {
    checkpoint(ctx, 'worktree.add.before');
    await ctx.git.addWorktree({ path: row.path, branch: row.branch, base: baseSha });
    checkpoint(ctx, 'worktree.add.after');
    await ctx.git.installHooks(row.path);
    checkpoint(ctx, 'worktree.hooks.after');
  });
}

/** Runs a `git worktree add` (and its setup) while no other codestrator process adds one (see LockNames.worktreeAdmin). */
export function withWorktreeAdmin<T>(ctx: CoreContext, purpose: string, fn: () => Promise<T>): Promise<T> {
  // Unique per call, so two calls of one process take turns too; the lock row records the process.
  const holder = `${purpose}:${Math.random().toString(36).slice(2, 10)}`;
  return withNamedLock(ctx, LockNames.worktreeAdmin, holder, { ttlSeconds: 600, waitMs: 120_000 }, fn);
}

/** Removes a worktree this call created (directory, branch and row), leaving no trace. */
export async function discardWorktree(ctx: CoreContext, row: WorktreeRow): Promise<void> {
  // Both are no-ops for what does not exist; the branch name was free before we reserved it.
  await ctx.git.removeWorktree(row.path);
  await ctx.git.deleteBranch(row.branch);
  ctx.store.write((sql) => sql.run("DELETE FROM worktrees WHERE id = ? AND status = 'creating'", [row.id]), { ledger: false });
}
