import type { CoreContext } from './context.js';
import { invalid } from './errors.js';
import { type SessionRow, sessionWire } from './rows.js';
import { tmuxOf } from './thread-panes.js';
import { getThread, threadWire } from './thread-rows.js';
import { attachInfo, resolveViewer } from './thread-viewer.js';

/** Where a session's children are watched: the latest child's viewer session and server, else the name it will get. */
async function sessionViewer(ctx: CoreContext, session: SessionRow) {
  const latest = ctx.store.read((sql) =>
    sql.get<{ tmux_session: string; runner_options: string | null }>(
      'SELECT tmux_session, runner_options FROM threads WHERE session_id = ? AND tmux_session IS NOT NULL ORDER BY id DESC LIMIT 1',
      [session.id],
    ),
  );
  if (latest) return { name: latest.tmux_session, where: { runner_options: latest.runner_options }, launched: true };
  // No child yet: the name the first one will get on this server (never another clone's or a person's).
  const name = session.viewer_tmux_session ? await resolveViewer(ctx, ctx.tmux, session.viewer_tmux_session) : null;
  return { name, where: { runner_options: null }, launched: false };
}

/** The read-only attach to a session's viewer, whether it exists now, and a hint when it does not. */
async function viewerAttach(ctx: CoreContext, session: SessionRow) {
  const viewer = await sessionViewer(ctx, session);
  const exists = viewer.name ? await tmuxOf(ctx, viewer.where).hasSession(viewer.name) : false;
  const info = viewer.name ? attachInfo(ctx, { tmux_session: viewer.name, tmux_window_id: null, pane_id: null, ...viewer.where }) : null;
  const hint = exists
    ? undefined
    : viewer.name
      ? `The viewer session ${viewer.name} is created with the first child (thread.child.spawn); then: ${info!.command}`
      : 'This session has no worktree of its own: its viewer is named after its first child’s worktree (thread.child.spawn).';
  return { name: viewer.name, exists, attach: info ? { ...info, available: exists } : null, hint, launched: viewer.launched };
}

function loadSession(ctx: CoreContext, sessionId: number | undefined, field = 'session_id'): SessionRow {
  if (sessionId === undefined) throw invalid('Pass session_id (or thread_id), or run with CODESTRATOR_SESSION_ID.', field);
  const session = ctx.store.read((sql) => sql.get<SessionRow>('SELECT * FROM sessions WHERE id = ?', [sessionId]));
  if (!session) throw invalid(`Session ${sessionId} does not exist.`, field);
  return session;
}

/**
 * thread.attach_info: the read-only attach command for a child (with select-window / select-pane
 * for its window and pane), or for a session's viewer (session_id alone, or a thread with no pane
 * of its own, such as the root). Complete for every input: never a command with an empty target.
 */
export async function attachInfoFor(ctx: CoreContext, input: { thread_id?: number; session_id?: number }) {
  if (input.thread_id !== undefined) {
    const row = ctx.store.read((sql) => getThread(sql, input.thread_id!, 'thread_id'));
    if (input.session_id !== undefined && row.session_id !== input.session_id)
      throw invalid(`Thread ${row.id} belongs to session ${row.session_id}, not ${input.session_id}.`, 'thread_id');
    if (row.tmux_session) {
      const exists = await tmuxOf(ctx, row).hasSession(row.tmux_session);
      return { session_id: row.session_id, thread_id: row.id, attach_info: { ...attachInfo(ctx, row)!, available: exists } };
    }
    const viewer = await viewerAttach(ctx, loadSession(ctx, row.session_id));
    return { session_id: row.session_id, thread_id: row.id, attach_info: viewer.attach, ...(viewer.hint ? { hint: viewer.hint } : {}) };
  }
  const session = loadSession(ctx, input.session_id ?? ctx.actor.sessionId);
  const viewer = await viewerAttach(ctx, session);
  return { session_id: session.id, attach_info: viewer.attach, ...(viewer.hint ? { hint: viewer.hint } : {}) };
}

export interface RootInput {
  session_id?: number;
  role?: string;
  title?: string;
  objective?: string;
  ensure_tmux?: boolean;
  auto_install?: boolean;
  tmux_session_name?: string;
  tmux_window_name?: string;
  initial_prompt?: string;
  launch_command?: string | string[];
  codex_command?: string | string[];
  launch_codex?: boolean;
  force_launch?: boolean;
  child_session_name?: string;
}

