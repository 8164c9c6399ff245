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
export function committerKey(sql: Sql, ctx: CoreContext, worktreePath: string | undefined): string | undefined {
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

/** The owner keys of a session's work: the session and every thread in it (whose branches merge into the session's). */
export function sessionOwnerKeys(sql: Sql, sessionId: number | null): Set<string> {
  if (sessionId === null) return new Set();
  const threads = sql.all<{ id: number }>('SELECT id FROM threads WHERE session_id = ?', [sessionId]);
  return new Set([`session:${sessionId}`, ...threads.map((row) => `thread:${row.id}`)]);
}

/**
 * The one lock rule for every path to a branch (the pre-commit hook through lock.check,
 * merge_to_parent, the merge queue): a path is blocked by every active lock of an owner not in
 * `own` whose lease has not ended and that covers it, a path counting as everything at or under
 * it. Whether the holder is still seen does not matter: its lock counts until it expires, is
 * released or is taken over, exactly as lock.acquire sees it.
 */
export function lockConflicts(
  sql: Sql,
  ctx: CoreContext,
  paths: readonly string[],
  own: ReadonlySet<string>,
  field = 'paths',
): PathConflict[] {
  const now = ctx.now();
  // Every live lock (the root prefix conflicts with all), read once for all paths.
  const others = conflictingLocks(sql, { scope_type: 'prefix', scope_path: REPO_ROOT_SCOPE }, undefined, now).filter(
    (lock) => !own.has(lock.owner_key),
  );
  const conflicts: PathConflict[] = [];
  if (others.length === 0) return conflicts;
  for (const path of paths) {
    const probe: Scope = { scope_type: 'prefix', scope_path: scopePathIn(sql, ctx, path, field, true) };
    for (const lock of others.filter((held) => scopesConflict(probe, held))) {
      conflicts.push({ path: probe.scope_path, ...describeHolder(lock, now) });
    }
  }
  return conflicts;
}

/** A conflict as one line: the path, the lock, its holder and when its lease ends. */
export const describeConflict = (c: PathConflict): string =>
  `${c.path} (lock ${c.lock_id} ${c.scope_type} ${c.scope_path} held by ${c.owner} until ${new Date(c.lease_until).toISOString()})`;

/**
 * lock.check: for each path, the live locks of other owners covering it (lockConflicts), so an
 * agent can ask before editing and the pre-commit hook can refuse a commit. Read-only; never
 * takes or extends a lock.
 */
export function checkPaths(ctx: CoreContext, input: CheckPathsInput) {
  if (input.worktree_path !== undefined && !isAbsolute(input.worktree_path)) {
    throw invalid(`worktree_path ${input.worktree_path} is not absolute.`, 'worktree_path', 'Pass the absolute path of the checkout.');
  }
  return ctx.store.read((sql) => {
    const owner = committerKey(sql, ctx, input.worktree_path);
    const conflicts = lockConflicts(sql, ctx, input.paths, new Set(owner === undefined ? [] : [owner]));
    return { ok: conflicts.length === 0, checked_as: owner ?? null, conflicts };
  });
}
