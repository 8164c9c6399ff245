import { parseJson } from './json.js';
import type { Sql } from './ports.js';
import { notFound } from './errors.js';

export const ACTIVE_THREAD_STATUSES = ['starting', 'running', 'blocked'] as const;

export interface ChildThreadRow {
  id: number;
  session_id: number;
  parent_thread_id: number | null;
  role: string;
  title: string | null;
  status: string;
  status_reason: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  runner: string | null;
  worktree_id: number | null;
  objective: string | null;
  task_spec: string | null;
  scope_task_ids: string;
  scope_case_ids: string;
  runner_options: string | null;
  prompt: string | null;
  thread_dir: string | null;
  tmux_session: string | null;
  tmux_window_id: string | null;
  pane_id: string | null;
  pane_pid: number | null;
  exit_status: number | null;
  exit_signal: string | null;
  last_report: string | null;
  last_report_at: number | null;
  started_at: number | null;
  generation: number;
  usage: string | null;
  last_output: string | null;
  last_call_at: number | null;
}

export function getThread(sql: Sql, id: number, field = 'thread_id'): ChildThreadRow {
  const row = sql.get<ChildThreadRow>('SELECT * FROM threads WHERE id = ?', [id]);
  if (!row) throw notFound('Thread', id, field);
  return row;
}

/** The wire shape: JSON columns parsed, the (long) prompt left out. */
export function threadWire(row: ChildThreadRow) {
  const { prompt: _prompt, runner_options: _options, task_spec, scope_task_ids, scope_case_ids, usage, ...rest } = row;
  return {
    ...rest,
    usage: parseJson<unknown>(usage, null),
    task_spec: parseJson<unknown>(task_spec, null),
    scope_task_ids: parseJson<number[]>(scope_task_ids, []),
    scope_case_ids: parseJson<number[]>(scope_case_ids, []),
  };
}
