import type { CoreContext } from './context.js';
import { invalid } from './errors.js';
import { ownerKeyOf } from './identity.js';
import { type QueueRow, mergeLockHolder, queueWire, releaseMainLock } from './merge-queue.js';
import { claimItem, landClaimed } from './merge-queue-process.js';
import { LockNames, namedLockState } from './named-locks.js';
import { OPEN_STATES } from './queue-states.js';

/**
 * The skill's §6 ending: merge.main.request → acquire_lock → review.request_auto →
 * review.thread_status → release_lock. While the caller holds the main-merge lock, its own queue
 * items whose review is settled go through the same gate and compare-and-swap publish as
 * merge.main.process (landClaimed); items still waiting for a verdict stay queued, saying so.
 */

/** What happened to one of the caller's items, as release_lock and thread_status report it. */
export interface ItemReport {
  request_id: number;
  source_branch: string;
  target_branch: string;
  merge_request_id: number | null;
  /** merged, conflict, gate_failed, blocked_by_review, waiting, cancelled; or queued (waiting for a verdict). */
  state: string;
  reason: string | null;
  waiting_for_review: boolean;
  merge_commit: string | null;
  conflict_files: string[];
}

const report = (row: QueueRow, waitingForReview = false): ItemReport => {
  const wire = queueWire(row);
  return {
    request_id: wire.id,
    source_branch: wire.source_branch,
    target_branch: wire.target_branch,
    merge_request_id: wire.merge_request_id,
    state: wire.state,
    reason: wire.reason,
    waiting_for_review: waitingForReview,
    merge_commit: wire.merge_commit,
    conflict_files: wire.conflict_files,
  };
};

/** Whether the caller holds the main-merge lock right now. */
export function holdsMainLock(ctx: CoreContext): boolean {
  return namedLockState(ctx, LockNames.mainMerge).holder === mergeLockHolder(ctx);
}

interface OpenItem {
  row: QueueRow;
  review: { status: string; reviewer: number | null } | null;
}

function openItemsOf(ctx: CoreContext, sessionId: number): OpenItem[] {
  return ctx.store.read((sql) =>
    sql
      .all<QueueRow>(`SELECT * FROM merge_queue WHERE session_id = ? AND state IN (${OPEN_STATES.map(() => '?').join(', ')}) ORDER BY id`, [
        sessionId,
        ...OPEN_STATES,
      ])
      .map((row) => ({
        row,
        review:
          row.merge_request_id === null
            ? null
            : (sql.get<{ status: string; reviewer: number | null }>(
                `SELECT m.status, (SELECT reviewer_thread_id FROM review_jobs j WHERE j.merge_request_id = m.id AND j.state IN ('requested', 'running')
                   ORDER BY j.id DESC LIMIT 1) AS reviewer FROM merge_requests m WHERE m.id = ?`,
                [row.merge_request_id],
              ) ?? null),
      })),
  );
}

/** Leaves an item awaiting its verdict as it is, with a reason that says so. */
function markAwaitingVerdict(ctx: CoreContext, item: OpenItem): QueueRow {
  const who = item.review?.reviewer
    ? `reviewer thread ${item.review.reviewer} is running`
    : 'no reviewer is running (merge.review.request_auto)';
  const reason = `waiting for the review of merge request ${item.row.merge_request_id}: no verdict yet; ${who}`;
  return ctx.store.write(
    (sql) =>
      sql.get<QueueRow>('UPDATE merge_queue SET reason = ?, updated_at = ? WHERE id = ? RETURNING *', [reason, ctx.now(), item.row.id])!,
  );
}

/**
 * Lands the caller's own open queue items whose review is settled, under the main-merge lock the
 * caller holds (nothing happens, and [] is returned, when it does not hold it). An item with a
 * merge request that has no verdict yet stays as it is with a reason saying so; a blocked one is
 * reported as blocked_by_review; every other item goes through landClaimed.
 */
export async function landSettledItems(ctx: CoreContext): Promise<ItemReport[]> {
  const sessionId = ctx.actor.sessionId;
  if (sessionId === undefined || !holdsMainLock(ctx)) return [];
  const holder = mergeLockHolder(ctx);
  const reports: ItemReport[] = [];
  for (const item of openItemsOf(ctx, sessionId)) {
    if (item.review?.status === 'requested') {
      reports.push(report(markAwaitingVerdict(ctx, item), true));
      continue;
    }
    const claimed = item.row.state === 'blocked_by_review' ? undefined : claimItem(ctx, item.row.id);
    reports.push(report(claimed ? await landClaimed(ctx, claimed, holder) : item.row));
  }
  return reports;
}

/** The caller's items that finished since `since` and are not already in `reports`. */
function finishedSince(ctx: CoreContext, sessionId: number, since: number, reports: readonly ItemReport[]): ItemReport[] {
  const seen = new Set(reports.map((r) => r.request_id));
  return ctx.store
    .read((sql) => sql.all<QueueRow>('SELECT * FROM merge_queue WHERE session_id = ? AND finished_at >= ? ORDER BY id', [sessionId, since]))
    .filter((row) => !seen.has(row.id))
    .map((row) => report(row));
}

/**
 * merge.main.release_lock: before the caller lets go of the lock it holds, its settled items land
 * (landSettledItems); the result lists what happened to its items while it held the lock. An item
 * still waiting for its reviewer stays queued: release never waits for a verdict.
 */
export async function finishAndRelease(ctx: CoreContext, input: { force?: boolean; reason?: string }) {
  if (input.force && !input.reason) throw invalid('force needs a reason, which is recorded.', 'reason');
  const lock = namedLockState(ctx, LockNames.mainMerge);
  const held = lock.holder === mergeLockHolder(ctx) && ownerKeyOf(ctx.actor) !== undefined;
  const landed = held ? await landSettledItems(ctx) : [];
  const items =
    held && ctx.actor.sessionId !== undefined ? [...finishedSince(ctx, ctx.actor.sessionId, lock.acquired_at!, landed), ...landed] : [];
  const released = releaseMainLock(ctx, input);
  const waiting = items.filter((item) => item.waiting_for_review).map((item) => item.request_id);
  return {
    ...released,
    items,
    ...(waiting.length > 0
      ? {
          hint: `Item(s) ${waiting.join(', ')} still wait for a review verdict and stay queued: follow merge.review.thread_status, then merge.main.acquire_lock and merge.main.release_lock again (or merge.main.process).`,
        }
      : {}),
  };
}
