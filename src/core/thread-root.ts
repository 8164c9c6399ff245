import type { CoreContext } from './context.js';
import { invalid } from './errors.js';
import type { SessionRow } from './rows.js';
import { tmuxOf } from './thread-panes.js';
import { getThread, threadWire } from './thread-rows.js';
import { attachInfo } from './threads.js';

/** thread.root.ensure / thread.attach_info: the session's root thread and how to watch its children. */
export async function ensureRoot(ctx: CoreContext, input: { attach_thread_id?: number; session_id?: number; attachOnly?: boolean }) {
  if (input.attach_thread_id !== undefined) {
    const row = ctx.store.read((sql) => getThread(sql, input.attach_thread_id!, 'thread_id'));
    return { thread_id: row.id, attach_info: attachInfo(ctx, row) };
  }
  const sessionId = input.session_id ?? ctx.actor.sessionId;
  if (sessionId === undefined) throw invalid('Pass session_id (or thread_id), or run with CODESTRATOR_SESSION_ID.', 'session_id');
  const { session, root, viewer, where } = ctx.store.read((sql) => {
    const session = sql.get<SessionRow>('SELECT * FROM sessions WHERE id = ?', [sessionId])!;
    const viewer = sql.get<{ tmux_session: string; runner_options: string | null }>(
      'SELECT tmux_session, runner_options FROM threads WHERE session_id = ? AND tmux_session IS NOT NULL ORDER BY id DESC LIMIT 1',
      [sessionId],
    );
    return {
      session,
      root: session.root_thread_id ? getThread(sql, session.root_thread_id) : null,
      viewer: viewer?.tmux_session ?? session.viewer_tmux_session,
      // The viewer session lives on the server its latest child was launched on.
      where: { runner_options: viewer?.runner_options ?? null },
    };
  });
  const version = await ctx.tmux.version();
  const exists = viewer ? await tmuxOf(ctx, where).hasSession(viewer) : false;
  const attach = viewer && exists ? attachInfo(ctx, { tmux_session: viewer, tmux_window_id: null, pane_id: null, ...where }) : null;
  if (input.attachOnly) return { session_id: session.id, attach_info: attach };
  return {
    session_id: session.id,
    root_thread: root ? threadWire(root) : null,
    viewer_tmux_session: viewer,
    tmux: { available: version !== null, version, viewer_exists: exists },
    attach_info: attach,
    hint: exists ? undefined : 'The viewer session is created with the first child (thread.child.spawn).',
  };
}

/** runtime.tmux.ensure: never installs unless asked, and never with a prompt. */
export async function ensureTmux(ctx: CoreContext, input: { auto_install?: boolean }) {
  const version = await ctx.tmux.version();
  if (version) return { status: 'ready', version };
  if (input.auto_install) {
    const attempt = await ctx.tmux.install();
    if (attempt.installed) return { status: 'installed', version: await ctx.tmux.version(), log: attempt.log };
    return { status: 'manual_required', install_log: attempt.log, instructions: MANUAL };
  }
  return { status: 'manual_required', instructions: MANUAL };
}

const MANUAL = ['Debian/Ubuntu: sudo apt-get install -y tmux', 'Fedora: sudo dnf install -y tmux', 'macOS: brew install tmux'];
