import type { ChildAgent } from './config.js';
import { notFound } from './errors.js';
import { parseJson, toJson } from './json.js';
import type { Sql } from './ports.js';

/**
 * Review jobs: one row per reviewer dispatch (merge.review.request_auto), so the dispatch has an
 * id to follow (merge.review.thread_status {review_job_id}). A job is `requested` while its
 * reviewer starts, `running` once it does, `completed` when a verdict is recorded on its merge
 * request, and `failed` when the spawn fails or the reviewer ends without a verdict.
 */

export const REVIEW_JOB_STATES = ['requested', 'running', 'completed', 'failed'] as const;
export type ReviewJobState = (typeof REVIEW_JOB_STATES)[number];

export interface ReviewJobRow {
  id: number;
  merge_request_id: number;
  session_id: number | null;
  reviewer_thread_id: number | null;
  state: ReviewJobState;
  reason: string | null;
  reviewer_role: string;
  agent: string | null;
  agent_guide_path: string | null;
  agent_override: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

/** The wire shape: stored JSON parsed; agent_override stays the raw JSON it was given as (the contract's meaning). */
export const reviewJobWire = (row: ReviewJobRow) => ({ ...row, agent: parseJson<ChildAgent | null>(row.agent, null) });

export function getReviewJob(sql: Sql, id: number, field = 'review_job_id'): ReviewJobRow {
  const row = sql.get<ReviewJobRow>('SELECT * FROM review_jobs WHERE id = ?', [id]);
  if (!row) throw notFound('Review job', id, field);
  return row;
}

export const latestReviewJob = (sql: Sql, mergeRequestId: number): ReviewJobRow | undefined =>
  sql.get<ReviewJobRow>('SELECT * FROM review_jobs WHERE merge_request_id = ? ORDER BY id DESC LIMIT 1', [mergeRequestId]);

/** The job whose reviewer is starting or running, if any: a second dispatch returns it instead of a second reviewer. */
export const activeReviewJob = (sql: Sql, mergeRequestId: number): ReviewJobRow | undefined =>
  sql.get<ReviewJobRow>(
    "SELECT * FROM review_jobs WHERE merge_request_id = ? AND state IN ('requested', 'running') ORDER BY id DESC LIMIT 1",
    [mergeRequestId],
  );

export interface NewReviewJob {
  merge_request_id: number;
  session_id: number | null;
  reviewer_role: string;
  agent: ChildAgent;
  agent_guide_path?: string;
  agent_override?: string;
}

export function insertReviewJob(sql: Sql, job: NewReviewJob, now: number): ReviewJobRow {
  return sql.get<ReviewJobRow>(
    `INSERT INTO review_jobs (merge_request_id, session_id, state, reviewer_role, agent, agent_guide_path, agent_override, created_at, updated_at)
     VALUES (?, ?, 'requested', ?, ?, ?, ?, ?, ?) RETURNING *`,
    [
      job.merge_request_id,
      job.session_id,
      job.reviewer_role,
      toJson(job.agent),
      job.agent_guide_path ?? null,
      job.agent_override ?? null,
      now,
      now,
    ],
  )!;
}

export function updateReviewJob(
  sql: Sql,
  id: number,
  change: { state: ReviewJobState; reason: string; reviewer_thread_id?: number },
  now: number,
): ReviewJobRow {
  const final = change.state === 'completed' || change.state === 'failed';
  return sql.get<ReviewJobRow>(
    `UPDATE review_jobs SET state = ?, reason = ?, reviewer_thread_id = coalesce(?, reviewer_thread_id), updated_at = ?,
       completed_at = CASE WHEN ? THEN ? ELSE completed_at END WHERE id = ? RETURNING *`,
    [change.state, change.reason, change.reviewer_thread_id ?? null, now, final ? 1 : 0, now, id],
  )!;
}

/** A verdict settles every open job of its request (called in merge.review.submit's transaction). */
export function completeReviewJobs(sql: Sql, mergeRequestId: number, verdict: string, now: number): void {
  sql.run(
    `UPDATE review_jobs SET state = 'completed', reason = ?, updated_at = ?, completed_at = ?
     WHERE merge_request_id = ? AND state IN ('requested', 'running')`,
    [`verdict ${verdict} recorded`, now, now, mergeRequestId],
  );
}
