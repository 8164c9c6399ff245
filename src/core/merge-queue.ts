import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { isDeadProcess } from './holders.js';
import { ownerKeyOf } from './identity.js';
import { parseJson } from './json.js';
import { LockNames, namedLockState, releaseNamedLock, tryNamedLock } from './named-locks.js';
import type { Sql } from './ports.js';
import { type PageRequest, cursorId, pageLimit, toPage } from './paging.js';
import { targetBranch } from './target.js';
import { OPEN_STATES, type QueueState } from './queue-states.js';
import { checkBranchName, getWorktree } from './worktrees.js';

export { OPEN_STATES, QUEUE_STATES, type QueueState } from './queue-states.js';

export interface QueueRow {
  id: number;
  session_id: number | null;
  source_worktree_id: number;
  source_branch: string;
  target_branch: string;
  merge_request_id: number | null;
  state: QueueState;
  reason: string | null;
  conflict_files: string;
  merge_commit: string | null;
  target_before: string | null;
  gate_log_path: string | null;
  gate_log_tail: string | null;
  attempts: number;
  /** The process checking it (`<machine>/<pid>/<start time>`), and its gate run. */
  processor: string | null;
  gate_process: string | null;
  gate_dir: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export const queueWire = (row: QueueRow) => ({ ...row, conflict_files: parseJson<string[]>(row.conflict_files, []) });

export function getQueueItem(sql: Sql, id: number, field = 'request_id'): QueueRow {
  const row = sql.get<QueueRow>('SELECT * FROM merge_queue WHERE id = ?', [id]);
  if (!row) throw notFound('Merge queue item', id, field);
  return row;
}

export interface QueueRequestInput {
  from_worktree_id?: number;
  target_branch?: string;
  merge_request_id?: number;
}

/**
 * merge.main.request: queues a worktree's branch (by default the caller's session root) for the
 * target branch. A source has at most one open item; asking again returns it.
 */
export async function requestMainMerge(ctx: CoreContext, input: QueueRequestInput) {
  if (input.target_branch !== undefined) await checkBranchName(ctx, input.target_branch, 'target_branch');
  const target = await targetBranch(ctx, input.target_branch);
  return ctx.store.write((sql) => {
    let worktreeId = input.from_worktree_id;
    if (worktreeId === undefined) {
      const session =
        ctx.actor.sessionId !== undefined
          ? sql.get<{ worktree_id: number | null }>('SELECT worktree_id FROM sessions WHERE id = ?', [ctx.actor.sessionId])
          : undefined;
      if (!session?.worktree_id)
        throw invalid('merge.main.request needs from_worktree_id, or a calling session with a worktree.', 'from_worktree_id');
      worktreeId = session.worktree_id;
    }
    const worktree = getWorktree(sql, worktreeId, 'from_worktree_id');
    if (worktree.status !== 'active')
      throw new CodestratorError('PRECONDITION_FAILED', `Worktree ${worktree.id} is ${worktree.status}.`, { field: 'from_worktree_id' });
    if (worktree.branch === target) throw invalid(`Worktree ${worktree.id} is on ${target} itself.`, 'from_worktree_id');
    if (input.merge_request_id !== undefined && !sql.get('SELECT 1 FROM merge_requests WHERE id = ?', [input.merge_request_id])) {
      throw notFound('Merge request', input.merge_request_id, 'merge_request_id');
    }
    const open = sql.get<QueueRow>(
      `SELECT * FROM merge_queue WHERE source_worktree_id = ? AND state IN ('queued', 'checking', 'waiting', 'blocked_by_review')`,
      [worktree.id],
    );
    if (open) return { main_merge_request: queueWire(open), already_queued: true, position: position(sql, open) };
    const now = ctx.now();
    const row = sql.get<QueueRow>(
      `INSERT INTO merge_queue (session_id, source_worktree_id, source_branch, target_branch, merge_request_id, state, reason, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'queued', 'waiting for its turn', ?, ?) RETURNING *`,
      [ctx.actor.sessionId ?? worktree.owner_session_id, worktree.id, worktree.branch, target, input.merge_request_id ?? null, now, now],
    )!;
    return {
      main_merge_request: queueWire(row),
      already_queued: false,
      position: position(sql, row),
      hint:
        row.merge_request_id === null
          ? 'merge.main.acquire_lock then merge.main.release_lock lands it (or merge.main.process).'
          : 'Skill §6: merge.main.acquire_lock, merge.review.request_auto, merge.review.thread_status until the verdict, merge.main.release_lock lands it.',
    };
  });
}

function position(sql: Sql, row: QueueRow): number {
  return sql.get<{ n: number }>("SELECT count(*) AS n FROM merge_queue WHERE state IN ('queued', 'waiting') AND id <= ?", [row.id])!.n;
}

export function nextQueued(ctx: CoreContext) {
  return ctx.store.read((sql) => {
    const row = sql.get<QueueRow>("SELECT * FROM merge_queue WHERE state IN ('queued', 'waiting') ORDER BY id LIMIT 1");
    return { item: row ? queueWire(row) : null, lock: namedLockState(ctx, LockNames.mainMerge) };
  });
}

export function queueStatus(ctx: CoreContext, input: { request_id: number }) {
  return ctx.store.read((sql) => {
    const row = getQueueItem(sql, input.request_id);
    return { main_merge_request: queueWire(row), position: OPEN_STATES.includes(row.state) ? position(sql, row) : null };
  });
}

export function listQueue(ctx: CoreContext, input: PageRequest & { state?: QueueState }) {
  return ctx.store.read((sql) => {
    const limit = pageLimit(input);
    const where = ['id > ?'];
    const params: (string | number)[] = [cursorId(input)];
    if (input.state) {
      where.push('state = ?');
      params.push(input.state);
    }
    const rows = sql.all<QueueRow>(`SELECT * FROM merge_queue WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, [...params, limit + 1]);
    return toPage(rows, limit, queueWire);
  });
}

/**
 * merge.main.cancel: an open item that is not being checked right now can be cancelled, and so can
 * one left checking by a processor that is gone (its gate is stopped and removed by recovery).
 */
export function cancelQueueItem(ctx: CoreContext, input: { request_id: number; reason: string }) {
  return ctx.store.write((sql) => {
    const row = getQueueItem(sql, input.request_id);
    const orphaned = row.state === 'checking' && isDeadProcess(ctx, row.processor);
    if (!['queued', 'waiting', 'blocked_by_review'].includes(row.state) && !orphaned) {
      throw new CodestratorError(
        'PRECONDITION_FAILED',
        `Item ${row.id} is ${row.state}; only queued, waiting or blocked items can be cancelled.`,
        { field: 'request_id' },
      );
    }
    const now = ctx.now();
    const updated = sql.get<QueueRow>(
      "UPDATE merge_queue SET state = 'cancelled', reason = ?, finished_at = ?, updated_at = ? WHERE id = ? RETURNING *",
      [`cancelled: ${input.reason}`, now, now, row.id],
    )!;
    return { main_merge_request: queueWire(updated) };
  });
}

/** The holder key of the main-merge lock for this caller: its owner key, or this process. */
export const mergeLockHolder = (ctx: CoreContext): string => ownerKeyOf(ctx.actor) ?? `process:${process.pid}`;

export function acquireMainLock(ctx: CoreContext, input: { ttl_seconds?: number }) {
  // Held across calls (§6: acquire, review, release), so not bound to this process.
  return tryNamedLock(ctx, LockNames.mainMerge, mergeLockHolder(ctx), input.ttl_seconds ?? ctx.config.merge_lock_ttl_seconds, {
    outlivesCall: true,
  });
}

export function releaseMainLock(ctx: CoreContext, input: { force?: boolean; reason?: string }) {
  if (input.force && !input.reason) throw invalid('force needs a reason, which is recorded.', 'reason');
  const released = releaseNamedLock(ctx, LockNames.mainMerge, mergeLockHolder(ctx), { force: input.force });
  if (input.force) {
    ctx.store.write((sql) =>
      sql.run('INSERT INTO audit_events (method, actor_key, target, reason, created_at) VALUES (?, ?, ?, ?, ?)', [
        'merge.main.release_lock',
        ownerKeyOf(ctx.actor) ?? null,
        LockNames.mainMerge,
        input.reason!,
        ctx.now(),
      ]),
    );
  }
  return { released, lock: namedLockState(ctx, LockNames.mainMerge) };
}
