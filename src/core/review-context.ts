import type { CoreContext } from './context.js';
import { conflictingLocks } from './locks.js';
import { type ReviewRow, type SourceWorktree, getMergeRequestRow, mergeRequestWire, reviewWire, sourcesOf } from './merge-requests.js';
import { parseJson } from './json.js';
import type { Sql } from './ports.js';
import { type CheckpointRow, type LockRow, type StepRow, type TaskRow, lockWire } from './rows.js';
import { gitStep } from './worktree-create.js';

/** merge.review_context: everything a reviewer needs about one merge request, in one call. */

/** Commits listed per source; more are flagged with commits_truncated. */
const COMMIT_LIMIT = 200;

/**
 * Cuts text to at most `maxBytes` of UTF-8 without splitting a character. The adapter cuts at a
 * byte offset, which can leave a replacement character (3 bytes) in place of a split one; this
 * keeps the stated cap exact.
 */
function clipUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** One source worktree against the target: diff (patch capped at `capBytes`), commits, changed and uncommitted files. */
async function inspectSource(ctx: CoreContext, target: string, source: SourceWorktree, capBytes: number) {
  const branches = await gitStep(`list branch ${source.branch}`, ctx.git.listBranches(source.branch));
  if (!branches.has(source.branch)) {
    return { ...source, branch_exists: false, diff: null, commits: [], commits_truncated: false, changed_files: [], uncommitted_paths: [] };
  }
  const range = `${target}...${source.branch}`;
  const [diff, commits, changed] = await Promise.all([
    gitStep(`diff ${range}`, ctx.git.diff(target, source.branch, capBytes)),
    gitStep(`list the commits of ${source.branch}`, ctx.git.commitsBetween(target, source.branch, COMMIT_LIMIT + 1)),
    gitStep(`list the files changed in ${range}`, ctx.git.changedFiles(target, source.branch)),
  ]);
  // Uncommitted edits are not part of the branch, so a merge would leave them behind: the reviewer should know.
  const uncommitted =
    source.status === 'active' && ctx.files.exists(source.path)
      ? await gitStep(`read the status of ${source.path}`, ctx.git.dirtyPaths(source.path))
      : [];
  const patch = clipUtf8(diff.patch, capBytes);
  return {
    ...source,
    branch_exists: true,
    diff: { stat: diff.stat, patch, bytes: diff.bytes, truncated: diff.truncated, cap_bytes: capBytes },
    commits: commits.slice(0, COMMIT_LIMIT),
    commits_truncated: commits.length > COMMIT_LIMIT,
    changed_files: changed,
    uncommitted_paths: uncommitted,
  };
}

interface TaskNode {
  id: number;
  level: TaskRow['level'];
  title: string;
  status: string;
  priority: number;
  owner_key: string | null;
  summary: string | null;
  next_action: string | null;
  started_at: number | null;
  completed_at: number | null;
  planned_steps?: string[];
  steps?: Pick<StepRow, 'order_no' | 'title' | 'result' | 'notes' | 'created_at'>[];
  latest_checkpoint?: Pick<CheckpointRow, 'event' | 'summary' | 'next_action' | 'owner_key' | 'created_at'> | null;
  children: TaskNode[];
}

const SUBTREE = `WITH RECURSIVE sub(id, depth) AS (
  SELECT ?, 0 UNION ALL SELECT t.id, sub.depth + 1 FROM tasks t JOIN sub ON t.parent_id = sub.id)`;

