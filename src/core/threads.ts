import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { toJson } from './json.js';
import type { Sql, TmuxPort } from './ports.js';
import { type ContextPack, type Role, buildPrompt } from './prompts.js';
import type { SessionRow, WorktreeRow } from './rows.js';
import { tmuxOf } from './thread-panes.js';
import { ACTIVE_THREAD_STATUSES, type ChildThreadRow, getThread, threadWire } from './thread-rows.js';
import { discardWorktree } from './worktree-create.js';
import { getWorktree, spawnWorktree } from './worktrees.js';

export const DEFAULT_MAX_CHILDREN = 6;
/** Roles that look and report but change no files. */
const READ_ONLY_ROLES = new Set(['merge-reviewer', 'reviewer', 'research', 'verifier']);
/** tmux session option marking which repository a viewer session belongs to. */
const REPO_TAG = '@codestrator_repo';

export interface SpawnInput {
  /** A prompt template name (ROLES) or any other role name the caller uses (contract: free text). */
  role?: Role | (string & {});
  title?: string;
  objective?: string;
  runner?: string;
  command?: string[];
  script_path?: string;
  model?: string;
  worktree_id?: number;
  /** Worktree to branch the child's worktree from (default: the session root). */
  parent_worktree_id?: number;
  task_id?: number;
  scope_task_ids?: number[];
  scope_case_ids?: number[];
  task_spec?: Record<string, unknown>;
  context_pack?: ContextPack;
  initial_prompt?: string;
  max_concurrent_children?: number;
  /** Contract inputs of thread.child.spawn / merge.review.request_auto (method-contracts.md). */
  agent_guide_path?: string;
  agent_override?: string;
  ensure_tmux?: boolean;
  auto_install?: boolean;
}

/** 50 ms apart: how long an untagged session of our name is given to be tagged by the spawn that made it. */
const TAG_WAIT_TRIES = 20;

/** Viewer session `{repository}-{worktree}`, made unique per repository path (not just its basename). */
async function viewerSession(ctx: CoreContext, tmux: TmuxPort, session: SessionRow, worktree: WorktreeRow): Promise<string> {
  const base = session.viewer_tmux_session ?? `${ctx.workspace.repoName}-${worktree.slug}`.replace(/[^A-Za-z0-9_-]+/g, '-');
  const ours = `${base}-${createHash('sha1').update(ctx.workspace.repoPath).digest('hex').slice(0, 6)}`;
  let tag = await tmux.sessionOption(base, REPO_TAG);
  if (tag === ctx.workspace.repoPath) return base;
  if (tag !== null) return ours; // another repository's
  if (!(await tmux.hasSession(base))) return base;
  // Untagged: a concurrent spawn may have created it and be about to tag it (a second tmux command).
  for (let wait = 0; wait < TAG_WAIT_TRIES && tag === null; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    tag = await tmux.sessionOption(base, REPO_TAG);
  }
  // Still untagged (a person's) or another repository's: never use theirs.
  return tag === ctx.workspace.repoPath ? base : ours;
}

