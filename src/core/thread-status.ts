import { TERMINAL_THREAD_STATUSES } from './identity.js';
import { join } from 'node:path';
import type { CoreContext } from './context.js';
import { CodestratorError, invalid } from './errors.js';
import { parseJson } from './json.js';
import type { PaneState } from './ports.js';
import { ACTIVE_THREAD_STATUSES, type ChildThreadRow, getThread, threadWire } from './thread-rows.js';
import { type PageRequest, cursorId, pageLimit, toPage } from './paging.js';
import { ownPanes, paneOf, tmuxOf } from './thread-panes.js';
import { attachInfo } from './thread-viewer.js';

interface ExitRecord {
  code: number | null;
  signal: string | null;
  error?: string;
}

/** What the pane and the exit record say about a thread that was running; undefined = still running. */
export function paneVerdict(
  row: ChildThreadRow,
  pane: PaneState | undefined,
  exit: ExitRecord | null,
): { status: string; reason: string; code: number | null; signal: string | null } | undefined {
  // The exit record is written as the runner ends, a moment before its pane closes: it decides first.
  if (!exit && pane && !pane.dead) return undefined;
  if (exit) {
    if (exit.code === 0)
      return { status: 'completed', reason: row.last_report ? `exited 0 after: ${row.last_report}` : 'exited 0', code: 0, signal: null };
    const how = exit.signal ? `killed by ${exit.signal}` : `exited with status ${exit.code}`;
    return { status: 'failed', reason: exit.error ? `${how}: ${exit.error}` : how, code: exit.code, signal: exit.signal };
  }
  if (pane?.dead)
    return {
      status: pane.deadStatus === 0 ? 'completed' : 'failed',
      reason: `pane exited with status ${pane.deadStatus}`,
      code: pane.deadStatus,
      signal: null,
    };
  return {
    status: 'failed',
    reason: 'its tmux pane is gone and it recorded no exit status (killed from outside?)',
    code: null,
    signal: null,
  };
}

/**
 * Notices on read that children ended: a finished runner (exit record written by pane-wrap), a
 * dead or vanished pane. Such threads are marked completed or failed with the reason, never left
 * "running". One tmux call per server the threads run on (each on the one it was launched on).
 * Returns the own pane seen for each thread that was running (undefined when it is gone).
 */
export async function reconcileThreads(ctx: CoreContext, rows: readonly ChildThreadRow[]): Promise<Map<number, PaneState | undefined>> {
  const live = rows.filter((row) => row.pane_id && (ACTIVE_THREAD_STATUSES as readonly string[]).includes(row.status));
  if (live.length === 0) return new Map();
  const panes = await ownPanes(ctx, live);
  await deliverToIdle(ctx, live, panes);
  for (const row of live) {
    recordEvents(ctx, row);
    const exit = row.thread_dir
      ? parseJson<ExitRecord | null>(ctx.files.readText(join(row.thread_dir, `exit-${row.generation}.json`)), null)
      : null;
    const verdict = paneVerdict(row, panes.get(row.id), exit);
    if (!verdict) continue;
    ctx.store.write((sql) => {
      const now = ctx.now();
      // A report of done/failed made while running stands; otherwise the exit decides.
      sql.run(
        `UPDATE threads SET status = CASE WHEN status IN ('completed', 'failed', 'stopped') THEN status ELSE ? END,
           status_reason = CASE WHEN status IN ('completed', 'failed', 'stopped') THEN status_reason ELSE ? END,
           exit_status = ?, exit_signal = ?, completed_at = coalesce(completed_at, ?), updated_at = ?
         WHERE id = ? AND generation = ?`,
        [verdict.status, verdict.reason, verdict.code, verdict.signal, now, now, row.id, row.generation],
      );
    });
  }
  return panes;
}

/**
 * Structured signals first: a headless runner's event stream (events.jsonl, written by tee-events)
 * gives its last message and token usage, and its own completed/failed verdict.
 */
