import type { Migration } from './index.js';

/**
 * Where a session's agent ran, as its MCP server saw it: the client's terminal and the server
 * process. A restarted agent is matched to its session by these (and by its worktree), and a
 * session whose server still runs is never handed to another one.
 */
export const migration008: Migration = {
  version: 8,
  name: 'session-origin',
  sql: `
ALTER TABLE sessions ADD COLUMN terminal TEXT;
ALTER TABLE sessions ADD COLUMN server_process TEXT;
`,
};
