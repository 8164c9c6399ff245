import type { ChildAgent } from './config.js';
import type { CoreContext } from './context.js';
import { CodestratorError, notFound } from './errors.js';
import { parseJson } from './json.js';
import { holdsMainLock, landSettledItems } from './merge-land.js';
import { type MergeRequestRow, getMergeRequestRow } from './merge-requests.js';
import {
  type ReviewJobRow,
  activeReviewJob,
  getReviewJob,
  insertReviewJob,
  latestReviewJob,
  reviewJobWire,
  updateReviewJob,
} from './review-jobs.js';
import { ACTIVE_THREAD_STATUSES, type ChildThreadRow, threadWire } from './thread-rows.js';
import { reconcileThreads } from './thread-status.js';
import { spawnChild } from './threads.js';
import { tmuxWire } from './thread-launch.js';
import { attachInfo } from './thread-viewer.js';

const DEFAULT_REVIEWER_ROLE = 'merge-reviewer';

/** Reviewer threads of a request: those its review jobs started, and merge-reviewer threads from before review jobs existed. */
const reviewerThreads = (ctx: CoreContext, mergeRequestId: number) =>
  ctx.store.read((sql) =>
    sql.all<ChildThreadRow>(
      `SELECT * FROM threads WHERE id IN (SELECT reviewer_thread_id FROM review_jobs WHERE merge_request_id = ?)
         OR (role = 'merge-reviewer' AND json_extract(task_spec, '$.merge_request_id') = ?) ORDER BY id`,
      [mergeRequestId, mergeRequestId],
    ),
  );

export interface ReviewDispatchInput {
  merge_request_id: number;
  reviewer_role?: string;
  agent_guide_path?: string;
  /** The contract's raw JSON, stored on the job; `agent` is the agent it chose, when it names one. */
  agent_override?: { raw: string; agent?: ChildAgent };
  ensure_tmux?: boolean;
  auto_install?: boolean;
  /** The agent the call names (runner and runner_kind already resolved); fields it leaves out come from the default. */
  agent?: Partial<ChildAgent>;
}

/** The reviewer's agent: the call's, else agent_override's, else the config's reviewer, else codex. */
function chooseAgent(ctx: CoreContext, input: ReviewDispatchInput): ChildAgent {
  const base: ChildAgent = input.agent_override?.agent ?? ctx.config.reviewer ?? { runner: 'codex' };
  const named = input.agent ?? {};
  const agent: ChildAgent = named.runner && named.runner !== base.runner ? { runner: named.runner } : { ...base };
  if (named.command) agent.command = named.command;
  if (named.script_path) agent.script_path = named.script_path;
  if (named.model) agent.model = named.model;
  return agent;
}

const notHolding = (what: string) =>
  new CodestratorError('PRECONDITION_FAILED', `${what} runs under the main-merge lock, and the caller does not hold it.`, {
    field: 'session_id',
    hint: 'Call merge.main.acquire_lock {session_id} first (skill §6: merge.main.request, merge.main.acquire_lock, merge.review.request_auto).',
  });

/** The job as the caller follows it, with its reviewer thread and how to watch it. */
function jobView(ctx: CoreContext, job: ReviewJobRow) {
  const thread = job.reviewer_thread_id
    ? ctx.store.read((sql) => sql.get<ChildThreadRow>('SELECT * FROM threads WHERE id = ?', [job.reviewer_thread_id]))
    : undefined;
  return {
    review_job: reviewJobWire(job),
    thread: thread ? threadWire(thread) : null,
    attach_info: thread ? attachInfo(ctx, thread) : null,
    tmux: thread?.tmux_session ? tmuxWire(thread) : null,
  };
}

/**
 * merge.review.request_auto: under the caller's main-merge lock (skill rule: review dispatch runs
 * under it), records a review job and spawns a reviewer child in a worktree of the request's
 * first source branch; its merge.review.submit verdict completes the job and moves the request
 * on. A reviewer already running, or a request already approved, returns its job (if any)
 * instead of a second reviewer. The lock is never taken or released here: a failed dispatch leaves it as it was.
 */