function recordEvents(ctx: CoreContext, row: ChildThreadRow): void {
  if (!row.thread_dir) return;
  const text = ctx.files.readText(join(row.thread_dir, 'events.jsonl'));
  if (!text) return;
  const summary = ctx.runners.summarize(text);
  const usage = JSON.stringify(summary.usage);
  const final = summary.status === 'completed' || summary.status === 'failed';
  // Reads poll often (wait_status): take the write lock only when the stream said something new.
  if (!final && usage === row.usage && (summary.last_text ?? null) === row.last_output) return;
  ctx.store.write(
    (sql) => {
      sql.run(
        `UPDATE threads SET usage = ?, last_output = ?,
           status = CASE WHEN ? AND status IN ('starting', 'running', 'blocked') THEN ? ELSE status END,
           status_reason = CASE WHEN ? AND status IN ('starting', 'running', 'blocked') THEN ? ELSE status_reason END,
           completed_at = CASE WHEN ? AND completed_at IS NULL THEN ? ELSE completed_at END
         WHERE id = ? AND generation = ?`,
        [
          usage,
          summary.last_text ?? null,
          final ? 1 : 0,
          summary.status,
          final ? 1 : 0,
          summary.status === 'failed' ? `runner reported failure: ${summary.error ?? 'unknown'}` : 'runner reported completion',
          final ? 1 : 0,
          ctx.now(),
          row.id,
          row.generation,
        ],
      );
    },
    { ledger: false },
  );
}

/** Records that a thread just called codestrator (it is working, not idle). */
export function touchThread(ctx: CoreContext, threadId: number): void {
  ctx.store.write((sql) => sql.run('UPDATE threads SET last_call_at = ? WHERE id = ?', [ctx.now(), threadId]), { ledger: false });
}

/** Runners that read typed input; headless ones (codex_exec, claude_exec) and plain commands do not. */
export const TYPES_INPUT: ReadonlySet<string> = new Set(['codex', 'claude', 'gemini', 'script']);

/**
 * Idle delivery: a child that has made no call for idle_delivery_seconds gets its pending messages
 * typed into its pane (one line each), and they are marked delivered first, so exactly once. A busy
 * child receives them in its next tool result instead.
 */
async function deliverToIdle(
  ctx: CoreContext,
  rows: readonly ChildThreadRow[],
  panes: ReadonlyMap<number, PaneState | undefined>,
): Promise<void> {
  const idleSince = ctx.now() - ctx.config.idle_delivery_seconds * 1000;
  for (const row of rows) {
    // Only the thread's own pane on its own server (from the same list-panes call as the check).
    const pane = panes.get(row.id);
    if (!pane || pane.dead || row.status !== 'running' || !TYPES_INPUT.has(row.runner ?? '')) continue;
    if ((row.last_call_at ?? row.started_at ?? 0) > idleSince) continue;
    const waiting = ctx.store.read((sql) =>
      sql.get("SELECT 1 FROM inbox_messages WHERE receiver_thread_id = ? AND status = 'pending' AND created_at <= ?", [row.id, idleSince]),
    );
    if (!waiting) continue;
    const messages = ctx.store.write((sql) => {
      const pending = sql.all<{ id: number; sender_thread_id: number; message: string }>(
        "SELECT id, sender_thread_id, message FROM inbox_messages WHERE receiver_thread_id = ? AND status = 'pending' AND created_at <= ? ORDER BY id",
        [row.id, idleSince],
      );
      for (const message of pending)
        sql.run("UPDATE inbox_messages SET status = 'delivered', delivered_at = ? WHERE id = ?", [ctx.now(), message.id]);
      sql.run(
        "UPDATE directives SET status = 'delivered', delivered_at = ? WHERE thread_id = ? AND status = 'pending' AND mode = 'queue'",
        [ctx.now(), row.id],
      );
      return pending;
    });
    const tmux = tmuxOf(ctx, row);
    for (const message of messages) {
      await tmux
        .typeText(pane.paneId, `[codestrator] message from thread ${message.sender_thread_id}: ${message.message.replace(/\s+/g, ' ')}`)
        .catch(() => {
          // The pane went away between the check and the typing: put the message back for the next read.
          ctx.store.write((sql) => sql.run("UPDATE inbox_messages SET status = 'pending', delivered_at = NULL WHERE id = ?", [message.id]));
        });
    }
  }
}

export interface ListChildrenInput extends PageRequest {
  parent_thread_id?: number;
  status?: string;
  role?: string;
}

