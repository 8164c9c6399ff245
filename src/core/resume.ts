import type { CoreContext } from './context.js';
import { CodestratorError, invalid } from './errors.js';
import { isOwnerLive, isSessionLive, ownerKeyOf } from './identity.js';
import { fenceOf, fencedView } from './fence.js';
import type { Sql } from './ports.js';
import { type CheckpointRow, type SessionRow, type TaskRow, type WorktreeRow, checkpointWire, sessionWire, taskWire } from './rows.js';
import { compactRef, type CurrentRefRow } from './current-ref.js';
import { nextStep } from './steps.js';
import { getSession } from './sessions.js';

export interface ResumeNextInput {
  scope_task_ids?: number[];
  scope_case_ids?: number[];
}

const latestCheckpoint = (sql: Sql, caseId: number) => {
  const row = sql.get<CheckpointRow>('SELECT * FROM checkpoints WHERE case_id = ? ORDER BY id DESC LIMIT 1', [caseId]);
  return row ? checkpointWire(row) : null;
};

/** Cases in the scope: the given cases plus every case under the given tasks. */
function scopeCaseIds(sql: Sql, input: ResumeNextInput): Set<number> | undefined {
  if (!input.scope_task_ids?.length && !input.scope_case_ids?.length) return undefined;
  const ids = new Set(input.scope_case_ids ?? []);
  for (const taskId of input.scope_task_ids ?? []) {
    const rows = sql.all<{ id: number }>(
      `WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT t.id FROM tasks t JOIN sub ON t.parent_id = sub.id)
       SELECT t.id FROM tasks t JOIN sub ON t.id = sub.id WHERE t.level = 'case'`,
      [taskId],
    );
    for (const row of rows) ids.add(row.id);
  }
  return ids;
}

/**
 * resume.next, scoped to the caller: its own active case first; then the best ready case in its
 * scope (the given task/case ids, else cases unassigned or assigned to it). Ready means todo with
 * every dependency done. Another owner's active case is never handed out; a case whose owner
 * is gone is offered last, as `orphaned_case`.
 */
export function resumeNext(ctx: CoreContext, input: ResumeNextInput) {
  const owner = ownerKeyOf(ctx.actor);
  return ctx.store.read((sql) => {
    const fence = ctx.actor.sessionId !== undefined ? fenceOf(sql, ctx.actor.sessionId) : undefined;
    if (fence && owner) return { ...fencedView(sql, ctx, owner, fence), case: null };
    if (owner) {
      const own = sql.get<TaskRow>("SELECT * FROM tasks WHERE owner_key = ? AND level = 'case' AND status = 'in_progress'", [owner]);
      if (own) {
        return {
          source: 'own_active_case',
          case: taskWire(own),
          next_step: nextStep(sql, own),
          checkpoint: latestCheckpoint(sql, own.id),
          current_ref: compactRef(ctx, owner),
        };
      }
    }
    const scope = scopeCaseIds(sql, input);
    const assignedToOther = (row: TaskRow) =>
      (row.assignee_session_id !== null && row.assignee_session_id !== ctx.actor.sessionId) ||
      (row.assignee_thread_id !== null && row.assignee_thread_id !== ctx.actor.threadId);
    const eligible = (row: TaskRow) => (scope ? scope.has(row.id) : !assignedToOther(row));
    const ready = sql.all<TaskRow>(
      `SELECT * FROM tasks t WHERE level = 'case' AND status = 'todo'
         AND NOT EXISTS (SELECT 1 FROM case_dependencies d JOIN tasks dep ON dep.id = d.depends_on_id WHERE d.case_id = t.id AND dep.status != 'done')
       ORDER BY priority DESC, id`,
    );
    const next = ready.find((row) => eligible(row) && !(scope && assignedToOther(row)));
    if (next)
      return { source: 'ready_case', case: taskWire(next), next_step: nextStep(sql, next), checkpoint: latestCheckpoint(sql, next.id) };
    const now = ctx.now();
    const orphan = sql
      .all<TaskRow>("SELECT * FROM tasks WHERE level = 'case' AND status = 'in_progress' ORDER BY priority DESC, id")
      .find((row) => eligible(row) && row.owner_key !== null && !isOwnerLive(sql, row.owner_key, now));
    if (orphan) {
      return {
        source: 'orphaned_case',
        case: taskWire(orphan),
        next_step: nextStep(sql, orphan),
        checkpoint: latestCheckpoint(sql, orphan.id),
        hint: `Its owner ${orphan.owner_key} is gone; case.begin takes it over.`,
      };
    }
    return {
      source: 'none',
      case: null,
      hint: scope ? 'Nothing ready in your scope.' : 'No ready case. Create cases with task.create, or wait for dependencies.',
    };
  });
}

