import { z } from 'zod';
import { QUEUE_STATES, acquireMainLock, cancelQueueItem, listQueue, nextQueued, queueStatus } from '../core/merge-queue.js';
import { finishAndRelease } from '../core/merge-land.js';
import { processQueue } from '../core/merge-queue-process.js';
import { requestMainMergeWithReview } from '../core/queue-review.js';
import { force, id, identity, paging, text } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';
import { guidePath, reviewerRole } from './merge-review.js';

const requestId = id('Main-merge queue item');

export const mergeMethods = [
  defineMethod({
    name: 'merge.main.request',
    group: 'orch_merge',
    summary: 'Queue a branch (default: your session root) for main; with a merge_request_id, also dispatch its review.',
    params: z.strictObject({
      from_worktree_id: id('Worktree to land').optional(),
      target_branch: z.string().min(1).max(250).optional(),
      merge_request_id: id('Merge request whose review gates this item').optional(),
      auto_review: z.boolean().optional().describe('Dispatch the review (merge.review.request_auto); default true with a merge_request_id'),
      reviewer_role: reviewerRole.optional(),
      agent_guide_path: guidePath.optional(),
      ...identity,
    }),
    example: { from_worktree_id: 1, merge_request_id: 1 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => requestMainMergeWithReview(ctx, params),
  }),
  defineMethod({
    name: 'merge.main.next',
    group: 'orch_merge',
    summary: 'The next item the queue will process, and who holds the main-merge lock.',
    params: z.strictObject({}),
    example: {},
    mutates: false,
    identity: 'none',
    handler: (_params, ctx) => nextQueued(ctx),
  }),
  defineMethod({
    name: 'merge.main.status',
    group: 'orch_merge',
    summary: 'One queue item: state (queued, checking, waiting, merged, conflict, gate_failed, blocked_by_review, cancelled), reason.',
    params: z.strictObject({ request_id: requestId }),
    example: { request_id: 1 },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => queueStatus(ctx, params),
  }),
  defineMethod({
    name: 'merge.main.list',
    group: 'orch_merge',
    summary: 'Queue items, optionally in one state.',
    params: z.strictObject({ state: z.enum(QUEUE_STATES).optional(), ...paging }),
    example: { state: 'queued' },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listQueue(ctx, params),
  }),
  defineMethod({
    name: 'merge.main.cancel',
    group: 'orch_merge',
    summary: 'Cancel a queued, waiting or review-blocked item.',
    params: z.strictObject({ request_id: requestId, reason: text('Why'), ...identity }),
    example: { request_id: 1, reason: 'superseded' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => cancelQueueItem(ctx, params),
  }),
  defineMethod({
    name: 'merge.main.process',
    group: 'orch_merge',
    summary: 'Land queued items one by one under the main-merge lock: conflict check, merge commit, gate, review, compare-and-swap.',
    params: z.strictObject({
      max_items: z.number().int().min(1).max(1000).optional(),
      wait_seconds: z.number().int().min(0).max(3600).optional().describe('Wait this long for the main-merge lock (default 0)'),
      ...identity,
    }),
    example: {},
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => processQueue(ctx, params),
  }),
  defineMethod({
    name: 'merge.main.acquire_lock',
    group: 'orch_merge',
    summary: 'Take the main-merge lock (lease; re-entrant; taken over only after expiry).',
    params: z.strictObject({ ttl_seconds: z.number().int().min(1).max(86_400).optional(), ...identity }),
    example: { ttl_seconds: 900 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => acquireMainLock(ctx, params),
  }),
  defineMethod({
    name: 'merge.main.release_lock',
    group: 'orch_merge',
    summary: 'Land your reviewed items (items: each outcome), then release the main-merge lock; force with a reason clears another holder.',
    params: z.strictObject({ ...identity, ...force }),
    example: {},
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => finishAndRelease(ctx, params),
  }),
];
