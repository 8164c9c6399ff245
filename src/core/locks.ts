import type { CoreContext } from './context.js';
import { CodestratorError, notFound } from './errors.js';
import { checkOwnership, ownerKeyOf, requireOwner } from './identity.js';
import type { Sql } from './ports.js';
import { type LockRow, lockWire } from './rows.js';
import { type Scope, normalizeScopePath, scopesConflict } from './scope-path.js';
import { type PageRequest, cursorId, pageLimit, toPage } from './paging.js';

const activeLocks = (sql: Sql, now: number): LockRow[] =>
  sql.all<LockRow>("SELECT * FROM locks WHERE state = 'active' AND lease_until > ? ORDER BY id", [now]);

function worktreePaths(sql: Sql): string[] {
  return sql.all<{ path: string }>("SELECT path FROM worktrees WHERE status IN ('creating', 'active')").map((row) => row.path);
}

/** Normalises a path against this repository and its worktrees (read only for an absolute path; see normalizeScopePath). */
export function scopePathIn(sql: Sql, ctx: CoreContext, path: string, field: string, allowRoot: boolean): string {
  return normalizeScopePath(path, { repoPath: ctx.workspace.repoPath, worktreePaths: () => worktreePaths(sql), field, allowRoot });
}

/** Active locks of other owners that conflict with the scope. */
export function conflictingLocks(sql: Sql, scope: Scope, ownerKey: string | undefined, now: number): LockRow[] {
  return othersConflicting(activeLocks(sql, now), scope, ownerKey);
}

const othersConflicting = (active: LockRow[], scope: Scope, ownerKey: string | undefined): LockRow[] =>
  active.filter((lock) => lock.owner_key !== ownerKey && scopesConflict(scope, lock));

/** A held lock as conflicts name it: which lock, what it covers, whose it is, and when its lease ends. */
export function describeHolder(lock: LockRow, now: number) {
  return {
    lock_id: lock.id,
    scope_type: lock.scope_type,
    scope_path: lock.scope_path,
    owner: lock.owner_key,
    lease_until: lock.lease_until,
    expires_in_seconds: Math.max(0, Math.ceil((lock.lease_until - now) / 1000)),
  };
}

export interface AcquireInput {
  scope_type: 'file' | 'prefix';
  scope_path: string;
  ttl_seconds?: number;
}

/**
 * lock.acquire: grants the scope to the caller unless another owner's live lease conflicts.
 * Re-acquiring the same scope is re-entrant (the lease is extended, the fence kept); each new
 * grant takes the next fencing token, which only ever increases.
 */
export function acquireLock(ctx: CoreContext, input: AcquireInput) {
  const owner = requireOwner(ctx.actor, 'lock.acquire');
  return ctx.store.write((sql) => {
    const now = ctx.now();
    const ttl = (input.ttl_seconds ?? ctx.config.lock_ttl_seconds) * 1000;
    const scope: Scope = {
      scope_type: input.scope_type,
      scope_path: scopePathIn(sql, ctx, input.scope_path, 'scope_path', input.scope_type === 'prefix'),
    };
    sql.run(
      "UPDATE locks SET state = 'released', released_at = lease_until, release_reason = 'lease expired' WHERE state = 'active' AND lease_until <= ?",
      [now],
    );
    const active = activeLocks(sql, now);
    const conflicts = othersConflicting(active, scope, owner);
    if (conflicts.length > 0) {
      const first = conflicts[0]!;
      const seconds = Math.max(0, Math.ceil((first.lease_until - now) / 1000));
      throw new CodestratorError(
        'LOCKED',
        `${scope.scope_type} ${scope.scope_path} conflicts with lock ${first.id} (${first.scope_type} ${first.scope_path}) held by ${first.owner_key} until ${new Date(first.lease_until).toISOString()} (in ${seconds} s).`,
        {
          field: 'scope_path',
          hint: 'Work on something else, ask the holder through inbox.send, or retry after the lease expires.',
          data: { conflicts: conflicts.map((lock) => describeHolder(lock, now)) },
        },
      );
    }
    const same = active.find(
      (lock) => lock.owner_key === owner && lock.scope_type === scope.scope_type && lock.scope_path === scope.scope_path,
    );
    if (same) {
      const extended = sql.get<LockRow>('UPDATE locks SET lease_until = max(lease_until, ?), heartbeat_at = ? WHERE id = ? RETURNING *', [
        now + ttl,
        now,
        same.id,
      ])!;
      return { lock: lockWire(extended, now), reentrant: true };
    }
    const { lock_fence: fence } = sql.get<{ lock_fence: number }>(
      'UPDATE meta SET lock_fence = lock_fence + 1 WHERE id = 1 RETURNING lock_fence',
    )!;
    const lock = sql.get<LockRow>(
      `INSERT INTO locks (scope_type, scope_path, owner_key, owner_session_id, owner_thread_id, fence, state, lease_until, acquired_at, heartbeat_at)
       VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?) RETURNING *`,
      [scope.scope_type, scope.scope_path, owner, ctx.actor.sessionId ?? null, ctx.actor.threadId ?? null, fence, now + ttl, now, now],
    )!;
    return { lock: lockWire(lock, now), reentrant: false };
  });
}

