import { parseJson } from './json.js';
import { isSessionLive } from './identity.js';

/** Database rows and their wire shapes (snake_case, epoch-ms `*_at`, JSON columns parsed). */

export interface SessionRow {
  id: number;
  repo_path: string;
  agent_role: string;
  owner: string | null;
  terminal_fingerprint: string | null;
  intent: string;
  status: string;
  heartbeat_timeout_seconds: number;
  user_request: string | null;
  worktree_id: number | null;
  root_thread_id: number | null;
  viewer_tmux_session: string | null;
  taken_over_by: number | null;
  resumed_from: number | null;
  started_at: number;
  last_seen_at: number;
  closed_at: number | null;
  close_reason: string | null;
}

export const sessionWire = (row: SessionRow, now: number) => ({ ...row, live: isSessionLive(row, now) });

export interface WorktreeRow {
  id: number;
  kind: 'session_root' | 'task';
  slug: string;
  path: string;
  branch: string;
  base_branch: string;
  base_sha: string;
  parent_worktree_id: number | null;
  owner_session_id: number | null;
  task_id: number | null;
  owner_thread_id: number | null;
  status: string;
  created_at: number;
  updated_at: number;
  removed_at: number | null;
}

export interface TaskRow {
  id: number;
  level: 'epic' | 'feature' | 'test_group' | 'case';
  parent_id: number | null;
  title: string;
  description: string | null;
  status: string;
  priority: number;
  assignee_session_id: number | null;
  assignee_thread_id: number | null;
  steps_planned: string | null;
  input_contract: string | null;
  fixtures: string | null;
  required_files: string | null;
  owner_key: string | null;
  owner_session_id: number | null;
  owner_thread_id: number | null;
  summary: string | null;
  next_action: string | null;
  started_at: number | null;
  completed_at: number | null;
  created_at: number;
  updated_at: number;
}

export function taskWire(row: TaskRow, dependsOn?: number[]) {
  const { steps_planned, input_contract, fixtures, required_files, ...rest } = row;
  const wire: Record<string, unknown> = { ...rest };
  if (row.level === 'case') {
    wire.steps = parseJson<string[]>(steps_planned, []);
    wire.input_contract = parseJson<unknown>(input_contract, null);
    wire.fixtures = parseJson<unknown[]>(fixtures, []);
    wire.required_files = parseJson<string[]>(required_files, []);
    if (dependsOn) wire.depends_on = dependsOn;
  }
  return wire;
}

export interface StepRow {
  id: number;
  case_id: number;
  order_no: number;
  title: string;
  result: 'pass' | 'fail' | 'skip';
  notes: string | null;
  artifacts: string;
  owner_key: string;
  created_at: number;
}

export const stepWire = (row: StepRow) => ({ ...row, artifacts: parseJson<string[]>(row.artifacts, []) });

export interface CheckpointRow {
  id: number;
  case_id: number;
  event: string;
  step_id: number | null;
  owner_key: string | null;
  summary: string | null;
  next_action: string | null;
  snapshot: string;
  created_at: number;
}

export const checkpointWire = (row: CheckpointRow) => ({ ...row, snapshot: parseJson<unknown>(row.snapshot, null) });

export interface LockRow {
  id: number;
  scope_type: 'file' | 'prefix';
  scope_path: string;
  owner_key: string;
  owner_session_id: number | null;
  owner_thread_id: number | null;
  fence: number;
  state: 'active' | 'released';
  lease_until: number;
  acquired_at: number;
  heartbeat_at: number;
  released_at: number | null;
  release_reason: string | null;
}

/** A lock's state as of `now`: an active row whose lease has passed reads as expired. */
export const lockWire = (row: LockRow, now: number) => ({
  ...row,
  state: row.state === 'active' && row.lease_until <= now ? 'expired' : row.state,
});
