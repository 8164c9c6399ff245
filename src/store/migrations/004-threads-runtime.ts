import type { Migration } from './index.js';

/** Child agents: how each thread runs (runner, worktree, tmux pane, exit status) and directives to it. */
export const migration004: Migration = {
  version: 4,
  name: 'threads-runtime',
  sql: `
ALTER TABLE threads ADD COLUMN runner TEXT;
ALTER TABLE threads ADD COLUMN worktree_id INTEGER REFERENCES worktrees(id);
ALTER TABLE threads ADD COLUMN objective TEXT;
ALTER TABLE threads ADD COLUMN task_spec TEXT;
ALTER TABLE threads ADD COLUMN scope_task_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE threads ADD COLUMN scope_case_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE threads ADD COLUMN runner_options TEXT;
ALTER TABLE threads ADD COLUMN prompt TEXT;
ALTER TABLE threads ADD COLUMN thread_dir TEXT;
ALTER TABLE threads ADD COLUMN tmux_session TEXT;
ALTER TABLE threads ADD COLUMN tmux_window_id TEXT;
ALTER TABLE threads ADD COLUMN pane_id TEXT;
ALTER TABLE threads ADD COLUMN pane_pid INTEGER;
ALTER TABLE threads ADD COLUMN exit_status INTEGER;
ALTER TABLE threads ADD COLUMN exit_signal TEXT;
ALTER TABLE threads ADD COLUMN last_report TEXT;
ALTER TABLE threads ADD COLUMN last_report_at INTEGER;
ALTER TABLE threads ADD COLUMN started_at INTEGER;
ALTER TABLE threads ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
CREATE INDEX threads_status ON threads(status);

CREATE TABLE directives (
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL REFERENCES threads(id),
  mode TEXT NOT NULL CHECK (mode IN ('interrupt_patch', 'queue', 'restart')),
  text TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  created_by TEXT,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,
  detail TEXT
);
CREATE INDEX directives_thread ON directives(thread_id, status, id);
`,
};