export async function requestAutoReview(ctx: CoreContext, input: ReviewDispatchInput) {
  const { request, sourceWorktreeId, active, latest } = ctx.store.read((sql) => {
    const request = getMergeRequestRow(sql, input.merge_request_id);
    const source = sql.get<{ worktree_id: number }>(
      'SELECT worktree_id FROM merge_request_sources WHERE merge_request_id = ? ORDER BY worktree_id LIMIT 1',
      [request.id],
    );
    return {
      request,
      sourceWorktreeId: source?.worktree_id,
      active: activeReviewJob(sql, request.id),
      latest: latestReviewJob(sql, request.id),
    };
  });
  if (!holdsMainLock(ctx)) throw notHolding('merge.review.request_auto');
  const live = active ? await liveJob(ctx, active) : undefined;
  if (live)
    return {
      ...jobView(ctx, live),
      already_running: true,
      notes: [`Review job ${live.id} was already running; no second reviewer was started.`],
    };
  if (request.status === 'approved' || request.status === 'merged')
    return {
      ...(latest ? jobView(ctx, latest) : { review_job: null, thread: null, attach_info: null, tmux: null }),
      already_running: false,
      notes: [`Merge request ${request.id} is already ${request.status}; no reviewer was started.`],
    };
  if (request.status !== 'requested' && request.status !== 'blocked') {
    throw new CodestratorError(
      'PRECONDITION_FAILED',
      `Merge request ${request.id} is ${request.status}; only requested or blocked requests are reviewed.`,
      { field: 'merge_request_id' },
    );
  }
  return dispatch(ctx, input, request, sourceWorktreeId);
}

