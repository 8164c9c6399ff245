import type { Migration } from './index.js';

/** Merge requests and reviews, the main-merge queue, named locks, and worktree ownership by threads. */
export const migration003: Migration = {
  version: 3,
  name: 'git-plane',
  sql: `
ALTER TABLE worktrees ADD COLUMN owner_thread_id INTEGER REFERENCES threads(id);
ALTER TABLE worktrees ADD COLUMN removed_at INTEGER;

CREATE TABLE merge_requests (
  id INTEGER PRIMARY KEY,
  feature_task_id INTEGER NOT NULL REFERENCES tasks(id),
  target_branch TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'blocked', 'merged', 'cancelled')),
  reviewer_session_id INTEGER REFERENCES sessions(id),
  requested_by TEXT,
  notes TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE merge_request_sources (
  merge_request_id INTEGER NOT NULL REFERENCES merge_requests(id),
  worktree_id INTEGER NOT NULL REFERENCES worktrees(id),
  PRIMARY KEY (merge_request_id, worktree_id)
);

CREATE TABLE reviews (
  id INTEGER PRIMARY KEY,
  merge_request_id INTEGER NOT NULL REFERENCES merge_requests(id),
  verdict TEXT NOT NULL CHECK (verdict IN ('APPROVE', 'BLOCK')),
  summary TEXT,
  findings TEXT NOT NULL DEFAULT '[]',
  reviewer_key TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX reviews_request ON reviews(merge_request_id, id);

CREATE TABLE merge_queue (
  id INTEGER PRIMARY KEY,
  session_id INTEGER REFERENCES sessions(id),
  source_worktree_id INTEGER NOT NULL REFERENCES worktrees(id),
  source_branch TEXT NOT NULL,
  target_branch TEXT NOT NULL,
  merge_request_id INTEGER REFERENCES merge_requests(id),
  state TEXT NOT NULL CHECK (state IN ('queued', 'checking', 'waiting', 'merged', 'conflict', 'gate_failed', 'blocked_by_review', 'cancelled')),
  reason TEXT,
  conflict_files TEXT NOT NULL DEFAULT '[]',
  merge_commit TEXT,
  target_before TEXT,
  gate_log_path TEXT,
  gate_log_tail TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX merge_queue_state ON merge_queue(state, id);
-- One open item per source branch: re-requesting returns the open one.
CREATE UNIQUE INDEX merge_queue_one_open ON merge_queue(source_worktree_id) WHERE state IN ('queued', 'checking', 'waiting', 'blocked_by_review');

-- Leased mutexes around shared git state (the main-merge lock, merges into one parent worktree).
CREATE TABLE named_locks (
  name TEXT PRIMARY KEY,
  holder_key TEXT NOT NULL,
  lease_until INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL
);
`,
};