function getLock(sql: Sql, id: number): LockRow {
  const lock = sql.get<LockRow>('SELECT * FROM locks WHERE id = ?', [id]);
  if (!lock) throw notFound('Lock', id, 'lock_id');
  return lock;
}

export interface OwnedLockInput {
  lock_id: number;
  force?: boolean;
  reason?: string;
}

/** lock.heartbeat: extends a live lease. An expired lease is not revived: acquire again. */
export function heartbeatLock(ctx: CoreContext, input: OwnedLockInput & { ttl_seconds?: number }) {
  return ctx.store.write(
    (sql) => {
      const now = ctx.now();
      const lock = getLock(sql, input.lock_id);
      checkOwnership(sql, ctx.actor, {
        method: 'lock.heartbeat',
        ownerKey: lock.owner_key,
        target: `lock ${lock.id}`,
        force: input.force,
        reason: input.reason,
        now,
      });
      if (lock.state !== 'active' || lock.lease_until <= now) {
        throw new CodestratorError('PRECONDITION_FAILED', `Lock ${lock.id} is no longer held (${lockWire(lock, now).state}).`, {
          field: 'lock_id',
          hint: 'Call lock.acquire again; another owner may have taken the scope meanwhile.',
        });
      }
      const ttl = (input.ttl_seconds ?? ctx.config.lock_ttl_seconds) * 1000;
      sql.run('UPDATE locks SET lease_until = ?, heartbeat_at = ? WHERE id = ?', [now + ttl, now, lock.id]);
      return { lock: lockWire(getLock(sql, lock.id), now) };
    },
    { ledger: false },
  );
}

/** lock.release: idempotent; releasing an already released or expired lock reports so. */
export function releaseLock(ctx: CoreContext, input: OwnedLockInput) {
  return ctx.store.write((sql) => {
    const now = ctx.now();
    const lock = getLock(sql, input.lock_id);
    checkOwnership(sql, ctx.actor, {
      method: 'lock.release',
      ownerKey: lock.owner_key,
      target: `lock ${lock.id}`,
      force: input.force,
      reason: input.reason,
      now,
    });
    if (lock.state === 'released') return { lock: lockWire(lock, now), already_released: true };
    const reason = ownerKeyOf(ctx.actor) === lock.owner_key ? 'released by owner' : `forced: ${input.reason}`;
    const released = sql.get<LockRow>("UPDATE locks SET state = 'released', released_at = ?, release_reason = ? WHERE id = ? RETURNING *", [
      now,
      reason,
      lock.id,
    ])!;
    return { lock: lockWire(released, now), already_released: false };
  });
}

/** Releases every active lock of an owner (session close, cleanup). Returns how many. */
export function releaseOwnerLocks(sql: Sql, ownerKey: string, now: number, reason: string): number {
  return sql.run("UPDATE locks SET state = 'released', released_at = ?, release_reason = ? WHERE owner_key = ? AND state = 'active'", [
    now,
    reason,
    ownerKey,
  ]).changes;
}

export interface ListLocksInput extends PageRequest {
  owner?: string;
  path?: string;
  include_inactive?: boolean;
}

/** lock.list: live locks by default; filter by owner key or by a path they cover. */
export function listLocks(ctx: CoreContext, input: ListLocksInput) {
  return ctx.store.read((sql) => {
    const now = ctx.now();
    const limit = pageLimit(input);
    const where = ['id > ?'];
    const params: (string | number)[] = [cursorId(input)];
    if (!input.include_inactive) {
      where.push("state = 'active' AND lease_until > ?");
      params.push(now);
    }
    if (input.owner) {
      where.push('owner_key = ?');
      params.push(input.owner);
    }
    let rows = sql.all<LockRow>(`SELECT * FROM locks WHERE ${where.join(' AND ')} ORDER BY id`, params);
    if (input.path !== undefined) {
      const probe: Scope = { scope_type: 'prefix', scope_path: scopePathIn(sql, ctx, input.path, 'path', true) };
      rows = rows.filter((lock) => scopesConflict(probe, lock));
    }
    return toPage(rows.slice(0, limit + 1), limit, (row) => lockWire(row, now));
  });
}
