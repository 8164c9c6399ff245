import type { Migration } from './index.js';

/** When a thread last called codestrator: a child silent for a while is idle and gets its messages typed in. */
export const migration006: Migration = {
  version: 6,
  name: 'thread-activity',
  sql: `ALTER TABLE threads ADD COLUMN last_call_at INTEGER;`,
};
