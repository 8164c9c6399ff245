import type { CoreContext } from './context.js';
import { CodestratorError, notFound } from './errors.js';
import { fenceOf } from './fence.js';
import type { Sql } from './ports.js';
import { type SessionRow, type WorktreeRow, sessionWire } from './rows.js';
import { compactRef } from './current-ref.js';

/** What tied a session to the calling agent, strongest first. */
export type MatchSignal = 'terminal_fingerprint' | 'worktree' | 'terminal';

const WEIGHT: Record<MatchSignal, number> = { terminal_fingerprint: 4, worktree: 2, terminal: 1 };

type OriginRow = SessionRow & { terminal: string | null; server_process: string | null; worktree_path: string | null };

export interface SessionMatch {
  row: OriginRow;
  matched_by: MatchSignal[];
  score: number;
}

/** The session as the wire shows it (without the joined worktree path). */
const wire = ({ worktree_path: _path, ...row }: OriginRow, now: number) => sessionWire(row, now);

/** A session whose recorded MCP server still runs is another agent's, not a restarted one's. */
function servedElsewhere(ctx: CoreContext, row: OriginRow): boolean {
  const origin = ctx.origin;
  if (!origin || !row.server_process || row.server_process === origin.process) return false;
  return origin.isRunning(row.server_process);
}

const inside = (cwd: string, dir: string) => cwd === dir || cwd.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * The open sessions of this repository that may be the calling agent's, best first: the same
 * terminal_fingerprint, a working directory inside the session's worktree (agents start where the
 * skill says to work), the same terminal. Sessions another live server acts as are left out.
 */
export function matchOwnSessions(sql: Sql, ctx: CoreContext, fingerprint?: string): SessionMatch[] {
  const rows = sql.all<OriginRow>(
    `SELECT s.*, w.path AS worktree_path FROM sessions s LEFT JOIN worktrees w ON w.id = s.worktree_id
     WHERE s.repo_path = ? AND s.status = 'active' ORDER BY s.last_seen_at DESC, s.id DESC`,
    [ctx.workspace.repoPath],
  );
  const origin = ctx.origin;
  const matches: SessionMatch[] = [];
  for (const row of rows) {
    if (servedElsewhere(ctx, row)) continue;
    const signals: MatchSignal[] = [];
    if (fingerprint !== undefined && row.terminal_fingerprint === fingerprint) signals.push('terminal_fingerprint');
    if (origin && row.worktree_path && inside(origin.cwd, row.worktree_path)) signals.push('worktree');
    if (origin?.terminal && row.terminal === origin.terminal) signals.push('terminal');
    if (signals.length > 0) matches.push({ row, matched_by: signals, score: signals.reduce((sum, s) => sum + WEIGHT[s], 0) });
  }
  return matches.sort((a, b) => b.score - a.score);
}

/** The one session that is best tied to the caller, or undefined when none is or several tie. */
export function uniqueMatch(matches: readonly SessionMatch[]): SessionMatch | undefined {
  const [best, next] = matches;
  return best && (!next || next.score < best.score) ? best : undefined;
}

/** Sessions a caller without an identity might be, each with the exact call that continues it. */
function candidateList(sql: Sql, ctx: CoreContext, matches: readonly SessionMatch[]) {
  const rows: { row: OriginRow; matched_by: MatchSignal[] }[] = matches.length
    ? [...matches]
    : sql
        .all<OriginRow>(
          `SELECT s.*, w.path AS worktree_path FROM sessions s LEFT JOIN worktrees w ON w.id = s.worktree_id
           WHERE s.repo_path = ? AND s.status = 'active' ORDER BY s.last_seen_at DESC, s.id DESC LIMIT 20`,
          [ctx.workspace.repoPath],
        )
        .filter((row) => !servedElsewhere(ctx, row))
        .map((row) => ({ row, matched_by: [] }));
  return rows.slice(0, 10).map(({ row, matched_by }) => ({
    session_id: row.id,
    agent_role: row.agent_role,
    user_request: row.user_request,
    worktree: row.worktree_path,
    last_seen_at: row.last_seen_at,
    matched_by,
    current_ref: compactRef(ctx, `session:${row.id}`),
    attach: { tool: 'orch_task', method: 'resume.candidates.attach', params: { target_session_id: row.id } },
  }));
}

