import type { Migration } from './index.js';

/**
 * Worktrees may be `planned` (worktree.create / worktree.spawn with create_on_disk: false): a row
 * that reserves a name, branch and path with nothing on disk yet. SQLite cannot change a CHECK in
 * place, so the table is rebuilt (the store runs migrations with foreign keys off and checks them
 * before committing); columns, rows, ids and the index stay as they were.
 */
export const migration010: Migration = {
  version: 10,
  name: 'planned-worktrees',
  sql: `
CREATE TABLE worktrees_next (
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
  status TEXT NOT NULL CHECK (status IN ('planned', 'creating', 'active', 'merged', 'removed')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  owner_thread_id INTEGER REFERENCES threads(id),
  removed_at INTEGER
);
INSERT INTO worktrees_next (id, kind, slug, path, branch, base_branch, base_sha, parent_worktree_id, owner_session_id, task_id,
  status, created_at, updated_at, owner_thread_id, removed_at)
SELECT id, kind, slug, path, branch, base_branch, base_sha, parent_worktree_id, owner_session_id, task_id,
  status, created_at, updated_at, owner_thread_id, removed_at FROM worktrees;
DROP TABLE worktrees;
ALTER TABLE worktrees_next RENAME TO worktrees;
CREATE INDEX worktrees_owner ON worktrees(owner_session_id, status);
`,
};