function insertThread(
  sql: Sql,
  ctx: CoreContext,
  session: SessionRow,
  worktree: WorktreeRow,
  input: SpawnInput,
  max: number,
): ChildThreadRow {
  const active = sql.all<{ id: number }>(
    `SELECT id FROM threads WHERE session_id = ? AND parent_thread_id IS NOT NULL AND status IN (${ACTIVE_THREAD_STATUSES.map(() => '?').join(', ')})`,
    [session.id, ...ACTIVE_THREAD_STATUSES],
  );
  if (active.length >= max) {
    throw new CodestratorError(
      'CONFLICT',
      `Session ${session.id} already runs ${active.length} children (max_concurrent_children=${max}).`,
      {
        field: 'max_concurrent_children',
        hint: `Wait for one to finish (thread.child.wait_status) or stop one (thread.child.stop); running: ${active.map((t) => t.id).join(', ')}.`,
        data: { running: active.map((t) => t.id) },
      },
    );
  }
  if (sql.get(`SELECT 1 FROM threads WHERE worktree_id = ? AND status IN ('starting', 'running', 'blocked')`, [worktree.id])) {
    throw new CodestratorError('CONFLICT', `Worktree ${worktree.id} already has a running child: one case, one worker, one worktree.`, {
      field: 'worktree_id',
    });
  }
  const now = ctx.now();
  const id = sql.run(
    `INSERT INTO threads (session_id, parent_thread_id, role, title, status, created_at, updated_at, runner, worktree_id, objective, task_spec,
       scope_task_ids, scope_case_ids, runner_options)
     VALUES (?, ?, ?, ?, 'starting', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      session.id,
      session.root_thread_id,
      input.role ?? 'worker',
      input.title ?? null,
      now,
      now,
      input.runner ?? 'codex',
      worktree.id,
      input.objective ?? null,
      toJson(input.task_spec ?? null),
      toJson(input.scope_task_ids ?? []),
      toJson(input.scope_case_ids ?? []),
      toJson({
        command: input.command,
        script_path: input.script_path,
        model: input.model,
        context_pack: input.context_pack,
        initial_prompt: input.initial_prompt,
      }),
    ],
  ).lastInsertRowid;
  sql.run('UPDATE worktrees SET owner_thread_id = ? WHERE id = ?', [id, worktree.id]);
  return getThread(sql, id);
}

interface StoredOptions {
  command?: string[];
  script_path?: string;
  model?: string;
  context_pack?: ContextPack;
  initial_prompt?: string;
}

/**
 * Starts (or restarts) a thread's runner in its own tmux window: prompt from the role template,
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
  const prompt =
    options.initial_prompt ??
    buildPrompt(ctx, {
      role: thread.role as Role,
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
    access: READ_ONLY_ROLES.has(thread.role) ? 'read-only' : 'workspace-write',
  });
  for (const file of launch.files) ctx.files.writeAtomic(file.path, file.content, file.mode);
  const exitFile = join(threadDir, `exit-${thread.generation}.json`);
  const tmuxSession = await viewerSession(ctx, tmux, session, worktree);
  const env: Record<string, string> = { ...(runtime.baseEnv.PATH ? { PATH: runtime.baseEnv.PATH } : {}), ...launch.env };
  const envFile = join(threadDir, `env-${thread.generation}.json`);
  ctx.files.writeAtomic(envFile, JSON.stringify(env), 0o600);
  const pane = await tmux.openWindow(
    {
      session: tmuxSession,
      windowName: `t${thread.id}-${thread.role}`,
      cwd: launch.cwd,
      argv: [process.execPath, ctx.runners.program('pane-wrap.js'), exitFile, envFile, '--', ...launch.argv],
    },
    { option: REPO_TAG, value: ctx.workspace.repoPath },
  );
  return ctx.store.write((sql) => {
    const now = ctx.now();
    sql.run(
      `UPDATE threads SET status = 'running', status_reason = 'launched', prompt = ?, thread_dir = ?, runner_options = json_set(coalesce(runner_options, '{}'), '$.exit_keys', json(?), '$.tmux_socket', ?), tmux_session = ?, tmux_window_id = ?, pane_id = ?, pane_pid = ?,
         exit_status = NULL, exit_signal = NULL, started_at = ?, updated_at = ? WHERE id = ?`,
      [
        prompt,
        threadDir,
        JSON.stringify(launch.exitKeys ?? []),
        tmux.socket,
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

/** How a person watches a child without disturbing it: read-only attach (on the child's tmux server), each argument quoted. */
export function attachInfo(ctx: CoreContext, row: Pick<ChildThreadRow, 'tmux_session' | 'tmux_window_id' | 'pane_id' | 'runner_options'>) {
  if (!row.tmux_session) return null;
  const quote = (arg: string) => (/^[A-Za-z0-9_./@%:=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  const socketArgs = tmuxOf(ctx, row).socketArgs;
  const argv = ['tmux', ...socketArgs, 'attach', '-r', '-t', row.tmux_session];
  return {
    command: argv.map(quote).join(' '),
    argv,
    tmux_session: row.tmux_session,
    window_id: row.tmux_window_id,
    pane_id: row.pane_id,
    select_window: ['tmux', ...socketArgs, 'select-window', '-t', row.tmux_window_id ?? ''].map(quote).join(' '),
  };
}

/**
 * thread.child.spawn: a child thread of the caller's session with its own worktree (spawned from
 * the session root unless worktree_id is given), its own tmux window and runner. Refuses past
 * max_concurrent_children. A failure leaves no running thread and no worktree it created.
 */
export async function spawnChild(ctx: CoreContext, input: SpawnInput) {
  const sessionId = ctx.actor.sessionId;
  if (sessionId === undefined) throw invalid('thread.child.spawn needs the calling session (session_id).', 'session_id');
  if (input.runner === 'command' && !input.command?.length) throw invalid('runner "command" needs command: the argv to run.', 'command');
  if (input.runner === 'script' && !input.script_path) throw invalid('runner "script" needs script_path.', 'script_path');
  const session = ctx.store.read((sql) => sql.get<SessionRow>('SELECT * FROM sessions WHERE id = ?', [sessionId]));
  if (!session) throw notFound('Session', sessionId, 'session_id');
  if (session.status !== 'active')
    throw new CodestratorError('PRECONDITION_FAILED', `Session ${session.id} is ${session.status}.`, { field: 'session_id' });
  if (!(await ctx.tmux.version())) {
    throw new CodestratorError('PRECONDITION_FAILED', 'tmux is not installed.', {
      hint: 'Install tmux (e.g. apt-get install tmux or brew install tmux); runtime.tmux.ensure tells more.',
    });
  }
  const created = input.worktree_id === undefined;
  ctx.progress?.(created ? `${input.title ?? input.role ?? 'child'}: creating its worktree` : `${input.title ?? 'child'}: preparing`);
  const worktree = created
    ? (
        await spawnWorktree(ctx, {
          ...(input.task_id !== undefined ? { task_id: input.task_id } : {}),
          ...(input.parent_worktree_id !== undefined ? { parent_worktree_id: input.parent_worktree_id } : {}),
          name: input.title ?? input.objective ?? input.role ?? 'worker',
        })
      ).worktree
    : ctx.store.read((sql) => getWorktree(sql, input.worktree_id!));
  let thread: ChildThreadRow;
  try {
    thread = ctx.store.write((sql) =>
      insertThread(sql, ctx, session, worktree, input, input.max_concurrent_children ?? DEFAULT_MAX_CHILDREN),
    );
  } catch (err) {
    if (created) await discardCreated(ctx, worktree);
    throw err;
  }
  try {
    ctx.progress?.(`thread ${thread.id}: starting ${thread.runner ?? 'codex'} in tmux`);
    thread = await launchThread(ctx, thread);
  } catch (err) {
    ctx.store.write((sql) =>
      sql.run("UPDATE threads SET status = 'failed', status_reason = ?, completed_at = ?, updated_at = ? WHERE id = ?", [
        `launch failed: ${err instanceof Error ? err.message : String(err)}`,
        ctx.now(),
        ctx.now(),
        thread.id,
      ]),
    );
    if (created) await discardCreated(ctx, worktree);
    throw new CodestratorError('EXTERNAL', `Could not start thread ${thread.id}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  return {
    thread: threadWire(thread),
    worktree: { id: worktree.id, path: worktree.path, branch: worktree.branch },
    attach_info: attachInfo(ctx, thread),
  };
}

/** A worktree made for a spawn that did not happen: remove it and its row. */
async function discardCreated(ctx: CoreContext, worktree: WorktreeRow): Promise<void> {
  await discardWorktree(ctx, { ...worktree, status: 'creating' });
  ctx.store.write((sql) => sql.run("UPDATE worktrees SET status = 'removed', removed_at = ? WHERE id = ?", [ctx.now(), worktree.id]));
}
