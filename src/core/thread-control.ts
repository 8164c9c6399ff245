import type { CoreContext } from './context.js';
import { CodestratorError, invalid } from './errors.js';
import { checkOwnership, ownerKeyOf } from './identity.js';
import { parseJson } from './json.js';
import type { Sql } from './ports.js';
import { closePane, paneOf, threadSocket, tmuxOf } from './thread-panes.js';
import { type ChildThreadRow, getThread, threadWire } from './thread-rows.js';
import { TYPES_INPUT, reconcileThreads } from './thread-status.js';
import { launchThread } from './thread-launch.js';

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

/** The thread's own pane on its own server while its runner lives (never a pane that merely has its id). */
async function livePane(ctx: CoreContext, row: ChildThreadRow): Promise<string | undefined> {
  const pane = await paneOf(ctx, row);
  return pane && !pane.dead ? pane.paneId : undefined;
}

async function waitForExit(ctx: CoreContext, row: ChildThreadRow, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await livePane(ctx, row))) return true;
    await sleep(100);
  }
  return !(await livePane(ctx, row));
}

/** Ends the runner: its own exit keys first, then SIGTERM and SIGKILL to the pane's process group. */
async function endRunner(ctx: CoreContext, row: ChildThreadRow): Promise<string> {
  const pane = await livePane(ctx, row);
  if (!pane) return 'already exited';
  const tmux = tmuxOf(ctx, row);
  const keys = parseJson<{ exit_keys?: string[] }>(row.runner_options, {}).exit_keys ?? [];
  for (const key of keys) await tmux.typeText(pane, key).catch(() => undefined);
  if (keys.length > 0 && (await waitForExit(ctx, row, 3000))) return 'exited on request';
  // The pane was just seen running pane_pid (paneOf checks it), so the group is the runner's.
  if (row.pane_pid) tmux.signalProcessGroup(row.pane_pid, 'SIGTERM');
  if (await waitForExit(ctx, row, 3000)) return 'terminated (SIGTERM)';
  if (row.pane_pid) tmux.signalProcessGroup(row.pane_pid, 'SIGKILL');
  await waitForExit(ctx, row, 2000);
  return 'killed (SIGKILL)';
}

/** thread.child.stop: ends the child's runner and marks it stopped; terminate_pane also closes its window. */
export async function stopChild(ctx: CoreContext, input: ControlInput & { terminate_pane?: boolean }) {
  const row = ctx.store.write((sql) => controlled(sql, ctx, input, 'thread.child.stop'));
  await reconcileThreads(ctx, [row]);
  const how = await endRunner(ctx, row);
  if (input.terminate_pane) await closePane(ctx, row);
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
  const pane = await livePane(ctx, row);
  if (!pane) throw new CodestratorError('PRECONDITION_FAILED', `Thread ${row.id} is not running.`, { field: 'thread_id' });
  await tmuxOf(ctx, row).sendKey(pane, 'C-c');
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
  // A child that reads no typed input (command, headless runners) would only be killed by Ctrl-C.
  const fallback =
    mode === 'interrupt_patch' && !TYPES_INPUT.has(row.runner ?? '')
      ? `interrupt_patch: thread ${row.id} runs the ${row.runner} runner, which reads no typed input and would be ended by Ctrl-C; the directive was queued instead.`
      : undefined;
  if (mode === 'queue' || fallback) {
    return ctx.store.write((sql) => {
      const sender = sql.get<{ root_thread_id: number }>('SELECT root_thread_id FROM sessions WHERE id = ?', [
        row.session_id,
      ])!.root_thread_id;
      const message = sql.get<{ id: number }>(
        "INSERT INTO inbox_messages (sender_thread_id, receiver_thread_id, message, status, created_at) VALUES (?, ?, ?, 'pending', ?) RETURNING id",
        [sender, row.id, input.text, ctx.now()],
      )!;
      const id = recordDirective(sql, ctx, row, 'queue', input.text, 'pending', `inbox message ${message.id}`);
      return {
        directive_id: id,
        mode: 'queue' as const,
        ...(fallback ? { requested_mode: mode, notes: [fallback] } : {}),
        delivery: 'queued: the child receives it with its next tool call or inbox check',
        inbox_message_id: message.id,
        thread: threadWire(row),
      };
    });
  }
  if (mode === 'interrupt_patch') {
    const pane = await livePane(ctx, row);
    if (!pane) throw new CodestratorError('PRECONDITION_FAILED', `Thread ${row.id} is not running; use mode restart.`, { field: 'mode' });
    const tmux = tmuxOf(ctx, row);
    await tmux.sendKey(pane, 'C-c');
    await sleep(300); // Let the agent settle after the interrupt before the patch arrives.
    // Checked again: the runner may have ended on the interrupt, and its pane with it.
    if ((await livePane(ctx, row)) !== pane)
      throw new CodestratorError('PRECONDITION_FAILED', `Thread ${row.id} ended on the interrupt; the text was not typed.`, {
        field: 'mode',
        hint: 'Use mode restart to start it again with the directive in its prompt.',
      });
    await tmux.typeText(pane, input.text);
    const id = ctx.store.write((sql) =>
      recordDirective(sql, ctx, row, mode, input.text, 'delivered', 'interrupted, then typed into the pane'),
    );
    return { directive_id: id, mode, delivery: 'interrupted and typed', thread: threadWire(row) };
  }
  await endRunner(ctx, row);
  await closePane(ctx, row);
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
    await closePane(ctx, row);
  }
  // Each viewer session on the server its threads ran on.
  const sessions = new Map<string, { socket: string | null; name: string }>();
  const named = ctx.store.read((sql) =>
    sql.all<{ tmux_session: string; runner_options: string | null }>(
      'SELECT tmux_session, runner_options FROM threads WHERE session_id = ? AND tmux_session IS NOT NULL',
      [sessionId],
    ),
  );
  for (const row of named) {
    const socket = threadSocket(ctx, row);
    sessions.set(JSON.stringify([socket, row.tmux_session]), { socket, name: row.tmux_session });
  }
  for (const { socket, name } of sessions.values()) {
    const tmux = ctx.tmux.on(socket);
    // Only a session codestrator made for this repository, and only once it holds no other windows.
    if ((await tmux.sessionOption(name, '@codestrator_repo')) !== ctx.workspace.repoPath) continue;
    await tmux.killSession(name);
  }
  return rows.length;
}
