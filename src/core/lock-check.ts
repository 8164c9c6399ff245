import { isAbsolute, sep } from 'node:path';
import type { CoreContext } from './context.js';
import { invalid } from './errors.js';
import { ownerKeyOf } from './identity.js';
import { conflictingLocks, describeHolder, scopePathIn } from './locks.js';
import type { Sql } from './ports.js';
import { REPO_ROOT_SCOPE, type Scope, scopesConflict } from './scope-path.js';

export interface CheckPathsInput {
  /** Paths relative to the repository root, or absolute inside one of its worktrees. */
  paths: readonly string[];
  /** A checkout path; when the caller is unidentified, the owner of the codestrator worktree containing it is the caller. */
  worktree_path?: string;
}

/** One path blocked by a live lock of another owner. */
export interface PathConflict {
  path: string;
  lock_id: number;
  scope_type: 'file' | 'prefix';
  scope_path: string;
  owner: string;
  lease_until: number;
  expires_in_seconds: number;
}

interface WorktreeOwnerRow {
  path: string;
  owner_session_id: number | null;
  owner_thread_id: number | null;
}

/**
 * The owner a commit is made as: the caller's identity (params or CODESTRATOR_SESSION_ID /
 * CODESTRATOR_THREAD_ID), else the owner of the codestrator worktree containing `worktreePath`
 * (its thread when one owns it, else its session). Undefined when neither says: every lock is
 * then someone else's.
 */
function committerKey(sql: Sql, ctx: CoreContext, worktreePath: string | undefined): string | undefined {
  const own = ownerKeyOf(ctx.actor);
  if (own !== undefined || worktreePath === undefined) return own;
  const rows = sql.all<WorktreeOwnerRow>("SELECT path, owner_session_id, owner_thread_id FROM worktrees WHERE status != 'removed'");
  const containing = rows
    .filter((row) => worktreePath === row.path || worktreePath.startsWith(row.path + sep))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (containing?.owner_thread_id != null) return `thread:${containing.owner_thread_id}`;
  if (containing?.owner_session_id != null) return `session:${containing.owner_session_id}`;
  return undefined;
}

/**
 * lock.check: for each path, the live locks of other owners covering it (the same rule as
 * lock.acquire, a path counting as everything at or under it), so an agent can ask before
 * editing and the pre-commit hook can refuse a commit. Read-only; never takes or extends a lock.
 */
export function checkPaths(ctx: CoreContext, input: CheckPathsInput) {
  if (input.worktree_path !== undefined && !isAbsolute(input.worktree_path)) {
    throw invalid(`worktree_path ${input.worktree_path} is not absolute.`, 'worktree_path', 'Pass the absolute path of the checkout.');
  }
  return ctx.store.read((sql) => {
    const now = ctx.now();
    const owner = committerKey(sql, ctx, input.worktree_path);
    // Every live lock of another owner (the root prefix conflicts with all), read once for all paths.
    const others = conflictingLocks(sql, { scope_type: 'prefix', scope_path: REPO_ROOT_SCOPE }, owner, now);
    const conflicts: PathConflict[] = [];
    for (const path of input.paths) {
      const probe: Scope = { scope_type: 'prefix', scope_path: scopePathIn(sql, ctx, path, 'paths', true) };
      for (const lock of others.filter((held) => scopesConflict(probe, held))) {
        conflicts.push({ path: probe.scope_path, ...describeHolder(lock, now) });
      }
    }
    return { ok: conflicts.length === 0, checked_as: owner ?? null, conflicts };
  });
}