/** The feature and its whole subtree (test groups, cases), each case with its recorded steps and latest checkpoint. */
function featureTree(sql: Sql, featureId: number): { feature: TaskNode; cases_by_status: Record<string, number> } {
  const rows = sql.all<TaskRow>(`${SUBTREE} SELECT t.* FROM tasks t JOIN sub ON t.id = sub.id ORDER BY sub.depth, t.id`, [featureId]);
  const steps = sql.all<StepRow>(`${SUBTREE} SELECT s.* FROM steps s JOIN sub ON s.case_id = sub.id ORDER BY s.case_id, s.order_no`, [
    featureId,
  ]);
  const checkpoints = sql.all<CheckpointRow>(
    `${SUBTREE} SELECT c.* FROM checkpoints c
     JOIN (SELECT case_id, max(id) AS id FROM checkpoints WHERE case_id IN (SELECT id FROM sub) GROUP BY case_id) latest ON latest.id = c.id`,
    [featureId],
  );
  const latest = new Map(checkpoints.map((c) => [c.case_id, c]));
  const nodes = new Map<number, TaskNode>();
  const casesByStatus: Record<string, number> = {};
  for (const row of rows) {
    const node: TaskNode = {
      id: row.id,
      level: row.level,
      title: row.title,
      status: row.status,
      priority: row.priority,
      owner_key: row.owner_key,
      summary: row.summary,
      next_action: row.next_action,
      started_at: row.started_at,
      completed_at: row.completed_at,
      children: [],
    };
    if (row.level === 'case') {
      const checkpoint = latest.get(row.id);
      node.planned_steps = parseJson<string[]>(row.steps_planned, []);
      node.steps = steps
        .filter((step) => step.case_id === row.id)
        .map(({ order_no, title, result, notes, created_at }) => ({ order_no, title, result, notes, created_at }));
      node.latest_checkpoint = checkpoint
        ? {
            event: checkpoint.event,
            summary: checkpoint.summary,
            next_action: checkpoint.next_action,
            owner_key: checkpoint.owner_key,
            created_at: checkpoint.created_at,
          }
        : null;
      casesByStatus[row.status] = (casesByStatus[row.status] ?? 0) + 1;
    }
    nodes.set(row.id, node);
    // Rows come parents first (ordered by depth), so the parent node already exists.
    if (row.id !== featureId && row.parent_id !== null) nodes.get(row.parent_id)?.children.push(node);
  }
  return { feature: nodes.get(featureId)!, cases_by_status: casesByStatus };
}

/** Live locks of any owner that cover a changed path, each with the changed paths it covers. */
function locksOn(sql: Sql, paths: readonly string[], now: number) {
  const found = new Map<number, { lock: LockRow; covers: string[] }>();
  for (const path of paths) {
    for (const lock of conflictingLocks(sql, { scope_type: 'prefix', scope_path: path }, undefined, now)) {
      const entry = found.get(lock.id) ?? { lock, covers: [] };
      entry.covers.push(path);
      found.set(lock.id, entry);
    }
  }
  return [...found.values()].sort((a, b) => a.lock.id - b.lock.id).map(({ lock, covers }) => ({ ...lockWire(lock, now), covers }));
}

export interface ReviewContextInput {
  merge_request_id: number;
  max_diff_bytes?: number;
}

/**
 * merge.review_context. The patch cap (max_diff_bytes, else review_diff_max_bytes) covers all
 * sources together: each source gets an even share of what earlier ones left unused, so the
 * patches in the response never exceed it. Stats and file lists are not capped.
 */
export async function reviewContext(ctx: CoreContext, input: ReviewContextInput) {
  const cap = input.max_diff_bytes ?? ctx.config.review_diff_max_bytes;
  const { request, sources } = ctx.store.read((sql) => {
    const row = getMergeRequestRow(sql, input.merge_request_id);
    return { request: row, sources: sourcesOf(sql, row.id) };
  });
  const views = [];
  let remaining = cap;
  for (const [index, source] of sources.entries()) {
    const share = Math.floor(remaining / (sources.length - index));
    const view = await inspectSource(ctx, request.target_branch, source, share);
    remaining -= view.diff ? Buffer.byteLength(view.diff.patch) : 0;
    views.push(view);
  }
  const changedFiles = [...new Set(views.flatMap((view) => view.changed_files))].sort();
  const rest = ctx.store.read((sql) => ({
    merge_request: mergeRequestWire(sql, getMergeRequestRow(sql, request.id)),
    ...featureTree(sql, request.feature_task_id),
    locks: locksOn(sql, changedFiles, ctx.now()),
    reviews: sql.all<ReviewRow>('SELECT * FROM reviews WHERE merge_request_id = ? ORDER BY id', [request.id]).map(reviewWire),
  }));
  const truncated = views.some((view) => view.diff?.truncated === true);
  return {
    merge_request: rest.merge_request,
    target_branch: request.target_branch,
    diff_cap_bytes: cap,
    truncated,
    diff_note:
      `Patches are capped at ${cap} bytes in total, shared across ${sources.length} source(s); ` +
      `diff.bytes is each full patch's size and diff.truncated says whether it was cut. Stats and file lists are complete; ` +
      `commits list up to ${COMMIT_LIMIT} per source (commits_truncated).`,
    sources: views,
    changed_files: changedFiles,
    feature: rest.feature,
    cases_by_status: rest.cases_by_status,
    locks: rest.locks,
    reviews: rest.reviews,
  };
}
