import type { CoreContext } from './context.js';
import { CodestratorError } from './errors.js';

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
  lease_until: number | null;
  acquired_at: number | null;
  held: boolean;
}

interface Row {
  name: string;
  holder_key: string;
  lease_until: number;
  acquired_at: number;
}

const view = (name: string, row: Row | undefined, now: number): NamedLockState =>
  row && row.lease_until > now
    ? { name, holder: row.holder_key, lease_until: row.lease_until, acquired_at: row.acquired_at, held: true }
    : { name, holder: null, lease_until: null, acquired_at: null, held: false };

export function namedLockState(ctx: CoreContext, name: string): NamedLockState {
  return ctx.store.read((sql) => view(name, sql.get<Row>('SELECT * FROM named_locks WHERE name = ?', [name]), ctx.now()));
}

/**
 * Takes the lock for `holder` with a lease: free or expired locks are taken, the holder re-enters
 * (extending the lease), anyone else gets LOCKED naming the holder and expiry. `reentered` says
 * whether the holder already had it (so it knows not to release what it did not take).
 */
export function tryNamedLock(ctx: CoreContext, name: string, holder: string, ttlSeconds: number) {
  return ctx.store.write(
    (sql) => {
      const now = ctx.now();
      const row = sql.get<Row>('SELECT * FROM named_locks WHERE name = ?', [name]);
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
      sql.run(
        `INSERT INTO named_locks (name, holder_key, lease_until, acquired_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder_key = excluded.holder_key, lease_until = excluded.lease_until,
           acquired_at = CASE WHEN named_locks.holder_key = excluded.holder_key AND named_locks.lease_until > ? THEN named_locks.acquired_at ELSE excluded.acquired_at END`,
        [name, holder, now + ttlSeconds * 1000, now, now],
      );
      return { lock: view(name, sql.get<Row>('SELECT * FROM named_locks WHERE name = ?', [name]), now), reentered };
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
      if (row.holder_key !== holder && row.lease_until > now && !options.force) {
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
