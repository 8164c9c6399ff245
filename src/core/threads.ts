import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { toJson } from './json.js';
import type { Sql } from './ports.js';
import type { ContextPack, Role } from './prompts.js';
import type { SessionRow, WorktreeRow } from './rows.js';
import { type ResolvedAgent, resolveAgent } from './thread-inputs.js';
import { launchThread, tmuxWire } from './thread-launch.js';
import { ACTIVE_THREAD_STATUSES, type ChildThreadRow, getThread, threadWire } from './thread-rows.js';
import { reconcileThreads } from './thread-status.js';
import { attachInfo } from './thread-viewer.js';
import { discardWorktree } from './worktree-create.js';
import { getWorktree, spawnWorktree } from './worktrees.js';

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
  /** Raw JSON (stored); an object's runner / runner_kind / command / model keys are honoured. */
  agent_override?: string | Record<string, unknown>;
  ensure_tmux?: boolean;
  auto_install?: boolean;
  /** agents_sdk_codex_mcp (the Codex runner) or one of our runner names. */
  runner_kind?: string;
  interaction_mode?: string;
  parent_thread_id?: number;
  /** An argv, or a command line split into words (no shell, no expansion): run as the command runner. */
  launch_command?: string | string[];
  codex_command?: string | string[];
  launch_codex?: boolean;
  split_direction?: 'vertical' | 'horizontal';
  tmux_session_name?: string;
  tmux_window_name?: string;
}

function insertThread(
  sql: Sql,
  ctx: CoreContext,
  session: SessionRow,
  worktree: WorktreeRow,
  input: SpawnInput,
  agent: ResolvedAgent,
  parentThreadId: number | null,
): ChildThreadRow {
  // Checked again in the write: another spawn may have started a child since the live count.
  const active = sql.all<{ id: number }>(
    `SELECT id FROM threads WHERE session_id = ? AND parent_thread_id IS NOT NULL AND status IN (${ACTIVE_THREAD_STATUSES.map(() => '?').join(', ')})`,
    [session.id, ...ACTIVE_THREAD_STATUSES],
  );
  if (active.length >= agent.maxChildren)
    throw capReached(
      session.id,
      active.map((t) => t.id),
      agent.maxChildren,
    );
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
      parentThreadId,
      input.role ?? 'worker',
      input.title ?? null,
      now,
      now,
      agent.runner,
      worktree.id,
      input.objective ?? null,
      toJson(input.task_spec ?? null),
      toJson(input.scope_task_ids ?? []),
      toJson(input.scope_case_ids ?? []),
      toJson({
        command: agent.command,
        script_path: input.script_path,
        model: agent.model,
        program: agent.program,
        context_pack: input.context_pack,
        initial_prompt: input.initial_prompt,
        agent_guide_path: agent.guidePath,
        agent_override: agent.overrideRaw,
        runner_kind: input.runner_kind,
        interaction_mode: input.interaction_mode ?? 'view_only',
        split_direction: input.split_direction,
        tmux_session_name: input.tmux_session_name,
        tmux_window_name: input.tmux_window_name,
      }),
    ],
  ).lastInsertRowid;
  sql.run('UPDATE worktrees SET owner_thread_id = ? WHERE id = ?', [id, worktree.id]);
  return getThread(sql, id);
}

/** tmux for a launch: present, or installed now when ensure_tmux allows (never with a prompt); else a clear refusal. */
async function requireTmux(ctx: CoreContext, input: SpawnInput): Promise<string> {
  if (await ctx.tmux.version()) return 'ready';
  if (input.ensure_tmux !== false) {
    const report = await ctx.tmux.ensureInstalled({ env: ctx.runtime.baseEnv, autoInstall: input.auto_install ?? true });
    if (report.status !== 'manual_required' && (await ctx.tmux.version())) return report.status;
    throw new CodestratorError('PRECONDITION_FAILED', `tmux is not installed${report.reason ? `: ${report.reason}` : ''}.`, {
      hint: `Install it: ${report.manual_commands.join(' ; ')} (or spawn with launch_codex: false).`,
      data: { manual_commands: report.manual_commands, attempts: report.attempts },
    });
  }
  throw new CodestratorError('PRECONDITION_FAILED', 'tmux is not installed (ensure_tmux: false, so no install was tried).', {
    hint: 'Install tmux (runtime.tmux.ensure says how), or spawn with launch_codex: false.',
  });
}

