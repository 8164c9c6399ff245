import type { CoreContext } from './context.js';
import { CodestratorError } from './errors.js';
import { auditRecovery, isDeadProcess, selfProcess } from './holders.js';
import type { Sql } from './ports.js';

/** What named locks guard; each name says which shared git state it serialises. */
export const LockNames = {
  /** The main-merge lock: one queue processor (or holder) at a time. */
  mainMerge: 'main-merge',
  /** Merges into one parent worktree's branch and checkout. */
  parentWorktree: (worktreeId: number) => `worktree-merge:${worktreeId}`,
  /**
   * `git worktree add` and the new worktree's config: while one add is half done, another add, or a
   * `git config --worktree` anywhere, reads its half-written entry ("failed to read
   * .git/worktrees/<name>/commondir"), so worktree creation takes turns across processes.
   */
  worktreeAdmin: 'git-worktree-admin',
} as const;

export interface NamedLockState {
  name: string;
  holder: string | null;
  /** The holder's process (`<machine>/<pid>/<start time>`), when known. */
  holder_process: string | null;
  lease_until: number | null;
  acquired_at: number | null;
  held: boolean;
}

interface Row {
  name: string;
  holder_key: string;
  holder_process: string | null;
  lease_until: number;
  acquired_at: number;
}

const view = (name: string, row: Row | undefined, now: number): NamedLockState =>
  row && row.lease_until > now
    ? {
        name,
        holder: row.holder_key,
        holder_process: row.holder_process,
        lease_until: row.lease_until,
        acquired_at: row.acquired_at,
        held: true,
      }
    : { name, holder: null, holder_process: null, lease_until: null, acquired_at: null, held: false };

/**
 * A live lease whose holder process is gone is taken over at once: the row is dropped and the
 * takeover recorded in audit_events. Returns whether it was.
 */
function takeOverDead(ctx: CoreContext, sql: Sql, row: Row | undefined, now: number, by: string): boolean {
  if (!row || row.lease_until <= now || !isDeadProcess(ctx, row.holder_process)) return false;
  sql.run('DELETE FROM named_locks WHERE name = ?', [row.name]);
  auditRecovery(
    sql,
    ctx,
    'named_lock.takeover',
    row.name,
    `holder ${row.holder_key} (process ${row.holder_process}) is gone; lease until ${new Date(row.lease_until).toISOString()} taken over by ${by}`,
  );
  return true;
}

/** Takes over every named lock whose holder process is gone (recovery); returns the names. */
export function takeOverDeadLocks(ctx: CoreContext, options: { dryRun?: boolean } = {}): NamedLockState[] {
  const find = (sql: Sql) =>
    sql
      .all<Row>('SELECT * FROM named_locks WHERE holder_process IS NOT NULL AND lease_until > ?', [ctx.now()])
      .filter((row) => isDeadProcess(ctx, row.holder_process));
  const found = ctx.store.read((sql) => find(sql).map((row) => view(row.name, row, ctx.now())));
  // Read first: a process's first call runs this, and should not take the write lock for nothing.
  if (options.dryRun || found.length === 0) return found;
  return ctx.store.write(
    (sql) => find(sql).flatMap((row) => (takeOverDead(ctx, sql, row, ctx.now(), 'recovery') ? [view(row.name, row, ctx.now())] : [])),
    { ledger: false },
  );
}

export function namedLockState(ctx: CoreContext, name: string): NamedLockState {
  return ctx.store.read((sql) => view(name, sql.get<Row>('SELECT * FROM named_locks WHERE name = ?', [name]), ctx.now()));
}

/**
 * Takes the lock for `holder` with a lease: free or expired locks are taken, and so is one whose
 * holder process is gone (recorded); the holder re-enters (extending the lease), anyone else gets
 * LOCKED naming the holder and expiry. `reentered` says whether the holder already had it (so it
 * knows not to release what it did not take); a dead process of the same holder is not re-entered
 * but taken over, so its interrupted work is recovered (`taken_over`).
 */