/** thread.child.list: the caller session's children, reconciled with tmux first. */
export async function listChildren(ctx: CoreContext, input: ListChildrenInput & { session_id?: number }) {
  const sessionId = input.session_id ?? ctx.actor.sessionId;
  if (sessionId === undefined) throw invalid('thread.child.list needs session_id.', 'session_id');
  const query = (where: string[], params: (string | number)[]) =>
    ctx.store.read((sql) => sql.all<ChildThreadRow>(`SELECT * FROM threads WHERE ${where.join(' AND ')} ORDER BY id`, params));
  await reconcileThreads(ctx, query(['session_id = ?', 'parent_thread_id IS NOT NULL'], [sessionId]));
  const where = ['session_id = ?', 'parent_thread_id IS NOT NULL', 'id > ?'];
  const params: (string | number)[] = [sessionId, cursorId(input)];
  for (const [field, column] of [
    ['parent_thread_id', 'parent_thread_id'],
    ['status', 'status'],
    ['role', 'role'],
  ] as const) {
    if (input[field] === undefined) continue;
    where.push(`${column} = ?`);
    params.push(input[field]!);
  }
  const limit = pageLimit(input);
  return toPage(query(where, params).slice(0, limit + 1), limit, threadWire);
}

/** thread.child.status: one child, reconciled, with its attach info and the last lines of its pane. */
export async function childStatus(ctx: CoreContext, input: { thread_id: number; output_lines?: number }) {
  const seen = await reconcileThreads(ctx, [ctx.store.read((sql) => getThread(sql, input.thread_id))]);
  const row = ctx.store.read((sql) => getThread(sql, input.thread_id));
  let output: string | null = null;
  // A running thread's pane was just looked up; an ended one's is looked up once here.
  const pane = seen.has(row.id) ? seen.get(row.id) : (input.output_lines ?? 20) > 0 ? await paneOf(ctx, row) : undefined;
  if (pane && (input.output_lines ?? 20) > 0) {
    output = await tmuxOf(ctx, row)
      .capture(pane.paneId, input.output_lines ?? 20)
      .then((text) =>
        text
          .trimEnd()
          .split('\n')
          .slice(-(input.output_lines ?? 20))
          .join('\n'),
      )
      .catch(() => null);
  }
  return { thread: threadWire(row), attach_info: attachInfo(ctx, row), last_output: output };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * thread.child.wait_status: waits (asynchronously, so other calls of the same server go on) until
 * every given thread reaches one of the statuses, or the bounded timeout passes.
 */
export async function waitStatus(ctx: CoreContext, input: { thread_ids: number[]; statuses?: string[]; timeout_seconds?: number }) {
  const wanted = new Set(input.statuses ?? TERMINAL_THREAD_STATUSES);
  const deadline = ctx.now() + (input.timeout_seconds ?? 30) * 1000;
  for (;;) {
    const rows = ctx.store.read((sql) => input.thread_ids.map((id, index) => getThread(sql, id, `thread_ids.${index}`)));
    await reconcileThreads(ctx, rows);
    const fresh = ctx.store.read((sql) => input.thread_ids.map((id) => getThread(sql, id)));
    const done = fresh.every((row) => wanted.has(row.status));
    if (done || ctx.now() >= deadline) return { reached: done, timed_out: !done, threads: fresh.map(threadWire) };
    await sleep(250);
  }
}

/** thread.report: a child tells its root how it is doing; done and failed end the thread's work. */
export function reportThread(ctx: CoreContext, input: { state: 'progress' | 'blocked' | 'done' | 'failed'; text: string }) {
  const threadId = ctx.actor.threadId;
  if (threadId === undefined) throw invalid('thread.report is made by a child thread (thread_id, or CODESTRATOR_THREAD_ID).', 'thread_id');
  return ctx.store.write((sql) => {
    const row = getThread(sql, threadId);
    if (TERMINAL_THREAD_STATUSES.has(row.status)) {
      throw new CodestratorError('PRECONDITION_FAILED', `Thread ${row.id} is already ${row.status}.`, { field: 'thread_id' });
    }
    const status = { progress: 'running', blocked: 'blocked', done: 'completed', failed: 'failed' }[input.state];
    const now = ctx.now();
    const final = status === 'completed' || status === 'failed';
    sql.run(
      `UPDATE threads SET status = ?, status_reason = ?, last_report = ?, last_report_at = ?, completed_at = CASE WHEN ? THEN ? ELSE completed_at END, updated_at = ? WHERE id = ?`,
      [status, `reported ${input.state}`, input.text, now, final ? 1 : 0, now, now, row.id],
    );
    return { thread: threadWire(getThread(sql, row.id)) };
  });
}
