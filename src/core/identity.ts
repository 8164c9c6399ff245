import type { Actor } from './context.js';
import { CodestratorError, notFound } from './errors.js';
import type { Sql } from './ports.js';

/** The string that names an owner in owner_key columns: `thread:<id>` when a thread acts, else `session:<id>`. */
export type OwnerKey = `session:${number}` | `thread:${number}`;

export function ownerKeyOf(actor: Actor): OwnerKey | undefined {
  if (actor.threadId !== undefined) return `thread:${actor.threadId}`;
  if (actor.sessionId !== undefined) return `session:${actor.sessionId}`;
  return undefined;
}

interface SessionLiveness {
  status: string;
  last_seen_at: number;
  heartbeat_timeout_seconds: number;
}

const LIVE_SESSION_STATUSES = new Set(['active', 'awaiting_resume']);
export const TERMINAL_THREAD_STATUSES = new Set(['completed', 'failed', 'stopped']);

/** A session is live while it is open and has been seen within its heartbeat timeout. */
export function isSessionLive(row: SessionLiveness, now: number): boolean {
  return LIVE_SESSION_STATUSES.has(row.status) && now - row.last_seen_at < row.heartbeat_timeout_seconds * 1000;
}

/** Whether the owner named by the key can still act: a live session, or a thread that has not finished. */
export function isOwnerLive(sql: Sql, key: string, now: number): boolean {
  const [kind, rawId] = key.split(':');
  const id = Number(rawId);
  if (kind === 'session') {
    const row = sql.get<SessionLiveness>('SELECT status, last_seen_at, heartbeat_timeout_seconds FROM sessions WHERE id = ?', [id]);
    return row !== undefined && isSessionLive(row, now);
  }
  if (kind === 'thread') {
    const row = sql.get<{ status: string }>('SELECT status FROM threads WHERE id = ?', [id]);
    return row !== undefined && !TERMINAL_THREAD_STATUSES.has(row.status);
  }
  return false;
}

/**
 * Checks that the session/thread ids of an actor exist and agree, filling in the session of a
 * thread. Throws NOT_FOUND naming the field.
 */
export function validateActor(sql: Sql, actor: Actor): Actor {
  const resolved: Actor = { ...actor };
  if (actor.threadId !== undefined) {
    const thread = sql.get<{ session_id: number }>('SELECT session_id FROM threads WHERE id = ?', [actor.threadId]);
    if (!thread) throw notFound('Thread', actor.threadId, 'thread_id');
    if (actor.sessionId !== undefined && actor.sessionId !== thread.session_id) {
      throw new CodestratorError(
        'INVALID_ARGUMENT',
        `Thread ${actor.threadId} belongs to session ${thread.session_id}, not session ${actor.sessionId}.`,
        { field: 'thread_id' },
      );
    }
    resolved.sessionId = thread.session_id;
  }
  if (resolved.sessionId !== undefined) {
    const session = sql.get<{ id: number }>('SELECT id FROM sessions WHERE id = ?', [resolved.sessionId]);
    if (!session) throw notFound('Session', resolved.sessionId, 'session_id');
  }
  return resolved;
}

/** The actor's owner key, or an error telling the caller how to identify itself. */
export function requireOwner(actor: Actor, method: string): OwnerKey {
  const key = ownerKeyOf(actor);
  if (key) return key;
  throw new CodestratorError('INVALID_ARGUMENT', `${method} needs to know who is calling.`, {
    field: 'session_id',
    hint: 'Pass session_id (and thread_id for a child thread), or run the server with CODESTRATOR_SESSION_ID set.',
  });
}

export interface OwnershipCheck {
  method: string;
  /** The owner recorded on the object. */
  ownerKey: string;
  /** A short name of the object for messages and the audit log, e.g. "lock 7". */
  target: string;
  force?: boolean;
  reason?: string;
  now: number;
}

/**
 * Allows the call when the actor owns the object; otherwise only with force and a reason,
 * which is written to the audit log in the same transaction.
 */
export function checkOwnership(sql: Sql, actor: Actor, check: OwnershipCheck): void {
  const actorKey = ownerKeyOf(actor);
  // A thread acting for itself owns what it holds; a session also owns what its session key holds.
  if (actorKey === check.ownerKey) return;
  if (check.force) {
    if (!check.reason || !check.reason.trim()) {
      throw new CodestratorError('INVALID_ARGUMENT', 'force needs a reason, which is recorded.', { field: 'reason' });
    }
    sql.run('INSERT INTO audit_events (method, actor_key, target, reason, created_at) VALUES (?, ?, ?, ?, ?)', [
      check.method,
      actorKey ?? null,
      check.target,
      check.reason,
      check.now,
    ]);
    return;
  }
  throw new CodestratorError(
    'NOT_OWNER',
    `${check.target} is owned by ${check.ownerKey}, not by ${actorKey ?? 'an unidentified caller'}.`,
    {
      hint: 'Act as the owner (session_id/thread_id), or pass force: true with a reason to override; the override is recorded.',
      data: { owner: check.ownerKey },
    },
  );
}