/** The session's live children, reconciled with tmux first: a child that exited is no longer counted. */
async function liveChildren(ctx: CoreContext, sessionId: number): Promise<number[]> {
  const active = () =>
    ctx.store.read((sql) =>
      sql.all<ChildThreadRow>(
        `SELECT * FROM threads WHERE session_id = ? AND parent_thread_id IS NOT NULL AND status IN (${ACTIVE_THREAD_STATUSES.map(() => '?').join(', ')})`,
        [sessionId, ...ACTIVE_THREAD_STATUSES],
      ),
    );
  await reconcileThreads(ctx, active());
  return active().map((row) => row.id);
}

function capReached(sessionId: number, running: number[], max: number) {
  return new CodestratorError(
    'CONFLICT',
    `Session ${sessionId} already runs ${running.length} children (max_concurrent_children=${max}).`,
    {
      field: 'max_concurrent_children',
      hint: `Wait for one to finish (thread.child.wait_status) or stop one (thread.child.stop); running: ${running.join(', ')}.`,
      data: { running },
    },
  );
}

/** parent_thread_id: a thread of the caller's session (default: its root thread). */
function parentOf(ctx: CoreContext, session: SessionRow, parentThreadId: number | undefined): number | null {
  if (parentThreadId === undefined) return session.root_thread_id;
  const parent = ctx.store.read((sql) => getThread(sql, parentThreadId, 'parent_thread_id'));
  if (parent.session_id !== session.id)
    throw invalid(`Thread ${parent.id} belongs to session ${parent.session_id}, not ${session.id}.`, 'parent_thread_id');
  return parent.id;
}

/**
 * thread.child.spawn: a child thread of the caller's session with its own worktree (spawned from
 * the session root unless worktree_id is given) and runner, in a pane of the session's shared
 * children window. Refuses past max_concurrent_children live children (never above the
 * repository's ceiling). A failure leaves no running thread and no worktree it created.
 */
export async function spawnChild(ctx: CoreContext, input: SpawnInput) {
  const sessionId = ctx.actor.sessionId;
  if (sessionId === undefined) throw invalid('thread.child.spawn needs the calling session (session_id).', 'session_id');
  const session = ctx.store.read((sql) => sql.get<SessionRow>('SELECT * FROM sessions WHERE id = ?', [sessionId]));
  if (!session) throw notFound('Session', sessionId, 'session_id');
  if (session.status !== 'active')
    throw new CodestratorError('PRECONDITION_FAILED', `Session ${session.id} is ${session.status}.`, { field: 'session_id' });
  const sessionRoot = session.worktree_id ? ctx.store.read((sql) => getWorktree(sql, session.worktree_id!).path) : null;
  const agent = resolveAgent(ctx, input, sessionRoot);
  if (agent.runner === 'command' && !agent.command?.length)
    throw invalid('runner "command" needs command (or launch_command): the argv to run.', 'command');
  if (agent.runner === 'script' && !input.script_path) throw invalid('runner "script" needs script_path.', 'script_path');
  const parentThreadId = parentOf(ctx, session, input.parent_thread_id);
  const tmuxStatus = agent.launch ? await requireTmux(ctx, input) : 'not_launched';
  const running = await liveChildren(ctx, session.id);
  if (running.length >= agent.maxChildren) throw capReached(session.id, running, agent.maxChildren);
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
    thread = ctx.store.write((sql) => insertThread(sql, ctx, session, worktree, input, agent, parentThreadId));
  } catch (err) {
    if (created) await discardCreated(ctx, worktree);
    throw err;
  }
  const result = (row: ChildThreadRow, tmux: ReturnType<typeof tmuxWire>) => ({
    thread: threadWire(row),
    worktree: { id: worktree.id, path: worktree.path, branch: worktree.branch },
    tmux,
    attach_info: attachInfo(ctx, row),
    ...(agent.notes.length > 0 ? { notes: agent.notes } : {}),
  });
  if (!agent.launch) {
    const held = ctx.store.write((sql) => {
      sql.run("UPDATE threads SET status = 'blocked', status_reason = ?, updated_at = ? WHERE id = ?", [
        'not launched (launch_codex: false); thread.child.directive mode restart starts it',
        ctx.now(),
        thread.id,
      ]);
      return getThread(sql, thread.id);
    });
    return result(held, tmuxWire(held, tmuxStatus));
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
  return result(thread, tmuxWire(thread, tmuxStatus));
}

/** A worktree made for a spawn that did not happen: remove it and its row. */
async function discardCreated(ctx: CoreContext, worktree: WorktreeRow): Promise<void> {
  await discardWorktree(ctx, { ...worktree, status: 'creating' });
  ctx.store.write((sql) => sql.run("UPDATE worktrees SET status = 'removed', removed_at = ? WHERE id = ?", [ctx.now(), worktree.id]));
}
