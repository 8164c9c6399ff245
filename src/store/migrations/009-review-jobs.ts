import type { Migration } from './index.js';

/**
 * Review jobs (merge.review.request_auto's record of one reviewer dispatch, followed by
 * merge.review.thread_status) and a merge request's raw JSON notes (the contract's notes_json).
 */
export const migration009: Migration = {
  version: 9,
  name: 'review-jobs',
  sql: `
ALTER TABLE merge_requests ADD COLUMN notes_json TEXT;

CREATE TABLE review_jobs (
  id INTEGER PRIMARY KEY,
  merge_request_id INTEGER NOT NULL REFERENCES merge_requests(id),
  session_id INTEGER REFERENCES sessions(id),
  reviewer_thread_id INTEGER REFERENCES threads(id),
  state TEXT NOT NULL CHECK (state IN ('requested', 'running', 'completed', 'failed')),
  reason TEXT,
  reviewer_role TEXT NOT NULL,
  agent TEXT,
  agent_guide_path TEXT,
  agent_override TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX review_jobs_request ON review_jobs(merge_request_id, id);
`,
};
