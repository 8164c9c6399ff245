import type { Migration } from './index.js';

/** Token usage and the last message of headless runners, parsed from their event streams. */
export const migration005: Migration = {
  version: 5,
  name: 'thread-usage',
  sql: `
ALTER TABLE threads ADD COLUMN usage TEXT;
ALTER TABLE threads ADD COLUMN last_output TEXT;
`,
};