/**
 * Runs a call for a caller that named no session: as the session this agent is matched to (a
 * restarted agent), reporting `resumed_session` so the server adopts it; else `unidentified`
 * answers with the candidates and the call that continues each.
 */
export function asOwnSession<T extends object>(
  ctx: CoreContext,
  fingerprint: string | undefined,
  run: (ctx: CoreContext) => T,
  unidentified: (answer: ReturnType<typeof unidentifiedAnswer>) => T | Record<string, unknown>,
): T | Record<string, unknown> {
  if (ctx.actor.sessionId !== undefined || ctx.actor.threadId !== undefined) return run(ctx);
  const matches = ctx.store.read((sql) => matchOwnSessions(sql, ctx, fingerprint));
  const found = uniqueMatch(matches);
  if (!found) return unidentified(ctx.store.read((sql) => unidentifiedAnswer(sql, ctx, matches)));
  const id = found.row.id;
  const result = run({ ...ctx, actor: { sessionId: id } });
  const adopted = ctx.origin ? `this server now acts as session ${id}` : `pass session_id ${id} to act as it`;
  return {
    ...result,
    resumed_session: { id, matched_by: found.matched_by, worktree: found.row.worktree_path },
    notes: [`session_id: none was given; session ${id} was matched by ${found.matched_by.join(', ')}, and ${adopted}.`],
  };
}

export function unidentifiedAnswer(sql: Sql, ctx: CoreContext, matches: readonly SessionMatch[]) {
  const candidates = candidateList(sql, ctx, matches);
  const first = candidates[0];
  let hint: string;
  if (!first) hint = 'No open session to continue here. Start with session.open (orch_session).';
  else if (candidates.length === 1)
    hint = `Session ${first.session_id} may be yours but could not be tied to this agent. If it is, call orch_task resume.candidates.attach ${JSON.stringify(first.attach.params)}; for new work call session.open.`;
  else
    hint = `${candidates.length} open sessions could be yours. Call orch_task resume.candidates.attach with yours (each candidate's attach gives the exact params), or pass terminal_fingerprint / session_id; for new work call session.open.`;
  return { session: null, candidates, hint };
}

/**
 * The session this agent already has open with a case in progress (the one this server acts as,
 * else the one it is matched to), which session.open returns rather than strand that case.
 */
export function sessionInHand(ctx: CoreContext, fingerprint: string | undefined) {
  if (!ctx.origin || ctx.actor.threadId !== undefined) return undefined;
  return ctx.store.read((sql) => {
    let found: { row: OriginRow; matched_by: (MatchSignal | 'this_server')[] } | undefined;
    if (ctx.actor.sessionId !== undefined) {
      const row = sql.get<OriginRow>(
        `SELECT s.*, w.path AS worktree_path FROM sessions s LEFT JOIN worktrees w ON w.id = s.worktree_id WHERE s.id = ? AND s.status = 'active'`,
        [ctx.actor.sessionId],
      );
      if (row) found = { row, matched_by: ['this_server'] };
    } else {
      found = uniqueMatch(matchOwnSessions(sql, ctx, fingerprint));
    }
    if (!found) return undefined;
    const active = sql.get<{ id: number; title: string }>(
      "SELECT id, title FROM tasks WHERE owner_key = ? AND level = 'case' AND status = 'in_progress' ORDER BY id LIMIT 1",
      [`session:${found.row.id}`],
    );
    return active ? { ...found, activeCase: active } : undefined;
  });
}

/**
 * resume.candidates.attach without a requester, from a server with no session: the caller is the
 * agent of the target session, restarted, and continues it as itself (the server adopts it).
 */
