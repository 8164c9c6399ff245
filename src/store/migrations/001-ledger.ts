import type { Migration } from './index.js';

/** Sessions, threads, worktrees, the task ledger, checkpoints, current refs, locks, inbox, audit. */
export const migration001: Migration = {
  version: 1,
  name: 'ledger',
  sql: `
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  ledger_version INTEGER NOT NULL DEFAULT 0,
  mirror_version INTEGER NOT NULL DEFAULT 0,
  mirror_path TEXT,
  lock_fence INTEGER NOT NULL DEFAULT 0
);
INSERT INTO meta (id) VALUES (1);

CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  repo_path TEXT NOT NULL,
  agent_role TEXT NOT NULL,
  owner TEXT,
  terminal_fingerprint TEXT,
  intent TEXT NOT NULL CHECK (intent IN ('new_work', 'resume_work')),
  status TEXT NOT NULL CHECK (status IN ('awaiting_resume', 'active', 'handoff_attached', 'closed')),
  heartbeat_timeout_seconds INTEGER NOT NULL,
  user_request TEXT,
  worktree_id INTEGER REFERENCES worktrees(id),
  root_thread_id INTEGER REFERENCES threads(id),
  viewer_tmux_session TEXT,
  taken_over_by INTEGER REFERENCES sessions(id),
  resumed_from INTEGER REFERENCES sessions(id),
  started_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  closed_at INTEGER,
  close_reason TEXT
);
CREATE INDEX sessions_status ON sessions(status, last_seen_at);

CREATE TABLE threads (
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id),
  parent_thread_id INTEGER REFERENCES threads(id),
  role TEXT NOT NULL,
  title TEXT,
  status TEXT NOT NULL,
  status_reason TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX threads_session ON threads(session_id, parent_thread_id);

CREATE TABLE worktrees (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('session_root', 'task')),
  slug TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL UNIQUE,
  branch TEXT NOT NULL UNIQUE,
  base_branch TEXT NOT NULL,
  base_sha TEXT NOT NULL,
  parent_worktree_id INTEGER REFERENCES worktrees(id),
  owner_session_id INTEGER REFERENCES sessions(id),
  task_id INTEGER REFERENCES tasks(id),
  status TEXT NOT NULL CHECK (status IN ('creating', 'active', 'merged', 'removed')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX worktrees_owner ON worktrees(owner_session_id, status);

CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  level TEXT NOT NULL CHECK (level IN ('epic', 'feature', 'test_group', 'case')),
  parent_id INTEGER REFERENCES tasks(id),
  title TEXT NOT NULL,
  description TEXT,
  status TEXT NOT NULL CHECK (status IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
  priority INTEGER NOT NULL DEFAULT 0,
  assignee_session_id INTEGER REFERENCES sessions(id),
  assignee_thread_id INTEGER REFERENCES threads(id),
  steps_planned TEXT,
  input_contract TEXT,
  fixtures TEXT,
  required_files TEXT,
  owner_key TEXT,
  owner_session_id INTEGER REFERENCES sessions(id),
  owner_thread_id INTEGER REFERENCES threads(id),
  summary TEXT,
  next_action TEXT,
  started_at INTEGER,
  completed_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX tasks_parent ON tasks(parent_id);
CREATE INDEX tasks_level_status ON tasks(level, status, priority);
CREATE INDEX tasks_assignee ON tasks(assignee_session_id);
-- One owner holds at most one active case: enforced by the database, not only by the code.
CREATE UNIQUE INDEX tasks_one_active_case ON tasks(owner_key) WHERE level = 'case' AND status = 'in_progress';

CREATE TABLE case_dependencies (
  case_id INTEGER NOT NULL REFERENCES tasks(id),
  depends_on_id INTEGER NOT NULL REFERENCES tasks(id),
  PRIMARY KEY (case_id, depends_on_id)
);
CREATE INDEX case_dependencies_target ON case_dependencies(depends_on_id);

CREATE TABLE steps (
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES tasks(id),
  order_no INTEGER NOT NULL,
  title TEXT NOT NULL,
  result TEXT NOT NULL CHECK (result IN ('pass', 'fail', 'skip')),
  notes TEXT,
  artifacts TEXT NOT NULL,
  owner_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (case_id, order_no)
);

CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES tasks(id),
  event TEXT NOT NULL,
  step_id INTEGER REFERENCES steps(id),
  owner_key TEXT,
  summary TEXT,
  next_action TEXT,
  snapshot TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX checkpoints_case ON checkpoints(case_id, id);

CREATE TABLE current_refs (
  id INTEGER PRIMARY KEY,
  owner_key TEXT NOT NULL UNIQUE,
  session_id INTEGER REFERENCES sessions(id),
  thread_id INTEGER REFERENCES threads(id),
  case_id INTEGER REFERENCES tasks(id),
  status TEXT NOT NULL CHECK (status IN ('active', 'completed')),
  next_action TEXT,
  summary TEXT,
  required_files TEXT NOT NULL DEFAULT '[]',
  checkpoint_id INTEGER REFERENCES checkpoints(id),
  version INTEGER NOT NULL DEFAULT 1,
  acked_version INTEGER,
  acked_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE locks (
  id INTEGER PRIMARY KEY,
  scope_type TEXT NOT NULL CHECK (scope_type IN ('file', 'prefix')),
  scope_path TEXT NOT NULL,
  owner_key TEXT NOT NULL,
  owner_session_id INTEGER REFERENCES sessions(id),
  owner_thread_id INTEGER REFERENCES threads(id),
  fence INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'released')),
  lease_until INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  released_at INTEGER,
  release_reason TEXT
);
CREATE INDEX locks_active ON locks(state, lease_until);
CREATE INDEX locks_owner ON locks(owner_key, state);

CREATE TABLE inbox_messages (
  id INTEGER PRIMARY KEY,
  sender_thread_id INTEGER NOT NULL REFERENCES threads(id),
  receiver_thread_id INTEGER NOT NULL REFERENCES threads(id),
  message TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
  created_at INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE INDEX inbox_receiver ON inbox_messages(receiver_thread_id, status, id);
CREATE INDEX inbox_sender ON inbox_messages(sender_thread_id, id);

CREATE TABLE session_handoffs (
  id INTEGER PRIMARY KEY,
  from_session_id INTEGER NOT NULL REFERENCES sessions(id),
  to_session_id INTEGER NOT NULL REFERENCES sessions(id),
  created_at INTEGER NOT NULL
);

-- Every call that overrode ownership with force, and why.
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY,
  method TEXT NOT NULL,
  actor_key TEXT,
  target TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`,
};
