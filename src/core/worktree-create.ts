import { join } from 'node:path/posix';
import type { CoreContext } from './context.js';
import { CodestratorError } from './errors.js';
import { LockNames, withNamedLock } from './named-locks.js';
import type { WorktreeRow } from './rows.js';
import { slugCandidate } from './slug.js';

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
}

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
  const baseBranch = spec.baseBranch ?? (await gitStep('find the main branch', ctx.git.mainBranch()));
  const baseSha = await gitStep(`resolve ${baseBranch}`, ctx.git.resolveCommit(baseBranch));
  const branches = await gitStep('list branches', ctx.git.listBranches(spec.branch ?? BRANCH_PREFIX));
  if (spec.branch !== undefined && branches.has(spec.branch)) {
    throw new CodestratorError('CONFLICT', `Branch ${spec.branch} already exists.`, {
      field: 'branch',
      hint: 'Choose another branch name, or omit branch.',
    });
  }
  const reserved = ctx.store.write(
    (sql) => {
      for (let attempt = 0; attempt < MAX_SUFFIX; attempt++) {
        const slug = slugCandidate(spec.slug, attempt);
        const path = join(ctx.workspace.worktreesDir, slug);
        const branch = spec.branch ?? BRANCH_PREFIX + slug;
        if (sql.get('SELECT 1 FROM worktrees WHERE slug = ? OR path = ? OR branch = ?', [slug, path, branch])) continue;
        if (branches.has(branch) || ctx.files.exists(path)) continue;
        const now = ctx.now();
        const id = sql.run(
          `INSERT INTO worktrees (kind, slug, path, branch, base_branch, base_sha, parent_worktree_id, task_id, status, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'creating', ?, ?)`,
          [spec.kind, slug, path, branch, baseBranch, baseSha, spec.parentWorktreeId ?? null, spec.taskId ?? null, now, now],
        ).lastInsertRowid;
        return sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [id])!;
      }
      throw new CodestratorError('CONFLICT', `Every slug from ${spec.slug} to ${slugCandidate(spec.slug, MAX_SUFFIX - 1)} is taken.`, {
        field: 'worktree_name',
        hint: 'Choose another worktree_name, or remove old worktrees.',
      });
    },
    { ledger: false },
  );
  try {
    // The hooks too: `git config --worktree` reads every worktree's metadata, and fails on one
    // that another process's `git worktree add` has only half written.
    await withWorktreeAdmin(ctx, `create:${reserved.id}`, async () => {
      await ctx.git.addWorktree({ path: reserved.path, branch: reserved.branch, base: baseSha });
      await ctx.git.installHooks(reserved.path);
    });
    return reserved;
  } catch (err) {
    await discardWorktree(ctx, reserved);
    const detail = err instanceof Error ? err.message : String(err);
    throw new CodestratorError('EXTERNAL', `git could not create worktree ${reserved.path}: ${detail}`, { cause: err });
  }
}

/** Runs a `git worktree add` (and its setup) while no other codestrator process adds one (see LockNames.worktreeAdmin). */
export function withWorktreeAdmin<T>(ctx: CoreContext, purpose: string, fn: () => Promise<T>): Promise<T> {
  const holder = `${purpose}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  return withNamedLock(ctx, LockNames.worktreeAdmin, holder, { ttlSeconds: 600, waitMs: 120_000 }, fn);
}

/** Removes a worktree this call created (directory, branch and row), leaving no trace. */
export async function discardWorktree(ctx: CoreContext, row: WorktreeRow): Promise<void> {
  // Both are no-ops for what does not exist; the branch name was free before we reserved it.
  await ctx.git.removeWorktree(row.path);
  await ctx.git.deleteBranch(row.branch);
  ctx.store.write((sql) => sql.run("DELETE FROM worktrees WHERE id = ? AND status = 'creating'", [row.id]), { ledger: false });
}