/** Contract inputs about launching a root pane; the root is the calling CLI instead (skill rule). */
const ROOT_LAUNCH_INPUTS = [
  'tmux_session_name',
  'tmux_window_name',
  'initial_prompt',
  'launch_command',
  'codex_command',
  'launch_codex',
  'force_launch',
] as const;

/**
 * thread.root.ensure: the session's root thread (title / objective updated when given), tmux
 * (installed when ensure_tmux and auto_install allow, never with a prompt) and where its children
 * are watched. The root runs in the calling CLI ("Root orchestration always runs in current
 * caller CLI"): the contract's root-pane inputs are accepted and each answered in notes.
 */
export async function ensureRoot(ctx: CoreContext, input: RootInput) {
  let session = loadSession(ctx, input.session_id ?? ctx.actor.sessionId);
  const notes: string[] = [];
  for (const name of ROOT_LAUNCH_INPUTS) {
    if (input[name] !== undefined)
      notes.push(
        `${name}: the root runs in the calling CLI (skill rule "Root orchestration always runs in current caller CLI"); no root pane was created or launched.`,
      );
  }
  if (input.role !== undefined && input.role !== 'session-root')
    notes.push(`role: the root thread keeps its role session-root; "${input.role}" names the calling CLI's own role only.`);
  const root = ctx.store.write((sql) => {
    if (!session.root_thread_id) return null;
    if (input.title !== undefined || input.objective !== undefined)
      sql.run('UPDATE threads SET title = coalesce(?, title), objective = coalesce(?, objective), updated_at = ? WHERE id = ?', [
        input.title ?? null,
        input.objective ?? null,
        ctx.now(),
        session.root_thread_id,
      ]);
    return getThread(sql, session.root_thread_id);
  });
  if (input.child_session_name !== undefined) {
    const viewer = await sessionViewer(ctx, session);
    if (viewer.launched && viewer.name !== input.child_session_name)
      notes.push(`child_session_name: children already run in ${viewer.name}; later children join them there.`);
    else {
      session = ctx.store.write((sql) => {
        sql.run('UPDATE sessions SET viewer_tmux_session = ? WHERE id = ?', [input.child_session_name!, session.id]);
        return sql.get<SessionRow>('SELECT * FROM sessions WHERE id = ?', [session.id])!;
      });
    }
  }
  const report =
    input.ensure_tmux === false
      ? null
      : await ctx.tmux.ensureInstalled({ env: ctx.runtime.baseEnv, autoInstall: input.auto_install ?? true });
  const version = report?.version ?? (await ctx.tmux.version());
  const viewer = await viewerAttach(ctx, session);
  const attachHint = viewer.attach ? `${viewer.attach.command}  (read-only; children appear as panes of one window)` : viewer.hint;
  return {
    session: sessionWire(session, ctx.now()),
    session_id: session.id,
    root_thread: root ? threadWire(root) : null,
    root_mode: 'caller_cli',
    tmux: {
      status: report?.status ?? (version ? 'ready' : 'manual_required'),
      available: version !== null,
      version,
      viewer_exists: viewer.exists,
      ...(report && report.status !== 'ready' ? { install: report } : {}),
    },
    attach_info: viewer.attach,
    child_tmux_session: viewer.name,
    child_attach_hint: attachHint ?? null,
    viewer_tmux_session: viewer.name,
    ...(viewer.hint ? { hint: viewer.hint } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
}

/** runtime.tmux.ensure: tmux present, or installed where no password is needed (auto_install, default true), else manual_required with the exact commands. */
export async function ensureTmux(ctx: CoreContext, input: { auto_install?: boolean; session_id?: number }) {
  const report = await ctx.tmux.ensureInstalled({ env: ctx.runtime.baseEnv, autoInstall: input.auto_install ?? true });
  const log = report.attempts.map((attempt) => `$ ${attempt.command.join(' ')} (exit ${attempt.exit_code ?? 'none'})\n${attempt.output}`);
  return {
    ...report,
    install_log: log.join('\n'),
    ...(input.session_id !== undefined
      ? { notes: ['session_id: tmux is a prerequisite of the machine, not of a session; nothing was recorded per session.'] }
      : {}),
  };
}
