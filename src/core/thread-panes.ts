import type { CoreContext } from './context.js';
import { parseJson } from './json.js';
import type { PaneState, TmuxPort } from './ports.js';
import type { ChildThreadRow } from './thread-rows.js';

/** What a thread row says about where its pane lives. */
export type PaneRow = Pick<ChildThreadRow, 'id' | 'runner_options' | 'tmux_session' | 'tmux_window_id' | 'pane_id' | 'pane_pid'>;

/**
 * The tmux server a thread runs on: the socket recorded when it was launched (null: the default
 * server). Pane ids overlap across servers, so a reader with another CODESTRATOR_TMUX_SOCKET must
 * still look there. A thread launched before sockets were recorded uses this process's server.
 */
export function threadSocket(ctx: CoreContext, row: Pick<ChildThreadRow, 'runner_options'>): string | null {
  const options = parseJson<{ tmux_socket?: string | null }>(row.runner_options, {});
  return options.tmux_socket === undefined ? ctx.tmux.socket : options.tmux_socket;
}

/** The tmux port for the server a thread runs on. */
export function tmuxOf(ctx: CoreContext, row: Pick<ChildThreadRow, 'runner_options'>): TmuxPort {
  return ctx.tmux.on(threadSocket(ctx, row));
}

/**
 * The thread's own pane among a server's panes: its id, in the thread's tmux session, running the
 * process the thread was launched with. A pane id reused after a tmux server restart (or another
 * server's pane, for a thread with no recorded socket) never matches, so it is never typed into.
 */
export function ownPane(row: PaneRow, panes: readonly PaneState[]): PaneState | undefined {
  if (!row.pane_id) return undefined;
  return panes.find(
    (pane) => pane.paneId === row.pane_id && pane.sessionName === row.tmux_session && (row.pane_pid === null || pane.pid === row.pane_pid),
  );
}

/** Each thread's own pane (undefined when it is gone), with one list-panes call per tmux server. */
export async function ownPanes(ctx: CoreContext, rows: readonly PaneRow[]): Promise<Map<number, PaneState | undefined>> {
  const bySocket = new Map<string | null, PaneRow[]>();
  for (const row of rows) {
    const socket = threadSocket(ctx, row);
    bySocket.set(socket, [...(bySocket.get(socket) ?? []), row]);
  }
  const found = new Map<number, PaneState | undefined>();
  for (const [socket, group] of bySocket) {
    const panes = await ctx.tmux.on(socket).listPanes();
    for (const row of group) found.set(row.id, ownPane(row, panes));
  }
  return found;
}

/** One thread's own pane, if it still exists. */
export async function paneOf(ctx: CoreContext, row: PaneRow): Promise<PaneState | undefined> {
  if (!row.pane_id) return undefined;
  return ownPane(row, await tmuxOf(ctx, row).listPanes());
}

/**
 * Closes the thread's pane, only while it is still in the thread's tmux session and window (pane
 * ids are reused too), and lays its window out again for the children left in it.
 */
export async function closePane(ctx: CoreContext, row: PaneRow): Promise<void> {
  if (!row.pane_id) return;
  const tmux = tmuxOf(ctx, row);
  const panes = await tmux.listPanes();
  const own = panes.find(
    (pane) => pane.paneId === row.pane_id && pane.sessionName === row.tmux_session && pane.windowId === row.tmux_window_id,
  );
  if (!own) return;
  await tmux.killPane(own.paneId);
  const layout = parseJson<{ layout?: string }>(row.runner_options, {}).layout ?? 'tiled';
  await tmux.selectLayout(own.windowId, layout);
}