export function tryNamedLock(ctx: CoreContext, name: string, holder: string, ttlSeconds: number, options: { outlivesCall?: boolean } = {}) {
  return ctx.store.write(
    (sql) => {
      const now = ctx.now();
      let row = sql.get<Row>('SELECT * FROM named_locks WHERE name = ?', [name]);
      const takenOver = takeOverDead(ctx, sql, row, now, holder);
      if (takenOver) row = undefined;
      if (row && row.lease_until > now && row.holder_key !== holder) {
        throw new CodestratorError(
          'LOCKED',
          `${name} is held by ${row.holder_key} until ${new Date(row.lease_until).toISOString()} (in ${Math.ceil((row.lease_until - now) / 1000)} s).`,
          {
            hint: 'Retry after the lease expires, or ask the holder to release it.',
            data: { holder: row.holder_key, lease_until: row.lease_until },
          },
        );
      }
      const reentered = row !== undefined && row.lease_until > now && row.holder_key === holder;
      // A lock held for a call's work is bound to this process; one handed to a session for later calls
      // (merge.main.acquire_lock) outlives it, so its lease alone decides. A re-entry changes neither.
      sql.run(
        `INSERT INTO named_locks (name, holder_key, holder_process, lease_until, acquired_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder_key = excluded.holder_key, lease_until = excluded.lease_until,
           holder_process = CASE WHEN ? THEN named_locks.holder_process ELSE excluded.holder_process END,
           acquired_at = CASE WHEN ? THEN named_locks.acquired_at ELSE excluded.acquired_at END`,
        [name, holder, options.outlivesCall ? null : selfProcess(ctx), now + ttlSeconds * 1000, now, reentered ? 1 : 0, reentered ? 1 : 0],
      );
      return { lock: view(name, sql.get<Row>('SELECT * FROM named_locks WHERE name = ?', [name]), now), reentered, taken_over: takenOver };
    },
    { ledger: false },
  );
}

/** Releases the lock if `holder` has it; returns whether it did. An expired lease may be cleared by anyone. */
export function releaseNamedLock(ctx: CoreContext, name: string, holder: string, options: { force?: boolean } = {}): boolean {
  return ctx.store.write(
    (sql) => {
      const now = ctx.now();
      const row = sql.get<Row>('SELECT * FROM named_locks WHERE name = ?', [name]);
      if (!row) return false;
      if (row.holder_key !== holder && row.lease_until > now && !options.force && !takeOverDead(ctx, sql, row, now, holder)) {
        throw new CodestratorError('NOT_OWNER', `${name} is held by ${row.holder_key}, not by ${holder}.`, {
          hint: 'Only the holder releases it; pass force: true with a reason to override (recorded).',
          data: { holder: row.holder_key },
        });
      }
      sql.run('DELETE FROM named_locks WHERE name = ?', [name]);
      return true;
    },
    { ledger: false },
  );
}

/**
 * Releases the lock only if `holder` still has it; never throws. For the end of a holder's own
 * work: a lease that ran out meanwhile may have been taken over, and that must not turn finished
 * work into an error.
 */
export function releaseIfHeld(ctx: CoreContext, name: string, holder: string): boolean {
  return ctx.store.write((sql) => sql.run('DELETE FROM named_locks WHERE name = ? AND holder_key = ?', [name, holder]).changes > 0, {
    ledger: false,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Takes the lock, waiting up to `waitMs` (polling with backoff) while someone else holds it. */
export async function waitForNamedLock(ctx: CoreContext, name: string, holder: string, options: { ttlSeconds: number; waitMs: number }) {
  const deadline = ctx.now() + options.waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return tryNamedLock(ctx, name, holder, options.ttlSeconds);
    } catch (err) {
      if (!(err instanceof CodestratorError) || err.code !== 'LOCKED' || ctx.now() >= deadline) throw err;
      await sleep(Math.min(500, 20 * 2 ** attempt) * (0.5 + Math.random()));
    }
  }
}

/** Runs fn while holding the named lock; released afterwards unless the holder already had it. */
export async function withNamedLock<T>(
  ctx: CoreContext,
  name: string,
  holder: string,
  options: { ttlSeconds: number; waitMs: number },
  fn: () => Promise<T>,
): Promise<T> {
  const taken = await waitForNamedLock(ctx, name, holder, options);
  try {
    return await fn();
  } finally {
    if (!taken.reentered) releaseIfHeld(ctx, name, holder);
  }
}
