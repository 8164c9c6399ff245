import type { CoreContext } from './context.js';
import { CodestratorError, notFound } from './errors.js';
import { checkOwnership, requireOwner } from './identity.js';
import type { Sql } from './ports.js';
import { type PageRequest, cursorId, pageLimit, toPage } from './paging.js';

interface InboxRow {
  id: number;
  sender_thread_id: number;
  receiver_thread_id: number;
  message: string;
  status: 'pending' | 'delivered';
  created_at: number;
  delivered_at: number | null;
}

function threadExists(sql: Sql, id: number, field: string): void {
  if (!sql.get('SELECT 1 FROM threads WHERE id = ?', [id])) throw notFound('Thread', id, field);
}

/** The caller's thread: its own thread id, or its session's root thread. */
function callerThread(sql: Sql, ctx: CoreContext, method: string): number {
  requireOwner(ctx.actor, method);
  if (ctx.actor.threadId !== undefined) return ctx.actor.threadId;
  const row = sql.get<{ root_thread_id: number | null }>('SELECT root_thread_id FROM sessions WHERE id = ?', [ctx.actor.sessionId!]);
  if (!row?.root_thread_id)
    throw new CodestratorError('PRECONDITION_FAILED', `Session ${ctx.actor.sessionId} has no root thread.`, { field: 'session_id' });
  return row.root_thread_id;
}

/** inbox.send: a message from the caller's thread (or sender_thread_id) to another thread. */
export function sendMessage(ctx: CoreContext, input: { receiver_thread_id: number; message: string; sender_thread_id?: number }) {
  return ctx.store.write((sql) => {
    const sender = input.sender_thread_id ?? callerThread(sql, ctx, 'inbox.send');
    threadExists(sql, sender, 'sender_thread_id');
    threadExists(sql, input.receiver_thread_id, 'receiver_thread_id');
    const id = sql.run(
      "INSERT INTO inbox_messages (sender_thread_id, receiver_thread_id, message, status, created_at) VALUES (?, ?, ?, 'pending', ?)",
      [sender, input.receiver_thread_id, input.message, ctx.now()],
    ).lastInsertRowid;
    return { message: sql.get<InboxRow>('SELECT * FROM inbox_messages WHERE id = ?', [id])! };
  });
}

/** inbox.pending: undelivered messages for a thread (default: the caller's), oldest first. */
export function pendingMessages(ctx: CoreContext, input: PageRequest & { receiver_thread_id?: number }) {
  return ctx.store.read((sql) => {
    const receiver = input.receiver_thread_id ?? callerThread(sql, ctx, 'inbox.pending');
    threadExists(sql, receiver, 'receiver_thread_id');
    const limit = pageLimit(input);
    const rows = sql.all<InboxRow>(
      "SELECT * FROM inbox_messages WHERE receiver_thread_id = ? AND status = 'pending' AND id > ? ORDER BY id LIMIT ?",
      [receiver, cursorId(input), limit + 1],
    );
    return toPage(rows, limit, (row) => row);
  });
}

/** inbox.list: every message a thread sent or received. */
export function listMessages(ctx: CoreContext, input: PageRequest & { thread_id?: number }) {
  return ctx.store.read((sql) => {
    const thread = input.thread_id ?? callerThread(sql, ctx, 'inbox.list');
    threadExists(sql, thread, 'thread_id');
    const limit = pageLimit(input);
    const rows = sql.all<InboxRow>(
      'SELECT * FROM inbox_messages WHERE (sender_thread_id = ? OR receiver_thread_id = ?) AND id > ? ORDER BY id LIMIT ?',
      [thread, thread, cursorId(input), limit + 1],
    );
    return toPage(rows, limit, (row) => row);
  });
}

/** inbox.deliver: the receiver marks a message delivered, exactly once. */
export function deliverMessage(ctx: CoreContext, input: { message_id: number; force?: boolean; reason?: string }) {
  return ctx.store.write((sql) => {
    const row = sql.get<InboxRow>('SELECT * FROM inbox_messages WHERE id = ?', [input.message_id]);
    if (!row) throw notFound('Inbox message', input.message_id, 'message_id');
    const receiver = sql.get<{ session_id: number; parent_thread_id: number | null; id: number }>(
      'SELECT id, session_id, parent_thread_id FROM threads WHERE id = ?',
      [row.receiver_thread_id],
    )!;
    // The receiver acts as its thread; a session acts for its root thread.
    const ownerKey =
      receiver.parent_thread_id === null && ctx.actor.threadId === undefined ? `session:${receiver.session_id}` : `thread:${receiver.id}`;
    checkOwnership(sql, ctx.actor, {
      method: 'inbox.deliver',
      ownerKey,
      target: `message ${row.id}`,
      force: input.force,
      reason: input.reason,
      now: ctx.now(),
    });
    if (row.status === 'delivered') {
      throw new CodestratorError('CONFLICT', `Message ${row.id} was already delivered at ${new Date(row.delivered_at!).toISOString()}.`, {
        field: 'message_id',
      });
    }
    sql.run("UPDATE inbox_messages SET status = 'delivered', delivered_at = ? WHERE id = ? AND status = 'pending'", [ctx.now(), row.id]);
    return { message: sql.get<InboxRow>('SELECT * FROM inbox_messages WHERE id = ?', [row.id])! };
  });
}

/**
 * Hands a thread its pending messages (directives in queue mode among them) and marks them
 * delivered in the same transaction, so each is delivered exactly once. Used to surface messages
 * in a child's next tool result.
 */
export function takePendingFor(
  ctx: CoreContext,
  threadId: number,
): { id: number; from_thread_id: number; message: string; sent_at: number }[] {
  // Most calls find nothing: check with a read before taking the write lock.
  if (!ctx.store.read((sql) => sql.get("SELECT 1 FROM inbox_messages WHERE receiver_thread_id = ? AND status = 'pending'", [threadId])))
    return [];
  return ctx.store.write((sql) => {
    const rows = sql.all<InboxRow>("SELECT * FROM inbox_messages WHERE receiver_thread_id = ? AND status = 'pending' ORDER BY id", [
      threadId,
    ]);
    const now = ctx.now();
    for (const row of rows)
      sql.run("UPDATE inbox_messages SET status = 'delivered', delivered_at = ? WHERE id = ? AND status = 'pending'", [now, row.id]);
    sql.run(`UPDATE directives SET status = 'delivered', delivered_at = ? WHERE thread_id = ? AND status = 'pending' AND mode = 'queue'`, [
      now,
      threadId,
    ]);
    return rows.map((row) => ({ id: row.id, from_thread_id: row.sender_thread_id, message: row.message, sent_at: row.created_at }));
  });
}