interface CandidateQuery {
  requesterSessionId: number;
  timeoutSeconds?: number | undefined;
}

/** A caller may ask for a longer silence than the session's own timeout, never a shorter one. */
function isCandidate(row: SessionRow, now: number, timeoutSeconds: number | undefined): boolean {
  if (row.status !== 'active') return false;
  const timeout = Math.max(timeoutSeconds ?? 0, row.heartbeat_timeout_seconds);
  return !isSessionLive({ ...row, heartbeat_timeout_seconds: timeout }, now);
}

/** Suspended sessions of this repository: open, silent past the heartbeat timeout, with an active current ref. */
export function listResumeCandidates(ctx: CoreContext, query: CandidateQuery) {
  return ctx.store.read((sql) => {
    const now = ctx.now();
    const rows = sql.all<SessionRow>(
      `SELECT s.* FROM sessions s JOIN current_refs r ON r.owner_key = 'session:' || s.id AND r.status = 'active'
       WHERE s.repo_path = ? AND s.id != ? AND s.status = 'active' ORDER BY s.last_seen_at`,
      [ctx.workspace.repoPath, query.requesterSessionId],
    );
    return rows
      .filter((row) => isCandidate(row, now, query.timeoutSeconds))
      .map((row) => ({
        session: sessionWire(row, now),
        silent_for_seconds: Math.floor((now - row.last_seen_at) / 1000),
        current_ref: compactRef(ctx, `session:${row.id}`),
        worktree: row.worktree_id
          ? (sql.get<WorktreeRow>('SELECT id, path, branch FROM worktrees WHERE id = ?', [row.worktree_id]) ?? null)
          : null,
      }));
  });
}

export interface AttachInput {
  requester_session_id: number;
  target_session_id: number;
  heartbeat_timeout_seconds?: number;
}

/**
 * resume.candidates.attach: a compare-and-swap in one transaction. The target must be this
 * repo's, open, silent and untaken; the requester takes its worktree, current ref, active case
 * and locks. Of racing requesters exactly one wins; the others get CONFLICT.
 */
