import type { Migration } from './index.js';

/**
 * Leases know their holder process (`<machine>/<pid>/<start time>`), so a dead holder's work is
 * recovered at once instead of after its lease: named locks, worktrees being created (and whether
 * the row was planned before, to roll back to), queue items being checked and their gate runs.
 */
export const migration011: Migration = {
  version: 11,
  name: 'lease-holders',
  sql: `
ALTER TABLE named_locks ADD COLUMN holder_process TEXT;
ALTER TABLE worktrees ADD COLUMN creator_process TEXT;
ALTER TABLE worktrees ADD COLUMN creating_from TEXT;
ALTER TABLE merge_queue ADD COLUMN processor TEXT;
ALTER TABLE merge_queue ADD COLUMN gate_process TEXT;
ALTER TABLE merge_queue ADD COLUMN gate_dir TEXT;
`,
};
