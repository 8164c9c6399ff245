import type { Actor, CoreContext } from './context.js';
import { CodestratorError } from './errors.js';
import type { Sql } from './ports.js';
import { compactRef } from './current-ref.js';

/**
 * Fencing: a closed session, or one another session took over, can no longer change anything;
 * nor can its threads. The dispatcher refuses their changes; reads say where the work went.
 */

export interface Fence {
  /** Why the session can no longer act. */
  reason: 'session_closed' | 'session_taken_over';
  session_id: number;
  /** The session that took it over (the last of a chain of takeovers), when one did. */
  successor_session_id: number | null;
  message: string;
  hint: string;
}

/**
 * Whether a session is fenced: closed, or taken over by another (resume.candidates.attach). Read
 * fresh on every call, since status changes while ids never do.
 */
export function fenceOf(sql: Sql, sessionId: number): Fence | undefined {
  const statusOf = (id: number) =>
    sql.get<{ status: string; taken_over_by: number | null }>('SELECT status, taken_over_by FROM sessions WHERE id = ?', [id]);
  const row = statusOf(sessionId);
  if (!row) return undefined;
  if (row.status === 'closed') {
    return {
      reason: 'session_closed',
      session_id: sessionId,
      successor_session_id: null,
      message: `Session ${sessionId} is closed; it can no longer change anything.`,
      hint: 'Open a new session with session.open (read calls still work).',
    };
  }
  if (row.status !== 'handoff_attached') return undefined;
  let successor = row.taken_over_by!;
  const seen = new Set([sessionId]);
  while (!seen.has(successor)) {
    seen.add(successor);
    const next = statusOf(successor);
    if (next?.status !== 'handoff_attached' || next.taken_over_by === null) break;
    successor = next.taken_over_by;
  }
  return {
    reason: 'session_taken_over',
    session_id: sessionId,
    successor_session_id: successor,
    message: `Session ${sessionId} was taken over by session ${successor}; it can no longer change anything.`,
    hint: `Stop working as session ${sessionId}: session ${successor} continues its work (work.current_ref shows where it stands). Only the agent now working on it should act as session ${successor}; for other work, open a new session with session.open.`,
  };
}

/** Refuses a change by a fenced session (or one of its threads), naming why and the successor. */
export function assertNotFenced(sql: Sql, actor: Actor): void {
  if (actor.sessionId === undefined) return;
  const fence = fenceOf(sql, actor.sessionId);
  if (!fence) return;
  const who = actor.threadId !== undefined ? `Thread ${actor.threadId} of session ${actor.sessionId}` : undefined;
  throw new CodestratorError('PRECONDITION_FAILED', who ? `${who}: ${fence.message}` : fence.message, {
    field: 'session_id',
    hint: fence.hint,
    data: { reason: fence.reason, session_id: fence.session_id, successor_session_id: fence.successor_session_id },
  });
}

/**
 * The answer to a closed or taken-over session: never "start new work", but where its work went
 * (the successor, its worktree and its current ref) or that a new session is needed.
 */
export function fencedView(sql: Sql, ctx: CoreContext, owner: string, fence: Fence) {
  const successor = fence.successor_session_id;
  const worktree =
    successor !== null
      ? sql.get<{ path: string; branch: string }>(
          'SELECT w.path, w.branch FROM worktrees w JOIN sessions s ON s.worktree_id = w.id WHERE s.id = ?',
          [successor],
        )
      : undefined;
  return {
    source: fence.reason,
    owner,
    current_ref: null,
    successor_session_id: successor,
    successor:
      successor !== null
        ? { session_id: successor, worktree: worktree ?? null, current_ref: compactRef(ctx, `session:${successor}`) }
        : null,
    hint: `${fence.message} ${fence.hint}`,
  };
}
