import type { CoreContext } from './context.js';
import { CodestratorError, invalid } from './errors.js';
import { checkOwnership, ownerKeyOf } from './identity.js';
import { parseJson } from './json.js';
import type { Sql } from './ports.js';
import { type ChildThreadRow, getThread, threadWire } from './thread-rows.js';
import { reconcileThreads } from './thread-status.js';
import { launchThread } from './threads.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ControlInput {
  thread_id: number;
  force?: boolean;
  reason?: string;
}

/** The root (its session) steers its children; a child may stop itself; anyone else needs force. */
function controlled(sql: Sql, ctx: CoreContext, input: ControlInput, method: string): ChildThreadRow {
  const row = getThread(sql, input.thread_id);
  if (row.parent_thread_id === null) throw invalid(`Thread ${row.id} is a session root, not a child.`, 'thread_id');
  const actor = ctx.actor;
  const allowed =
    ownerKeyOf(actor) === undefined ||
    (actor.threadId === undefined && actor.sessionId === row.session_id) ||
    actor.threadId === row.id ||
    actor.threadId === row.parent_thread_id;
  if (!allowed)
    checkOwnership(sql, actor, {
      method,
      ownerKey: `session:${row.session_id}`,
      target: `thread ${row.id}`,
      force: input.force,
      reason: input.reason,
      now: ctx.now(),
    });
  return row;
}

async function paneAlive(ctx: CoreContext, paneId: string | null): Promise<boolean> {
  if (!paneId) return false;
  const pane = (await ctx.tmux.listPanes()).find((candidate) => candidate.paneId === paneId);
  return pane !== undefined && !pane.dead;
}

async function waitForExit(ctx: CoreContext, paneId: string | null, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await paneAlive(ctx, paneId))) return true;
    await sleep(100);
  }
  return !(await paneAlive(ctx, paneId));
}

/** Ends the runner: its own exit keys first, then SIGTERM and SIGKILL to the pane's process group. */
async function endRunner(ctx: CoreContext, row: ChildThreadRow): Promise<string> {
  if (!(await paneAlive(ctx, row.pane_id))) return 'already exited';
  const keys = parseJson<{ exit_keys?: string[] }>(row.runner_options, {}).exit_keys ?? [];
  for (const key of keys) await ctx.tmux.typeText(row.pane_id!, key).catch(() => undefined);
  if (keys.length > 0 && (await waitForExit(ctx, row.pane_id, 3000))) return 'exited on request';
  if (row.pane_pid) ctx.tmux.signalProcessGroup(row.pane_pid, 'SIGTERM');
  if (await waitForExit(ctx, row.pane_id, 3000)) return 'terminated (SIGTERM)';
  if (row.pane_pid) ctx.tmux.signalProcessGroup(row.pane_pid, 'SIGKILL');
  await waitForExit(ctx, row.pane_id, 2000);
  return 'killed (SIGKILL)';
}

/** thread.child.stop: ends the child's runner and marks it stopped; terminate_pane also closes its window. */
export async function stopChild(ctx: CoreContext, input: ControlInput & { terminate_pane?: boolean }) {
  const row = ctx.store.write((sql) => controlled(sql, ctx, input, 'thread.child.stop'));
  await reconcileThreads(ctx, [row]);
  const how = await endRunner(ctx, row);
  if (input.terminate_pane && row.tmux_window_id) await ctx.tmux.killWindow(row.tmux_window_id);
  const updated = ctx.store.write((sql) => {
    const now = ctx.now();
    sql.run(
      `UPDATE threads SET status = CASE WHEN status IN ('completed', 'failed') THEN status ELSE 'stopped' END,
         status_reason = CASE WHEN status IN ('completed', 'failed') THEN status_reason ELSE ? END, completed_at = coalesce(completed_at, ?), updated_at = ? WHERE id = ?`,
      [`stopped: ${input.reason ?? 'by the root'} (${how})`, now, now, row.id],
    );
    return getThread(sql, row.id);
  });
  return { result: 'stopped', how, pane_removed: input.terminate_pane === true, thread: threadWire(updated) };
}

/** thread.child.interrupt: Ctrl-C to the runner (an interactive agent stops its current turn). */
export async function interruptChild(ctx: CoreContext, input: ControlInput) {
  const row = ctx.store.write((sql) => controlled(sql, ctx, input, 'thread.child.interrupt'));
  if (!(await paneAlive(ctx, row.pane_id)))
    throw new CodestratorError('PRECONDITION_FAILED', `Thread ${row.id} is not running.`, { field: 'thread_id' });
  await ctx.tmux.sendKey(row.pane_id!, 'C-c');
  return { result: 'interrupt_sent', thread: threadWire(row) };
}

