import type { Dispatcher } from '../registry/dispatch.js';

type Item = Record<string, unknown>;

/** A child thread as the page shows it. */
export interface ThreadView {
  id: number;
  session_id: number;
  runner: string | null;
  role: string | null;
  title: string | null;
  status: string;
  status_reason: string | null;
  last_report: string | null;
  active: boolean;
  worktree_id: number | null;
  /** Its worktree's branch (filled in by the snapshot, which knows the worktrees). */
  branch?: string | null;
  started_at: number | null;
  completed_at: number | null;
  /** The last lines of its pane (or, once the pane is gone, the last lines seen, else its last message). */
  output: string | null;
  /** The read-only tmux attach command, quoted for a shell. */
  attach_command: string | null;
}

const ACTIVE = new Set(['starting', 'running', 'blocked']);
/** Lines of pane output per thread: enough to see what it is doing, small enough for a phone. */
const OUTPUT_LINES = 12;

interface Seen {
  key: string;
  output: string | null;
  attach: string | null;
}

const strOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/**
 * Per-thread details (pane output, attach command) from thread.child.status. Active threads are
 * read every tick; an ended thread is read once per generation and status, then served from memory,
 * so a dashboard over many finished children costs no tmux calls.
 */
export class ThreadDetails {
  private readonly seen = new Map<number, Seen>();

  constructor(private readonly dispatcher: Dispatcher) {}

  /** Turns thread.child.list rows into views, reading what is not known yet. */
  async views(rows: readonly Item[]): Promise<ThreadView[]> {
    const views = await Promise.all(rows.map((row) => this.view(row)));
    const ids = new Set(rows.map((row) => Number(row.id)));
    for (const id of this.seen.keys()) if (!ids.has(id)) this.seen.delete(id);
    return views;
  }

  private async view(row: Item): Promise<ThreadView> {
    const id = Number(row.id);
    const status = String(row.status);
    const active = ACTIVE.has(status);
    const key = `${String(row.generation)}:${status}`;
    let seen = this.seen.get(id);
    if (active || seen?.key !== key) {
      const outcome = await this.dispatcher.call('thread.child.status', { thread_id: id, output_lines: OUTPUT_LINES });
      const result = outcome.ok ? outcome.result : {};
      const output = strOrNull(result.last_output);
      const attach = strOrNull((result.attach_info as Item | null | undefined)?.command);
      // A closed pane reads as null: keep the lines seen while it ran.
      seen = {
        key,
        output: output !== null && output.trim() !== '' ? output : (seen?.output ?? null),
        attach: attach ?? seen?.attach ?? null,
      };
      this.seen.set(id, seen);
    }
    return {
      id,
      session_id: Number(row.session_id),
      runner: strOrNull(row.runner),
      role: strOrNull(row.role),
      title: strOrNull(row.title),
      status,
      status_reason: strOrNull(row.status_reason),
      last_report: strOrNull(row.last_report),
      active,
      worktree_id: typeof row.worktree_id === 'number' ? row.worktree_id : null,
      started_at: typeof row.started_at === 'number' ? row.started_at : null,
      completed_at: typeof row.completed_at === 'number' ? row.completed_at : null,
      output: seen.output ?? strOrNull(row.last_output),
      attach_command: seen.attach,
    };
  }
}