export function continueSession(ctx: CoreContext, targetId: number) {
  return ctx.store.write((sql) => {
    const row = sql.get<OriginRow>(
      'SELECT s.*, w.path AS worktree_path FROM sessions s LEFT JOIN worktrees w ON w.id = s.worktree_id WHERE s.id = ?',
      [targetId],
    );
    if (!row) throw notFound('Session', targetId, 'target_session_id');
    if (row.repo_path !== ctx.workspace.repoPath) {
      throw new CodestratorError('PRECONDITION_FAILED', `Session ${targetId} belongs to another repository (${row.repo_path}).`, {
        field: 'target_session_id',
      });
    }
    const fence = fenceOf(sql, targetId);
    if (fence)
      throw new CodestratorError('PRECONDITION_FAILED', fence.message, {
        field: 'target_session_id',
        hint: fence.hint,
        data: { ...fence },
      });
    if (row.status !== 'active') {
      throw new CodestratorError('PRECONDITION_FAILED', `Session ${targetId} is ${row.status}; only an open session can be continued.`, {
        field: 'target_session_id',
      });
    }
    if (servedElsewhere(ctx, row)) {
      throw new CodestratorError(
        'CONFLICT',
        `Session ${targetId} is in use: the MCP server that acts as it (process ${row.server_process}) still runs.`,
        {
          field: 'target_session_id',
          hint: 'Open your own session with session.open; once that session goes silent, session.open {"intent": "resume_work"} can take it over.',
        },
      );
    }
    const now = ctx.now();
    sql.run('UPDATE sessions SET last_seen_at = ? WHERE id = ?', [now, targetId]);
    return {
      session: wire({ ...row, last_seen_at: now }, now),
      continued: true,
      taken_over: null,
      worktree: row.worktree_path,
      current_ref: compactRef(ctx, `session:${targetId}`),
      hint: `${ctx.origin ? 'This server now acts as' : 'Pass session_id to act as'} session ${targetId}${row.worktree_path ? `; work in ${row.worktree_path}` : ''}. Call work.current_ref for the next step.`,
    };
  });
}

/** session.open's answer when the agent already has a session with a case in progress. */
export function reopenAnswer(ctx: CoreContext, inHand: NonNullable<ReturnType<typeof sessionInHand>>) {
  const { row, activeCase } = inHand;
  const now = ctx.now();
  return ctx.store.read((sql) => {
    const worktree = row.worktree_id ? (sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [row.worktree_id]) ?? null) : null;
    const rootThread = row.root_thread_id ? (sql.get('SELECT * FROM threads WHERE id = ?', [row.root_thread_id]) ?? null) : null;
    const how = inHand.matched_by.includes('this_server') ? 'this server already acts as it' : `matched by ${inHand.matched_by.join(', ')}`;
    return {
      session: wire(row, now),
      root_thread: rootThread,
      worktree,
      worktree_slug: worktree?.slug ?? null,
      viewer_tmux_session: row.viewer_tmux_session,
      current_ref: compactRef(ctx, `session:${row.id}`),
      reused: true,
      notes: [
        `session.open: session ${row.id} (${how}) still holds case ${activeCase.id} "${activeCase.title}", so it is returned instead of a new session; finish the case (case.complete) or close the session (session.close) before opening another.`,
      ],
      hint: `Continue case ${activeCase.id}${worktree ? ` in ${worktree.path}` : ''}: work.current_ref gives the next step.`,
    };
  });
}

/** Records where the agent acting as the session runs (its server's terminal and process), so a restart finds it. */
export function claimSession(ctx: CoreContext, sessionId: number): void {
  const origin = ctx.origin;
  if (!origin) return;
  ctx.store.write(
    (sql) =>
      sql.run(
        "UPDATE sessions SET terminal = coalesce(?, terminal), server_process = ?, last_seen_at = ? WHERE id = ? AND status IN ('active', 'awaiting_resume')",
        [origin.terminal, origin.process, ctx.now(), sessionId],
      ),
    { ledger: false },
  );
}