export const DIRECTIVE_MODES = ['interrupt_patch', 'queue', 'restart'] as const;
export type DirectiveMode = (typeof DIRECTIVE_MODES)[number];

function recordDirective(
  sql: Sql,
  ctx: CoreContext,
  row: ChildThreadRow,
  mode: DirectiveMode,
  text: string,
  status: string,
  detail: string | null,
) {
  const now = ctx.now();
  return sql.get<{ id: number }>(
    'INSERT INTO directives (thread_id, mode, text, status, created_by, created_at, delivered_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
    [row.id, mode, text, status, ownerKeyOf(ctx.actor) ?? null, now, status === 'delivered' ? now : null, detail],
  )!.id;
}

/**
 * thread.child.directive. queue: delivered at the child's next step boundary or idle moment (as an
 * inbox message, which its next tool result surfaces); interrupt_patch: Ctrl-C, then the text typed
 * into its pane; restart: stop and respawn keeping task spec, scope, runner and worktree, with the
 * directive added to the prompt.
 */
export async function directChild(ctx: CoreContext, input: ControlInput & { mode?: DirectiveMode; text: string }) {
  const mode = input.mode ?? 'interrupt_patch';
  const row = ctx.store.write((sql) => controlled(sql, ctx, input, 'thread.child.directive'));
  if (mode === 'queue') {
    return ctx.store.write((sql) => {
      const sender = sql.get<{ root_thread_id: number }>('SELECT root_thread_id FROM sessions WHERE id = ?', [
        row.session_id,
      ])!.root_thread_id;
      const message = sql.get<{ id: number }>(
        "INSERT INTO inbox_messages (sender_thread_id, receiver_thread_id, message, status, created_at) VALUES (?, ?, ?, 'pending', ?) RETURNING id",
        [sender, row.id, input.text, ctx.now()],
      )!;
      const id = recordDirective(sql, ctx, row, mode, input.text, 'pending', `inbox message ${message.id}`);
      return {
        directive_id: id,
        mode,
        delivery: 'queued: the child receives it with its next tool call or inbox check',
        inbox_message_id: message.id,
        thread: threadWire(row),
      };
    });
  }
  if (mode === 'interrupt_patch') {
    if (!(await paneAlive(ctx, row.pane_id)))
      throw new CodestratorError('PRECONDITION_FAILED', `Thread ${row.id} is not running; use mode restart.`, { field: 'mode' });
    await ctx.tmux.sendKey(row.pane_id!, 'C-c');
    await sleep(300); // Let the agent settle after the interrupt before the patch arrives.
    await ctx.tmux.typeText(row.pane_id!, input.text);
    const id = ctx.store.write((sql) =>
      recordDirective(sql, ctx, row, mode, input.text, 'delivered', 'interrupted, then typed into the pane'),
    );
    return { directive_id: id, mode, delivery: 'interrupted and typed', thread: threadWire(row) };
  }
  await endRunner(ctx, row);
  if (row.tmux_window_id) await ctx.tmux.killWindow(row.tmux_window_id);
  const restarted = ctx.store.write((sql) => {
    sql.run(
      "UPDATE threads SET status = 'starting', status_reason = 'restarting', generation = generation + 1, completed_at = NULL, updated_at = ? WHERE id = ?",
      [ctx.now(), row.id],
    );
    recordDirective(sql, ctx, row, mode, input.text, 'delivered', 'respawned with the directive in its prompt');
    return getThread(sql, row.id);
  });
  const launched = await launchThread(ctx, restarted, input.text);
  return { mode, delivery: 'restarted', generation: launched.generation, thread: threadWire(launched) };
}

/** Stops every running child of a session (session.cleanup); returns how many. */
export async function stopSessionChildren(ctx: CoreContext, sessionId: number): Promise<number> {
  const rows = ctx.store.read((sql) =>
    sql.all<ChildThreadRow>(
      "SELECT * FROM threads WHERE session_id = ? AND parent_thread_id IS NOT NULL AND status IN ('starting', 'running', 'blocked')",
      [sessionId],
    ),
  );
  for (const row of rows) {
    await endRunner(ctx, row);
    if (row.tmux_window_id) await ctx.tmux.killWindow(row.tmux_window_id);
  }
  const sessions = new Set(
    ctx.store
      .read((sql) =>
        sql.all<{ tmux_session: string }>('SELECT DISTINCT tmux_session FROM threads WHERE session_id = ? AND tmux_session IS NOT NULL', [
          sessionId,
        ]),
      )
      .map((r) => r.tmux_session),
  );
  for (const name of sessions) {
    // Only a session codestrator made for this repository, and only once it holds no other windows.
    if ((await ctx.tmux.sessionOption(name, '@codestrator_repo')) !== ctx.workspace.repoPath) continue;
    await ctx.tmux.killSession(name);
  }
  return rows.length;
}
