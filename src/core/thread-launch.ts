import { join } from 'node:path';
import type { CoreContext } from './context.js';
import { type ContextPack, buildPrompt } from './prompts.js';
import type { SessionRow } from './rows.js';
import { tmuxOf } from './thread-panes.js';
import { type ChildThreadRow, getThread } from './thread-rows.js';
import { REPO_TAG, repoViewerName, resolveViewer } from './thread-viewer.js';
import { getWorktree } from './worktrees.js';

/** Roles that look and report but change no files. */
const READ_ONLY_ROLES = new Set(['merge-reviewer', 'reviewer', 'research', 'verifier']);
/** Base name of the window the children of a session share. */
const CHILDREN_WINDOW = 'children';

interface StoredOptions {
  command?: string[];
  script_path?: string;
  model?: string;
  program?: string[];
  context_pack?: ContextPack;
  initial_prompt?: string;
  agent_guide_path?: string;
  split_direction?: 'vertical' | 'horizontal';
  tmux_session_name?: string;
  tmux_window_name?: string;
}

/** The line that tells a child to read its agent guide first. */
const guideLine = (path: string) => `AGENT GUIDE: read ${path} first; follow it where it is more specific than what follows.`;

/** A short pane title: thread id, role and title. */
const paneTitle = (thread: ChildThreadRow) => `t${thread.id} ${thread.role}${thread.title ? `: ${thread.title}` : ''}`.slice(0, 60);

/**
 * Starts (or restarts) a thread's runner in a pane of its session's shared children window (see
 * TmuxPort.openPane): prompt from the role template,
 * launch spec from the runner, files written, and the argv wrapped by pane-wrap, which records the
 * exit status. Returns at once; it does not wait for the agent to be ready. A new thread runs on
 * this process's tmux server, a restarted one on the server it ran on; either way the server is
 * recorded (runner_options.tmux_socket), since every later pane operation must go to it.
 */
export async function launchThread(ctx: CoreContext, thread: ChildThreadRow, directive?: string) {
  const runtime = ctx.runtime;
  const tmux = tmuxOf(ctx, thread);
  const { session, worktree } = ctx.store.read((sql) => {
    const session = sql.get<SessionRow>('SELECT * FROM sessions WHERE id = ?', [thread.session_id])!;
    return { session, worktree: getWorktree(sql, thread.worktree_id!) };
  });
  const options = JSON.parse(thread.runner_options ?? '{}') as StoredOptions;
  const threadDir = join(ctx.workspace.stateDir, 'threads', String(thread.id));
  const given =
    options.initial_prompt && options.agent_guide_path
      ? `${guideLine(options.agent_guide_path)}\n\n${options.initial_prompt}`
      : options.initial_prompt;
  const prompt =
    given ??
    buildPrompt(ctx, {
      role: thread.role,
      ...(options.agent_guide_path ? { guide: guideLine(options.agent_guide_path) } : {}),
      templatesDir: runtime.templatesDir,
      values: {
        ...(JSON.parse(thread.task_spec ?? 'null') ?? {}),
        worktree_path: worktree.path,
        branch: worktree.branch,
        thread_id: thread.id,
        session_id: session.id,
      },
      ...(options.context_pack ? { contextPack: options.context_pack } : {}),
      assignment: {
        thread_id: thread.id,
        session_id: session.id,
        role: thread.role,
        title: thread.title,
        objective: thread.objective,
        task_spec: JSON.parse(thread.task_spec ?? 'null'),
        scope_task_ids: JSON.parse(thread.scope_task_ids),
        scope_case_ids: JSON.parse(thread.scope_case_ids),
        worktree: { path: worktree.path, branch: worktree.branch },
      },
      ...(directive ? { directive } : {}),
    });
  const launch = ctx.runners.build({
    kind: thread.runner ?? 'codex',
    prompt: directive && options.initial_prompt ? `${prompt}\n\nDIRECTIVE: ${directive}` : prompt,
    cwd: worktree.path,
    sessionId: session.id,
    threadId: thread.id,
    serverCommand: runtime.serverCommand,
    repoPath: ctx.workspace.repoPath,
    threadDir,
    // The child's own codestrator calls (its children, its siblings' status) use the server it runs on.
    baseEnv: { ...runtime.baseEnv, CODESTRATOR_TMUX_SOCKET: tmux.socket ?? undefined },
    ...(options.command ? { command: options.command } : {}),
    ...(options.script_path ? { scriptPath: options.script_path } : {}),
    ...(options.model ? { model: options.model } : {}),
    ...(options.program ? { program: options.program } : {}),
    access: READ_ONLY_ROLES.has(thread.role) ? 'read-only' : 'workspace-write',
  });
  for (const file of launch.files) ctx.files.writeAtomic(file.path, file.content, file.mode);
  const exitFile = join(threadDir, `exit-${thread.generation}.json`);
  const tmuxSession = await resolveViewer(
    ctx,
    tmux,
    options.tmux_session_name ?? session.viewer_tmux_session ?? repoViewerName(ctx.workspace, worktree.slug),
  );
  const env: Record<string, string> = { ...(runtime.baseEnv.PATH ? { PATH: runtime.baseEnv.PATH } : {}), ...launch.env };
  const envFile = join(threadDir, `env-${thread.generation}.json`);
  ctx.files.writeAtomic(envFile, JSON.stringify(env), 0o600);
  const pane = await tmux.openPane(
    {
      session: tmuxSession,
      windowName: options.tmux_window_name ?? CHILDREN_WINDOW,
      cwd: launch.cwd,
      argv: [process.execPath, ctx.runners.program('pane-wrap.js'), exitFile, envFile, '--', ...launch.argv],
      title: paneTitle(thread),
      ...(options.split_direction ? { split: options.split_direction } : {}),
    },
    { option: REPO_TAG, value: ctx.workspace.repoPath },
  );
  return ctx.store.write((sql) => {
    const now = ctx.now();
    sql.run(
      `UPDATE threads SET status = 'running', status_reason = 'launched', prompt = ?, thread_dir = ?, runner_options = json_set(coalesce(runner_options, '{}'), '$.exit_keys', json(?), '$.tmux_socket', ?, '$.window_name', ?, '$.layout', ?), tmux_session = ?, tmux_window_id = ?, pane_id = ?, pane_pid = ?,
         exit_status = NULL, exit_signal = NULL, started_at = ?, updated_at = ? WHERE id = ?`,
      [
        prompt,
        threadDir,
        JSON.stringify(launch.exitKeys ?? []),
        tmux.socket,
        pane.windowName,
        pane.layout,
        tmuxSession,
        pane.windowId,
        pane.paneId,
        pane.pid,
        now,
        now,
        thread.id,
      ],
    );
    return getThread(sql, thread.id);
  });
}

/** What the contract's `tmux` output says about a launched thread. */
export function tmuxWire(row: ChildThreadRow, status = 'ready') {
  const options = JSON.parse(row.runner_options ?? '{}') as { tmux_socket?: string | null; window_name?: string; layout?: string };
  return {
    status,
    session: row.tmux_session,
    window: options.window_name ?? null,
    window_id: row.tmux_window_id,
    pane_id: row.pane_id,
    layout: options.layout ?? null,
    socket: options.tmux_socket ?? null,
  };
}
