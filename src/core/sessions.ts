import type { Actor, CoreContext } from './context.js';
import { CodestratorError, notFound } from './errors.js';
import { checkOwnership, isSessionLive, ownerKeyOf } from './identity.js';
import type { Sql } from './ports.js';
import { type SessionRow, type WorktreeRow, sessionWire } from './rows.js';
import type { ChildThreadRow as ThreadRow } from './thread-rows.js';
import { deriveSlug } from './slug.js';
import { repoViewerName } from './thread-viewer.js';
import { createWorktree, discardWorktree, gitStep, withWorktreeAdmin } from './worktree-create.js';
import { type Page, type PageRequest, cursorId, pageLimit, toPage } from './paging.js';
import { releaseOwnerLocks } from './locks.js';
import { listResumeCandidates } from './resume.js';
import { compactRef } from './current-ref.js';
import { stopSessionChildren } from './thread-control.js';
import { reopenAnswer, sessionInHand } from './session-match.js';

export interface OpenSessionInput {
  agent_role?: string;
  owner?: string;
  terminal_fingerprint?: string;
  intent?: 'new_work' | 'resume_work' | 'auto';
  heartbeat_timeout_seconds?: number;
  user_request?: string;
  worktree_name?: string;
  always_branch?: boolean;
}

export function getSession(sql: Sql, id: number, field = 'session_id'): SessionRow {
  const row = sql.get<SessionRow>('SELECT * FROM sessions WHERE id = ?', [id]);
  if (!row) throw notFound('Session', id, field);
  return row;
}

