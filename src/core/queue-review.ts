import type { CoreContext } from './context.js';
import { CodestratorError, invalid } from './errors.js';
import { type QueueRequestInput, mergeLockHolder, requestMainMerge } from './merge-queue.js';
import { LockNames, namedLockState, releaseIfHeld, tryNamedLock } from './named-locks.js';
import { requestAutoReview } from './review-dispatch.js';

export interface MainRequestInput extends QueueRequestInput {
  /** Dispatch the merge request's review (default: true when merge_request_id is given). */
  auto_review?: boolean;
  reviewer_role?: string;
  agent_guide_path?: string;
}

const errorOf = (err: unknown, fallbackHint: string) =>
  err instanceof CodestratorError
    ? { code: err.code, message: err.message, hint: err.hint ?? fallbackHint }
    : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), hint: fallbackHint };

/**
 * merge.main.request: queues the item, then (by default, when it names a merge request) dispatches
 * its review under the main-merge lock: the caller's if it holds it, else taken for the dispatch
 * and released after. A lock held by someone else, or a failed dispatch, is reported in
 * review_dispatch_error with the call to make; the item stays queued either way.
 */
export async function requestMainMergeWithReview(ctx: CoreContext, input: MainRequestInput) {
  const { auto_review: autoReview, reviewer_role: reviewerRole, agent_guide_path: guide, ...queue } = input;
  if (autoReview === true && queue.merge_request_id === undefined)
    throw invalid(
      'auto_review needs a merge_request_id: the review is of a merge request.',
      'auto_review',
      'Create one with merge.request first.',
    );
  const queued = await requestMainMerge(ctx, queue);
  if (queue.merge_request_id === undefined || autoReview === false)
    return { ...queued, review_dispatch: null, review_dispatch_error: null };
  const retry = `Call merge.main.acquire_lock, then merge.review.request_auto {merge_request_id: ${queue.merge_request_id}}.`;
  const holder = mergeLockHolder(ctx);
  let taken;
  try {
    taken = tryNamedLock(ctx, LockNames.mainMerge, holder, ctx.config.merge_lock_ttl_seconds);
  } catch (err) {
    return {
      ...queued,
      review_dispatch: null,
      review_dispatch_error: { ...errorOf(err, retry), hint: retry, lock: namedLockState(ctx, LockNames.mainMerge) },
    };
  }
  try {
    const dispatched = await requestAutoReview(ctx, {
      merge_request_id: queue.merge_request_id,
      ...(reviewerRole !== undefined ? { reviewer_role: reviewerRole } : {}),
      ...(guide !== undefined ? { agent_guide_path: guide } : {}),
    });
    return { ...queued, review_dispatch: dispatched, review_dispatch_error: null };
  } catch (err) {
    return { ...queued, review_dispatch: null, review_dispatch_error: errorOf(err, retry) };
  } finally {
    if (!taken.reentered) releaseIfHeld(ctx, LockNames.mainMerge, holder);
  }
}
