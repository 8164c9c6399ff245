import type { Sql } from './ports.js';

/** A feature's merge request as task.get and task.list show it (the merge plane sets the status). */
export interface FeatureMergeRequest {
  id: number;
  status: string;
  target_branch: string;
  created_at: number;
  updated_at: number;
}

const COLUMNS = 'id, status, target_branch, created_at, updated_at';

/** The feature's merge requests, newest first (at most `limit`). */
export const mergeRequestsOf = (sql: Sql, featureId: number, limit = 20): FeatureMergeRequest[] =>
  sql.all<FeatureMergeRequest>(`SELECT ${COLUMNS} FROM merge_requests WHERE feature_task_id = ? ORDER BY id DESC LIMIT ?`, [
    featureId,
    limit,
  ]);

/** The newest merge request of each of these features, in one query; features without one are absent. */
export function latestMergeRequests(sql: Sql, featureIds: readonly number[]): Map<number, FeatureMergeRequest> {
  if (featureIds.length === 0) return new Map();
  const rows = sql.all<FeatureMergeRequest & { feature_task_id: number }>(
    `SELECT ${COLUMNS}, feature_task_id FROM merge_requests
     WHERE id IN (SELECT max(id) FROM merge_requests WHERE feature_task_id IN (${featureIds.map(() => '?').join(', ')}) GROUP BY feature_task_id)`,
    featureIds,
  );
  return new Map(rows.map(({ feature_task_id, ...request }) => [feature_task_id, request]));
}