async function dispatch(ctx: CoreContext, input: ReviewDispatchInput, request: MergeRequestRow, sourceWorktreeId: number | undefined) {
  const agent = chooseAgent(ctx, input);
  const role = input.reviewer_role ?? DEFAULT_REVIEWER_ROLE;
  const job = ctx.store.write((sql) =>
    insertReviewJob(
      sql,
      {
        merge_request_id: request.id,
        session_id: ctx.actor.sessionId ?? null,
        reviewer_role: role,
        agent,
        ...(input.agent_guide_path !== undefined ? { agent_guide_path: input.agent_guide_path } : {}),
        ...(input.agent_override ? { agent_override: input.agent_override.raw } : {}),
      },
      ctx.now(),
    ),
  );
  let spawned;
  try {
    spawned = await spawnChild(ctx, {
      role,
      title: `review merge request ${request.id}`,
      objective: `Review merge request ${request.id} and submit APPROVE or BLOCK with findings (merge.review.submit).`,
      runner: agent.runner,
      task_spec: {
        merge_request_id: request.id,
        feature_task_id: request.feature_task_id,
        review_job_id: job.id,
        ...(request.notes !== null ? { notes: request.notes } : {}),
        ...(request.notes_json !== null ? { notes_json: parseJson<unknown>(request.notes_json, null) } : {}),
      },
      scope_task_ids: [request.feature_task_id],
      ...(sourceWorktreeId !== undefined ? { parent_worktree_id: sourceWorktreeId } : {}),
      ...(agent.command ? { command: agent.command } : {}),
      ...(agent.script_path ? { script_path: agent.script_path } : {}),
      ...(agent.model ? { model: agent.model } : {}),
      ...(input.agent_guide_path !== undefined ? { agent_guide_path: input.agent_guide_path } : {}),
      // The override was resolved into the agent above and is kept on the review job, not applied twice.
      ...(input.ensure_tmux !== undefined ? { ensure_tmux: input.ensure_tmux } : {}),
      ...(input.auto_install !== undefined ? { auto_install: input.auto_install } : {}),
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    ctx.store.write((sql) => updateReviewJob(sql, job.id, { state: 'failed', reason: `spawn failed: ${why}` }, ctx.now()));
    throw err;
  }
  const running = ctx.store.write((sql) =>
    updateReviewJob(
      sql,
      job.id,
      { state: 'running', reason: `reviewer thread ${spawned.thread.id} started`, reviewer_thread_id: spawned.thread.id },
      ctx.now(),
    ),
  );
  const notes =
    input.agent_override && !input.agent_override.agent
      ? [
          `agent_override: stored on review job ${job.id}; it names no agent ({runner, command, script_path, model}), so the reviewer runs ${agent.runner}.`,
        ]
      : [];
  const view = jobView(ctx, running);
  return {
    ...spawned,
    review_job: view.review_job,
    already_running: false,
    notes: [...(spawned.notes ?? []), ...notes],
  };
}

export interface ThreadStatusInput {
  review_job_id?: number;
  merge_request_id?: number;
}

/** A running job whose reviewer ended without a verdict has failed; say so on the job. */
function settleJob(ctx: CoreContext, job: ReviewJobRow): ReviewJobRow {
  if (job.state !== 'running' || job.reviewer_thread_id === null) return job;
  return ctx.store.write((sql) => {
    const thread = sql.get<{ status: string; status_reason: string | null }>('SELECT status, status_reason FROM threads WHERE id = ?', [
      job.reviewer_thread_id,
    ]);
    if (!thread || (ACTIVE_THREAD_STATUSES as readonly string[]).includes(thread.status)) return job;
    const why = `reviewer thread ${job.reviewer_thread_id} ended (${thread.status}${thread.status_reason ? `: ${thread.status_reason}` : ''}) without a verdict`;
    return updateReviewJob(sql, job.id, { state: 'failed', reason: why }, ctx.now());
  });
}

/** How long a job may stay `requested` (its spawn under way) before it counts as abandoned. */
const DISPATCH_TIMEOUT_MS = 120_000;

/** The job if its reviewer is still starting or running (its thread reconciled first); undefined once it has ended. */
async function liveJob(ctx: CoreContext, job: ReviewJobRow): Promise<ReviewJobRow | undefined> {
  if (job.state === 'requested') {
    if (ctx.now() - job.updated_at < DISPATCH_TIMEOUT_MS) return job;
    ctx.store.write((sql) => updateReviewJob(sql, job.id, { state: 'failed', reason: 'the dispatch never finished' }, ctx.now()));
    return undefined;
  }
  const thread = ctx.store.read((sql) => sql.get<ChildThreadRow>('SELECT * FROM threads WHERE id = ?', [job.reviewer_thread_id]));
  if (thread) await reconcileThreads(ctx, [thread]);
  const settled = settleJob(ctx, job);
  return settled.state === 'running' ? settled : undefined;
}

/**
 * merge.review.thread_status: a review job (by id, or the latest of a merge request) with its
 * reviewer thread (reconciled with its pane), the request and its latest verdict. Once the
 * verdict is in and the caller holds the main-merge lock, the caller's settled items land
 * (landSettledItems) and `items` says what happened to them.
 */
export async function reviewThreadStatus(ctx: CoreContext, input: ThreadStatusInput) {
  const start = ctx.store.read((sql) => {
    const job = input.review_job_id !== undefined ? getReviewJob(sql, input.review_job_id) : undefined;
    if (job && input.merge_request_id !== undefined && job.merge_request_id !== input.merge_request_id)
      throw new CodestratorError('INVALID_ARGUMENT', `Review job ${job.id} belongs to merge request ${job.merge_request_id}.`, {
        field: 'merge_request_id',
      });
    const requestId = job?.merge_request_id ?? input.merge_request_id!;
    if (!sql.get('SELECT 1 FROM merge_requests WHERE id = ?', [requestId])) throw notFound('Merge request', requestId, 'merge_request_id');
    return { requestId, jobId: job?.id };
  });
  await reconcileThreads(ctx, reviewerThreads(ctx, start.requestId));
  const found = ctx.store.read((sql) =>
    start.jobId !== undefined ? getReviewJob(sql, start.jobId) : latestReviewJob(sql, start.requestId),
  );
  const job = found ? settleJob(ctx, found) : undefined;
  const { request, review } = ctx.store.read((sql) => ({
    request: getMergeRequestRow(sql, start.requestId),
    review:
      sql.get<{ id: number; verdict: string; summary: string | null; reviewer_key: string | null; created_at: number }>(
        'SELECT id, verdict, summary, reviewer_key, created_at FROM reviews WHERE merge_request_id = ? ORDER BY id DESC LIMIT 1',
        [start.requestId],
      ) ?? null,
  }));
  // A re-review after a BLOCK is under way while its job runs: the old verdict is not the answer.
  const reviewing = job?.state === 'requested' || job?.state === 'running';
  const decided = !reviewing && (request.status === 'approved' || request.status === 'blocked' || request.status === 'merged');
  const items = decided ? await landSettledItems(ctx) : [];
  const threads = reviewerThreads(ctx, request.id).map(threadWire);
  const view = job ? jobView(ctx, job) : { review_job: null, thread: null, attach_info: null, tmux: null };
  return {
    ...view,
    merge_request: { id: request.id, status: request.status, feature_task_id: request.feature_task_id },
    latest_review: review,
    verdict: decided ? (review?.verdict ?? null) : null,
    reviewer_threads: threads,
    count: threads.length,
    items,
    hint: decided
      ? 'The verdict is in: merge.main.release_lock lands your approved items (and reports them) before it releases the lock.'
      : job?.state === 'failed'
        ? `Review job ${job.id} failed (${job.reason}): dispatch again with merge.review.request_auto while holding the main-merge lock.`
        : 'No verdict yet: call merge.review.thread_status again in a while.',
  };
}
