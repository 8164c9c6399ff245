import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { ownerKeyOf } from './identity.js';
import { parseJson, toJson } from './json.js';
import type { Sql } from './ports.js';
import { completeReviewJobs } from './review-jobs.js';
import type { WorktreeRow } from './rows.js';
import { targetBranch } from './target.js';
import { getTask } from './tasks.js';
import { gitStep } from './worktree-create.js';

/** Merge requests: a feature task plus the worktrees that carry its work, reviewed before it lands. */

export const MERGE_REQUEST_STATUSES = ['requested', 'approved', 'blocked', 'merged', 'cancelled'] as const;
export type MergeRequestStatus = (typeof MERGE_REQUEST_STATUSES)[number];
export const VERDICTS = ['APPROVE', 'BLOCK'] as const;
export type Verdict = (typeof VERDICTS)[number];
export const SEVERITIES = ['info', 'minor', 'major', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Statuses a review may be submitted in: a first review, or a re-review after a BLOCK was addressed. */
const REVIEWABLE: ReadonlySet<string> = new Set<MergeRequestStatus>(['requested', 'blocked']);

export interface MergeRequestRow {
  id: number;
  feature_task_id: number;
  target_branch: string;
  status: MergeRequestStatus;
  reviewer_session_id: number | null;
  requested_by: string | null;
  notes: string | null;
  /** The contract's notes_json: raw JSON text, parsed on the wire. */
  notes_json: string | null;
  created_at: number;
  updated_at: number;
}

export interface ReviewRow {
  id: number;
  merge_request_id: number;
  verdict: Verdict;
  summary: string | null;
  findings: string;
  reviewer_key: string | null;
  created_at: number;
}

export interface Finding {
  file: string;
  line?: number;
  severity: Severity;
  text: string;
}

/** A source worktree as a merge request sees it (migration 3 added removed_at to worktrees). */
export type SourceWorktree = Pick<WorktreeRow, 'kind' | 'slug' | 'path' | 'branch' | 'status'> & {
  worktree_id: number;
  removed_at: number | null;
};

export function getMergeRequestRow(sql: Sql, id: number, field = 'merge_request_id'): MergeRequestRow {
  const row = sql.get<MergeRequestRow>('SELECT * FROM merge_requests WHERE id = ?', [id]);
  if (!row) throw notFound('Merge request', id, field);
  return row;
}

export const sourcesOf = (sql: Sql, mergeRequestId: number): SourceWorktree[] =>
  sql.all<SourceWorktree>(
    `SELECT w.id AS worktree_id, w.kind, w.slug, w.path, w.branch, w.status, w.removed_at
     FROM merge_request_sources s JOIN worktrees w ON w.id = s.worktree_id
     WHERE s.merge_request_id = ? ORDER BY w.id`,
    [mergeRequestId],
  );

export const reviewWire = (row: ReviewRow) => ({ ...row, findings: parseJson<Finding[]>(row.findings, []) });

/** The wire shape of a merge request: its row plus its source worktrees. */
export const mergeRequestWire = (sql: Sql, row: MergeRequestRow) => ({
  ...row,
  notes_json: parseJson<unknown>(row.notes_json, null),
  sources: sourcesOf(sql, row.id),
});

/**
 * The worktrees a request merges: the ones named, else the caller's session-root worktree.
 * Each must exist and still be on disk (not a `creating` reservation, not removed). Duplicates collapse.
 */
function resolveSources(sql: Sql, ctx: CoreContext, ids: readonly number[] | undefined): number[] {
  let chosen = ids;
  if (chosen === undefined) {
    const session =
      ctx.actor.sessionId === undefined
        ? undefined
        : sql.get<{ worktree_id: number | null }>('SELECT worktree_id FROM sessions WHERE id = ?', [ctx.actor.sessionId]);
    if (!session?.worktree_id) {
      throw invalid(
        ctx.actor.sessionId === undefined
          ? 'merge.request needs source_worktree_ids: the call names no session whose worktree could be the default.'
          : `merge.request needs source_worktree_ids: session ${ctx.actor.sessionId} has no worktree of its own.`,
        'source_worktree_ids',
        'Pass the worktree ids that carry the feature (worktree ids are in session.context and worktree listings).',
      );
    }
    chosen = [session.worktree_id];
  }
  for (const [index, id] of chosen.entries()) {
    const field = `source_worktree_ids.${index}`;
    const row = sql.get<{ status: string; removed_at: number | null }>('SELECT status, removed_at FROM worktrees WHERE id = ?', [id]);
    if (!row) throw notFound('Worktree', id, field);
    if (row.status === 'removed' || row.removed_at !== null || row.status === 'creating') {
      throw new CodestratorError(
        'PRECONDITION_FAILED',
        `Worktree ${id} is ${row.status === 'creating' ? 'still being created' : 'removed'}; it cannot be a merge source.`,
        { field, hint: 'Name worktrees that exist on disk.' },
      );
    }
  }
  return [...new Set(chosen)];
}

export interface CreateMergeRequestInput {
  feature_task_id: number;
  source_worktree_ids?: number[];
  target_branch?: string;
  reviewer_session?: number;
  notes?: string;
  /** Raw JSON (the contract's notes_json), already checked to parse; shown to the reviewer beside notes. */
  notes_json?: string;
}

/**
 * merge.request: records a feature and its source worktrees for review, status `requested`.
 * The target branch is resolved (and checked to exist) with git before the write transaction.
 */
export async function createMergeRequest(ctx: CoreContext, input: CreateMergeRequestInput) {
  const target = await targetBranch(ctx, input.target_branch);
  const branches = await gitStep(`list branch ${target}`, ctx.git.listBranches(target));
  if (!branches.has(target)) {
    throw invalid(
      `The target branch ${target} does not exist in this repository.`,
      'target_branch',
      'Pass an existing local branch, or omit target_branch for the configured target (else the main branch).',
    );
  }
  return ctx.store.write((sql) => {
    const feature = getTask(sql, input.feature_task_id, 'feature_task_id');
    if (feature.level !== 'feature') {
      throw invalid(
        `Task ${feature.id} is a ${feature.level}, not a feature.`,
        'feature_task_id',
        'A merge request covers one feature: pass the id of its level=feature task.',
      );
    }
    if (input.reviewer_session !== undefined && !sql.get('SELECT 1 FROM sessions WHERE id = ?', [input.reviewer_session])) {
      throw notFound('Session', input.reviewer_session, 'reviewer_session');
    }
    const sources = resolveSources(sql, ctx, input.source_worktree_ids);
    const now = ctx.now();
    const row = sql.get<MergeRequestRow>(
      `INSERT INTO merge_requests (feature_task_id, target_branch, status, reviewer_session_id, requested_by, notes, notes_json, created_at, updated_at)
       VALUES (?, ?, 'requested', ?, ?, ?, ?, ?, ?) RETURNING *`,
      [
        feature.id,
        target,
        input.reviewer_session ?? null,
        ownerKeyOf(ctx.actor) ?? null,
        input.notes ?? null,
        input.notes_json ?? null,
        now,
        now,
      ],
    )!;
    for (const worktreeId of sources) {
      sql.run('INSERT INTO merge_request_sources (merge_request_id, worktree_id) VALUES (?, ?)', [row.id, worktreeId]);
    }
    return { merge_request: mergeRequestWire(sql, row) };
  });
}

/** merge.request.get: the request, its sources and its latest review. */
export function getMergeRequest(ctx: CoreContext, input: { merge_request_id: number }) {
  return ctx.store.read((sql) => {
    const row = getMergeRequestRow(sql, input.merge_request_id);
    const latest = sql.get<ReviewRow>('SELECT * FROM reviews WHERE merge_request_id = ? ORDER BY id DESC LIMIT 1', [row.id]);
    const { n } = sql.get<{ n: number }>('SELECT count(*) AS n FROM reviews WHERE merge_request_id = ?', [row.id])!;
    return { merge_request: mergeRequestWire(sql, row), latest_review: latest ? reviewWire(latest) : null, review_count: n };
  });
}

export interface SubmitReviewInput {
  merge_request_id: number;
  verdict: Verdict;
  summary?: string;
  findings?: Finding[];
}

/** Queue states a BLOCK holds back: items not yet picked up. An item already `checking` is the queue processor's to settle. */
const HELD_BY_BLOCK = ['queued', 'waiting', 'blocked_by_review'] as const;
const REASON_MAX_CHARS = 500;

function blockReason(summary: string | undefined, findings: readonly Finding[]): string {
  const first = findings[0];
  const what = summary ?? (first ? `${first.file}${first.line === undefined ? '' : `:${first.line}`}: ${first.text}` : '');
  return `review blocked: ${what}`.slice(0, REASON_MAX_CHARS);
}

/**
 * merge.review.submit: records an APPROVE or BLOCK on a requested (or blocked) request and moves it on.
 * In the same transaction the request's merge-queue items follow the verdict: APPROVE sends
 * `blocked_by_review` items back to `queued`; BLOCK holds waiting items in `blocked_by_review`.
 */
export function submitReview(ctx: CoreContext, input: SubmitReviewInput) {
  const findings = input.findings ?? [];
  if (input.verdict === 'BLOCK' && findings.length === 0 && input.summary === undefined) {
    throw invalid(
      'A BLOCK needs at least one finding or a summary, so the author knows what to change.',
      'findings',
      'Add findings: [{file, line?, severity, text}] or a summary.',
    );
  }
  return ctx.store.write((sql) => {
    const request = getMergeRequestRow(sql, input.merge_request_id);
    if (!REVIEWABLE.has(request.status)) {
      throw new CodestratorError(
        'PRECONDITION_FAILED',
        `Merge request ${request.id} is ${request.status}; only a requested or blocked request takes a review.`,
        {
          field: 'merge_request_id',
          hint: 'New work needs a new merge.request.',
        },
      );
    }
    const now = ctx.now();
    const review = sql.get<ReviewRow>(
      `INSERT INTO reviews (merge_request_id, verdict, summary, findings, reviewer_key, created_at)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
      [request.id, input.verdict, input.summary ?? null, toJson(findings), ownerKeyOf(ctx.actor) ?? null, now],
    )!;
    const status: MergeRequestStatus = input.verdict === 'APPROVE' ? 'approved' : 'blocked';
    const updated = sql.get<MergeRequestRow>('UPDATE merge_requests SET status = ?, updated_at = ? WHERE id = ? RETURNING *', [
      status,
      now,
      request.id,
    ])!;
    const moved =
      input.verdict === 'APPROVE'
        ? sql.run(
            "UPDATE merge_queue SET state = 'queued', reason = 'review approved', updated_at = ? WHERE merge_request_id = ? AND state = 'blocked_by_review'",
            [now, request.id],
          )
        : sql.run(
            `UPDATE merge_queue SET state = 'blocked_by_review', reason = ?, updated_at = ?
             WHERE merge_request_id = ? AND state IN (${HELD_BY_BLOCK.map(() => '?').join(', ')})`,
            [blockReason(input.summary, findings), now, request.id, ...HELD_BY_BLOCK],
          );
    completeReviewJobs(sql, request.id, input.verdict, now);
    return { merge_request: mergeRequestWire(sql, updated), review: reviewWire(review), queue_items_updated: moved.changes };
  });
}