export function attachResumeCandidate(ctx: CoreContext, input: AttachInput) {
  if (input.requester_session_id === input.target_session_id) {
    throw invalid('A session cannot take over itself.', 'target_session_id');
  }
  return ctx.store.write((sql) => {
    const now = ctx.now();
    const requester = getSession(sql, input.requester_session_id, 'requester_session_id');
    const target = getSession(sql, input.target_session_id, 'target_session_id');
    if (requester.status === 'closed' || requester.status === 'handoff_attached') {
      throw new CodestratorError('PRECONDITION_FAILED', `Requester session ${requester.id} is ${requester.status}.`, {
        field: 'requester_session_id',
      });
    }
    if (target.repo_path !== ctx.workspace.repoPath) {
      throw new CodestratorError('PRECONDITION_FAILED', `Session ${target.id} belongs to another repository (${target.repo_path}).`, {
        field: 'target_session_id',
      });
    }
    if (target.status === 'closed')
      throw new CodestratorError('PRECONDITION_FAILED', `Session ${target.id} is closed.`, { field: 'target_session_id' });
    if (target.status === 'handoff_attached') {
      throw new CodestratorError('CONFLICT', `Session ${target.id} was already taken over by session ${target.taken_over_by}.`, {
        field: 'target_session_id',
      });
    }
    if (!isCandidate(target, now, input.heartbeat_timeout_seconds)) {
      throw new CodestratorError(
        'CONFLICT',
        `Session ${target.id} is live (seen ${Math.floor((now - target.last_seen_at) / 1000)} s ago).`,
        {
          field: 'target_session_id',
          hint: 'Only sessions silent past their heartbeat timeout can be taken over.',
        },
      );
    }
    const targetKey = `session:${target.id}`;
    const requesterKey = `session:${requester.id}`;
    const ref = sql.get<CurrentRefRow>("SELECT * FROM current_refs WHERE owner_key = ? AND status = 'active'", [targetKey]);
    if (!ref) {
      throw new CodestratorError('PRECONDITION_FAILED', `Session ${target.id} has no active current ref to resume.`, {
        field: 'target_session_id',
      });
    }
    const refCase = ref.case_id
      ? sql.get<{ owner_key: string | null; status: string }>('SELECT owner_key, status FROM tasks WHERE id = ?', [ref.case_id])
      : undefined;
    if (ref.case_id && (refCase?.status !== 'in_progress' || refCase.owner_key !== targetKey)) {
      throw new CodestratorError(
        'PRECONDITION_FAILED',
        `Session ${target.id} no longer holds case ${ref.case_id}; there is nothing to resume.`,
        {
          field: 'target_session_id',
        },
      );
    }
    if (sql.get("SELECT 1 FROM tasks WHERE owner_key = ? AND level = 'case' AND status = 'in_progress'", [requesterKey])) {
      throw new CodestratorError('PRECONDITION_FAILED', `Session ${requester.id} already holds an active case.`, {
        field: 'requester_session_id',
      });
    }
    // The compare-and-swap: only a still-active, untaken target changes hands.
    const swapped = sql.run("UPDATE sessions SET status = 'handoff_attached', taken_over_by = ? WHERE id = ? AND status = 'active'", [
      requester.id,
      target.id,
    ]);
    if (swapped.changes !== 1)
      throw new CodestratorError('CONFLICT', `Session ${target.id} was taken over concurrently.`, { field: 'target_session_id' });
    sql.run(
      "UPDATE sessions SET status = 'active', intent = 'resume_work', worktree_id = ?, viewer_tmux_session = ?, resumed_from = ?, last_seen_at = ? WHERE id = ?",
      [target.worktree_id, target.viewer_tmux_session, target.id, now, requester.id],
    );
    if (target.worktree_id)
      sql.run('UPDATE worktrees SET owner_session_id = ?, updated_at = ? WHERE id = ?', [requester.id, now, target.worktree_id]);
    sql.run('DELETE FROM current_refs WHERE owner_key = ?', [requesterKey]);
    sql.run(
      'UPDATE current_refs SET owner_key = ?, session_id = ?, thread_id = NULL, version = version + 1, acked_version = NULL, acked_at = NULL, updated_at = ? WHERE id = ?',
      [requesterKey, requester.id, now, ref.id],
    );
    sql.run(
      "UPDATE tasks SET owner_key = ?, owner_session_id = ?, owner_thread_id = NULL, updated_at = ? WHERE owner_key = ? AND status = 'in_progress'",
      [requesterKey, requester.id, now, targetKey],
    );
    // The target and its threads are fenced from now on: their locks (and the main-merge lock) go to the requester.
    const fencedKeys = [
      targetKey,
      ...sql.all<{ id: number }>('SELECT id FROM threads WHERE session_id = ?', [target.id]).map((t) => `thread:${t.id}`),
    ];
    const marks = fencedKeys.map(() => '?').join(', ');
    const locksMoved = sql.run(
      `UPDATE locks SET owner_key = ?, owner_session_id = ?, owner_thread_id = NULL WHERE owner_key IN (${marks}) AND state = 'active'`,
      [requesterKey, requester.id, ...fencedKeys],
    ).changes;
    const namedLocksMoved = sql.run(`UPDATE named_locks SET holder_key = ? WHERE holder_key IN (${marks})`, [
      requesterKey,
      ...fencedKeys,
    ]).changes;
    sql.run('INSERT INTO session_handoffs (from_session_id, to_session_id, created_at) VALUES (?, ?, ?)', [target.id, requester.id, now]);
    const worktree = target.worktree_id
      ? (sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [target.worktree_id]) ?? null)
      : null;
    return {
      session: sessionWire(getSession(sql, requester.id), now),
      taken_over: target.id,
      worktree,
      locks_transferred: locksMoved,
      named_locks_transferred: namedLocksMoved,
      current_ref: compactRef(ctx, requesterKey),
      hint: worktree
        ? `Continue in ${worktree.path}; call work.current_ref for the next step.`
        : 'Call work.current_ref for the next step.',
    };
  });
}
