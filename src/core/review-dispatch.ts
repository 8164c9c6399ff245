import type { CoreContext } from './context.js';
import { CodestratorError, notFound } from './errors.js';
import { type ChildThreadRow, threadWire } from './thread-rows.js';
import { reconcileThreads } from './thread-status.js';
import { type SpawnInput, spawnChild } from './threads.js';

interface RequestRow {
  id: number;
  status: string;
  feature_task_id: number;
}

const reviewerThreads = (ctx: CoreContext, mergeRequestId: number) =>
  ctx.store.read((sql) =>
    sql.all<ChildThreadRow>(
      "SELECT * FROM threads WHERE role = 'merge-reviewer' AND json_extract(task_spec, '$.merge_request_id') = ? ORDER BY id",
      [mergeRequestId],
    ),
  );

export interface ReviewDispatchInput {
  merge_request_id: number;
  runner?: SpawnInput['runner'];
  command?: string[];
  script_path?: string;
  model?: string;
}

/**
 * merge.review.request_auto: spawns a merge-reviewer child in a worktree of the request's first
 * source branch, with the review-context instructions of the reviewer template; its
 * merge.review.submit verdict moves the request on. The main-merge lock is never touched, so a
 * failed dispatch leaves it exactly as it was.
 */
export async function requestAutoReview(ctx: CoreContext, input: ReviewDispatchInput) {
  const { request, sourceWorktreeId } = ctx.store.read((sql) => {
    const request = sql.get<RequestRow>('SELECT id, status, feature_task_id FROM merge_requests WHERE id = ?', [input.merge_request_id]);
    if (!request) throw notFound('Merge request', input.merge_request_id, 'merge_request_id');
    const source = sql.get<{ worktree_id: number }>(
      'SELECT worktree_id FROM merge_request_sources WHERE merge_request_id = ? ORDER BY worktree_id LIMIT 1',
      [request.id],
    );
    return { request, sourceWorktreeId: source?.worktree_id };
  });
  if (request.status !== 'requested' && request.status !== 'blocked') {
    throw new CodestratorError(
      'PRECONDITION_FAILED',
      `Merge request ${request.id} is ${request.status}; only requested or blocked requests are reviewed.`,
      { field: 'merge_request_id' },
    );
  }
  const running = reviewerThreads(ctx, request.id).filter((thread) => ['starting', 'running', 'blocked'].includes(thread.status));
  if (running.length > 0) {
    throw new CodestratorError('CONFLICT', `Merge request ${request.id} already has a reviewer running (thread ${running[0]!.id}).`, {
      hint: 'Follow it with merge.review.thread_status.',
      data: { thread_id: running[0]!.id },
    });
  }
  const spawned = await spawnChild(ctx, {
    role: 'merge-reviewer',
    title: `review merge request ${request.id}`,
    objective: `Review merge request ${request.id} and submit APPROVE or BLOCK with findings.`,
    runner: input.runner ?? 'codex',
    task_spec: { merge_request_id: request.id, feature_task_id: request.feature_task_id },
    scope_task_ids: [request.feature_task_id],
    ...(sourceWorktreeId !== undefined ? { parent_worktree_id: sourceWorktreeId } : {}),
    ...(input.command ? { command: input.command } : {}),
    ...(input.script_path ? { script_path: input.script_path } : {}),
    ...(input.model ? { model: input.model } : {}),
  });
  return { review_job: { merge_request_id: request.id, reviewer_thread_id: spawned.thread.id, state: 'running' }, ...spawned };
}

/** merge.review.thread_status: the request, its latest verdict and its reviewer threads (reconciled). */
export async function reviewThreadStatus(ctx: CoreContext, input: { merge_request_id: number }) {
  const threads = reviewerThreads(ctx, input.merge_request_id);
  await reconcileThreads(ctx, threads);
  return ctx.store.read((sql) => {
    const request = sql.get<RequestRow>('SELECT id, status, feature_task_id FROM merge_requests WHERE id = ?', [input.merge_request_id]);
    if (!request) throw notFound('Merge request', input.merge_request_id, 'merge_request_id');
    const review =
      sql.get('SELECT id, verdict, summary, reviewer_key, created_at FROM reviews WHERE merge_request_id = ? ORDER BY id DESC LIMIT 1', [
        request.id,
      ]) ?? null;
    const fresh = reviewerThreads(ctx, request.id).map(threadWire);
    return { merge_request: request, latest_review: review, reviewer_threads: fresh, count: fresh.length };
  });
}