function insertSession(
  sql: Sql,
  ctx: CoreContext,
  input: OpenSessionInput,
  extra: {
    status: string;
    intent: string;
    worktreeId: number | null;
    viewer: string | null;
  },
): { session: SessionRow; rootThread: ThreadRow } {
  const now = ctx.now();
  const sessionId = sql.run(
    `INSERT INTO sessions (repo_path, agent_role, owner, terminal_fingerprint, intent, status, heartbeat_timeout_seconds,
       user_request, worktree_id, viewer_tmux_session, started_at, last_seen_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      ctx.workspace.repoPath,
      input.agent_role ?? 'agent',
      input.owner ?? null,
      input.terminal_fingerprint ?? null,
      extra.intent,
      extra.status,
      input.heartbeat_timeout_seconds ?? ctx.config.heartbeat_timeout_seconds,
      input.user_request ?? null,
      extra.worktreeId,
      extra.viewer,
      now,
      now,
    ],
  ).lastInsertRowid;
  // The caller itself is the session's root thread, so inbox messages and ownership have an address.
  const threadId = sql.run(
    `INSERT INTO threads (session_id, role, title, status, created_at, updated_at) VALUES (?, 'session-root', ?, 'running', ?, ?)`,
    [sessionId, input.user_request ?? null, now, now],
  ).lastInsertRowid;
  sql.run('UPDATE sessions SET root_thread_id = ? WHERE id = ?', [threadId, sessionId]);
  return {
    session: getSession(sql, sessionId),
    rootThread: sql.get<ThreadRow>('SELECT * FROM threads WHERE id = ?', [threadId])!,
  };
}

/**
 * session.open. new_work/auto: creates the session-root worktree on a new branch from the main
 * branch's tip, then the session and its root thread in one transaction; if that fails, the
 * worktree and branch are removed. resume_work: records a session awaiting a resume choice and
 * returns the candidates.
 */
export async function openSession(ctx: CoreContext, input: OpenSessionInput) {
  // The same agent opening again (a retry, a restart following the skill from the top) keeps its case.
  const inHand = sessionInHand(ctx, input.terminal_fingerprint);
  if (inHand) return reopenAnswer(ctx, inHand);
  const intent = input.intent === 'resume_work' ? 'resume_work' : 'new_work';
  if (intent === 'resume_work') {
    const { session, rootThread } = ctx.store.write((sql) =>
      insertSession(sql, ctx, input, { status: 'awaiting_resume', intent, worktreeId: null, viewer: null }),
    );
    const candidates = listResumeCandidates(ctx, { requesterSessionId: session.id, timeoutSeconds: input.heartbeat_timeout_seconds });
    return {
      session: sessionWire(session, ctx.now()),
      root_thread: rootThread,
      action_required: 'select_resume_candidate',
      resume_candidates: candidates,
      hint: 'Ask the user which session to resume, then call resume.candidates.attach with requester_session_id and target_session_id.',
    };
  }
  if (input.always_branch === false) {
    // This session commits in the main checkout: the pre-commit lock check runs there too (its own hooks still run).
    await gitStep(
      'install the hooks in the main checkout',
      withWorktreeAdmin(ctx, 'hooks:main', () => ctx.git.installHooks(ctx.workspace.repoPath)),
    );
    const { session, rootThread } = ctx.store.write((sql) =>
      insertSession(sql, ctx, input, { status: 'active', intent, worktreeId: null, viewer: null }),
    );
    return {
      session: sessionWire(session, ctx.now()),
      root_thread: rootThread,
      worktree: null,
      worktree_slug: null,
      viewer_tmux_session: null,
    };
  }
  const slug = deriveSlug(input.worktree_name, input.user_request);
  const worktree = await createWorktree(ctx, { kind: 'session_root', slug });
  const viewer = repoViewerName(ctx.workspace, worktree.slug);
  let opened: { session: SessionRow; rootThread: ThreadRow };
  try {
    opened = ctx.store.write((sql) => {
      const result = insertSession(sql, ctx, input, { status: 'active', intent, worktreeId: worktree.id, viewer });
      sql.run("UPDATE worktrees SET status = 'active', owner_session_id = ?, updated_at = ? WHERE id = ?", [
        result.session.id,
        ctx.now(),
        worktree.id,
      ]);
      return result;
    });
  } catch (err) {
    await discardWorktree(ctx, worktree);
    throw err;
  }
  const active = { ...worktree, status: 'active', owner_session_id: opened.session.id };
  return {
    session: sessionWire(opened.session, ctx.now()),
    root_thread: opened.rootThread,
    worktree: active,
    worktree_slug: worktree.slug,
    viewer_tmux_session: viewer,
    hint: `Work inside ${worktree.path} (branch ${worktree.branch}). Calls from this server now default to session_id ${opened.session.id}.`,
  };
}

/** The actor may act on the session when it is that session, one of its threads, or anonymous (a person at the CLI). */
function checkSessionActor(sql: Sql, ctx: CoreContext, session: SessionRow, method: string, force?: boolean, reason?: string): void {
  const actor = ctx.actor;
  if (actor.sessionId === undefined || actor.sessionId === session.id) return;
  checkOwnership(sql, actor, { method, ownerKey: `session:${session.id}`, target: `session ${session.id}`, force, reason, now: ctx.now() });
}

export function heartbeatSession(ctx: CoreContext, input: { session_id: number; force?: boolean; reason?: string }) {
  return ctx.store.write(
    (sql) => {
      const session = getSession(sql, input.session_id);
      checkSessionActor(sql, ctx, session, 'session.heartbeat', input.force, input.reason);
      if (session.status === 'closed') {
        throw new CodestratorError('PRECONDITION_FAILED', `Session ${session.id} is closed.`, {
          hint: 'Open a new session with session.open.',
        });
      }
      if (session.status === 'handoff_attached') {
        throw new CodestratorError('PRECONDITION_FAILED', `Session ${session.id} was taken over by session ${session.taken_over_by}.`, {
          hint: 'Open a new session; your work continues in the session that took it over.',
        });
      }
      sql.run('UPDATE sessions SET last_seen_at = ? WHERE id = ?', [ctx.now(), session.id]);
      return { session: sessionWire(getSession(sql, session.id), ctx.now()) };
    },
    { ledger: false },
  );
}

/** Records that the session was seen; called by the dispatcher for calls made as a session. */
export function touchSession(ctx: CoreContext, sessionId: number): void {
  ctx.store.write(
    (sql) =>
      sql.run("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND status IN ('active', 'awaiting_resume')", [ctx.now(), sessionId]),
    { ledger: false },
  );
}

/** Closes a session inside a transaction: releases its and its threads' locks and stops its threads. */
function closeSessionTx(sql: Sql, ctx: CoreContext, session: SessionRow, reason: string) {
  const now = ctx.now();
  const threads = sql.all<{ id: number }>('SELECT id FROM threads WHERE session_id = ?', [session.id]);
  let locksReleased = releaseOwnerLocks(sql, `session:${session.id}`, now, `session closed: ${reason}`);
  for (const thread of threads) locksReleased += releaseOwnerLocks(sql, `thread:${thread.id}`, now, `session closed: ${reason}`);
  const keys = [`session:${session.id}`, ...threads.map((thread) => `thread:${thread.id}`)];
  const namedLocksReleased = sql.run(`DELETE FROM named_locks WHERE holder_key IN (${keys.map(() => '?').join(', ')})`, keys).changes;
  const threadsStopped = sql.run(
    `UPDATE threads SET status = 'stopped', status_reason = ?, completed_at = ?, updated_at = ?
     WHERE session_id = ? AND status NOT IN ('completed', 'failed', 'stopped')`,
    [`session closed: ${reason}`, now, now, session.id],
  ).changes;
  sql.run("UPDATE sessions SET status = 'closed', closed_at = ?, close_reason = ? WHERE id = ?", [now, reason, session.id]);
  return {
    session_id: session.id,
    locks_released: locksReleased,
    named_locks_released: namedLocksReleased,
    threads_stopped: threadsStopped,
  };
}

export async function closeSession(ctx: CoreContext, input: { session_id: number; reason?: string; force?: boolean }) {
  const session = ctx.store.write((sql) => {
    const session = getSession(sql, input.session_id);
    checkSessionActor(sql, ctx, session, 'session.close', input.force, input.reason);
    return session;
  });
  if (session.status === 'closed') {
    return { session: sessionWire(session, ctx.now()), locks_released: 0, threads_stopped: 0, already_closed: true };
  }
  const childrenStopped = await stopSessionChildren(ctx, session.id);
  return ctx.store.write((sql) => {
    const result = closeSessionTx(sql, ctx, getSession(sql, session.id), input.reason ?? 'closed by its owner');
    return {
      session: sessionWire(getSession(sql, session.id), ctx.now()),
      ...result,
      children_stopped: childrenStopped,
      already_closed: false,
    };
  });
}

/**
 * session.cleanup: with a session_id, closes that session; without one, every session of this
 * repository whose heartbeat expired. Closing stops its children (their runners and tmux windows,
 * and its own viewer session), releases its locks and the main-merge lock if it holds it.
 * Worktrees and branches are left for gc, which knows whether they hold unmerged work.
 */
export async function cleanupSessions(ctx: CoreContext, input: { session_id?: number; force?: boolean; reason?: string }) {
  const targets = ctx.store.write((sql) => {
    if (input.session_id !== undefined) {
      const session = getSession(sql, input.session_id);
      checkSessionActor(sql, ctx, session, 'session.cleanup', input.force, input.reason);
      return session.status === 'closed' ? [] : [session.id];
    }
    const now = ctx.now();
    return sql
      .all<SessionRow>("SELECT * FROM sessions WHERE repo_path = ? AND status IN ('active', 'awaiting_resume') ORDER BY id", [
        ctx.workspace.repoPath,
      ])
      .filter((row) => !isSessionLive(row, now))
      .map((row) => row.id);
  });
  const items = [];
  for (const id of targets) {
    const childrenStopped = await stopSessionChildren(ctx, id);
    const closed = ctx.store.write((sql) =>
      closeSessionTx(
        sql,
        ctx,
        getSession(sql, id),
        input.reason ?? (input.session_id !== undefined ? 'cleanup' : 'cleanup: heartbeat expired'),
      ),
    );
    items.push({ ...closed, children_stopped: childrenStopped });
  }
  return { items, count: items.length };
}

export function listSessions(
  ctx: CoreContext,
  input: PageRequest & { status?: string; include_closed?: boolean },
): Page<ReturnType<typeof sessionWire>> {
  return ctx.store.read((sql) => {
    const limit = pageLimit(input);
    const where = ['repo_path = ?', 'id > ?'];
    const params: (string | number)[] = [ctx.workspace.repoPath, cursorId(input)];
    if (input.status) {
      where.push('status = ?');
      params.push(input.status);
    } else if (!input.include_closed) {
      where.push("status != 'closed'");
    }
    const rows = sql.all<SessionRow>(`SELECT * FROM sessions WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, [...params, limit + 1]);
    const now = ctx.now();
    return toPage(rows, limit, (row) => sessionWire(row, now));
  });
}

/** session.context: the session, its worktree, the main checkout and the owner's compact current ref. */
export async function sessionContext(ctx: CoreContext, input: { session_id: number }) {
  const view = ctx.store.read((sql) => {
    const session = getSession(sql, input.session_id);
    const worktree = session.worktree_id ? sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [session.worktree_id]) : undefined;
    const rootThread = session.root_thread_id
      ? sql.get<ThreadRow>('SELECT * FROM threads WHERE id = ?', [session.root_thread_id])
      : undefined;
    return { session, worktree, rootThread };
  });
  const mainBranch = await ctx.git.mainBranch().catch(() => null);
  const actor: Actor = { sessionId: view.session.id };
  return {
    session: sessionWire(view.session, ctx.now()),
    root_thread: view.rootThread ?? null,
    worktree: view.worktree ?? null,
    main_worktree: { path: ctx.workspace.repoPath, branch: mainBranch },
    current_ref: compactRef(ctx, ownerKeyOf(actor)!),
  };
}
