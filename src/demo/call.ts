import type { Dispatcher } from '../registry/dispatch.js';

/** A demo step that failed: the step's name and why, printed as one line before cleanup. */
export class DemoError extends Error {
  override readonly name = 'DemoError';
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

/** The demo was interrupted (Ctrl-C, SIGTERM); cleanup still runs. */
export class DemoAborted extends Error {
  override readonly name = 'DemoAborted';
}

/** Results are JSON objects; the demo reads the few fields it narrates (views.ts). */
export type Result = Record<string, unknown>;

/** Calls a method as the demo's root; a failure throws DemoError naming the current step. */
export type Caller = (method: string, params?: Record<string, unknown>) => Promise<Result>;

/** A Caller over the root's dispatcher; `step()` names what the demo is doing right now. */
export function methodCaller(dispatcher: Dispatcher, step: () => string): Caller {
  return async (method, params = {}) => {
    const outcome = await dispatcher.call(method, params);
    if (outcome.ok) return outcome.result;
    const { code, message, hint } = outcome.error.error;
    throw new DemoError(step(), `${method}: ${code}: ${message}${hint ? ` (${hint})` : ''}`);
  };
}

/** Owner keys (`thread:3`, `session:1`) as the demo names them: worker-1… and root. */
export function ownerName(names: ReadonlyMap<number, string>, key: string): string {
  const [kind, id] = key.split(':');
  if (kind === 'session') return 'root';
  return names.get(Number(id)) ?? `thread ${id}`;
}

/** Replaces every `thread:N` in a text by the agent's name. */
export const withNames = (names: ReadonlyMap<number, string>, text: string): string =>
  text.replace(/\b(thread|session):([0-9]+)\b/g, (key) => ownerName(names, key));

/** The fields of a child thread the demo reads (thread.child.wait_status, thread.child.list). */
export interface ThreadView {
  id: number;
  status: string;
  status_reason: string | null;
  last_report: string | null;
  last_report_at: number | null;
  exit_status: number | null;
  worktree_id: number;
  tmux_session: string | null;
}

/** The fields of a lock (lock.list with include_inactive). */
export interface LockView {
  id: number;
  scope_type: string;
  scope_path: string;
  owner_key: string;
  state: string;
  acquired_at: number;
  released_at: number | null;
}

/** The fields of a case (task.list level=case). */
export interface CaseView {
  id: number;
  title: string;
  status: string;
  owner_key: string | null;
  started_at: number | null;
  completed_at: number | null;
}

/** One step attempt of a case (task.get). */
export interface StepView {
  id: number;
  title: string;
  result: string;
  notes: string | null;
  created_at: number;
}

/** A main-merge queue item (merge.main.list, merge.main.process). */
export interface QueueView {
  id: number;
  source_worktree_id: number;
  source_branch: string;
  state: string;
  reason: string | null;
  conflict_files: string[];
  gate_log_tail: string | null;
  merge_commit: string | null;
}

/** The `items` of a list result. */
export const itemsOf = <T>(result: Result): T[] => (Array.isArray(result.items) ? (result.items as T[]) : []);
