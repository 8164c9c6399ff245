import type { Sql } from './ports.js';

/**
 * Roll-up of the ledger: a test group, feature or epic takes its status from its children, so
 * the tree reads done when every case under it is done, and reopens when one case does.
 *
 * Only the derived statuses move (todo, in_progress, done); blocked and cancelled are a person's
 * decision and stay, and a task with no children keeps whatever status it was given. It runs
 * inside the caller's write transaction and walks the parent chain only, one level per query.
 */

/** One ancestor whose status the roll-up changed, reported in the result of the call that caused it. */
export interface RolledUp {
  task_id: number;
  level: string;
  from: string;
  to: string;
}

const DERIVED = new Set(['todo', 'in_progress', 'done']);

/** The status children imply: done when all are done (cancelled ones aside), in progress once any has started. */
function derive(children: ReadonlyMap<string, number>): string | null {
  const total = [...children.values()].reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const done = children.get('done') ?? 0;
  const cancelled = children.get('cancelled') ?? 0;
  if (done > 0 && done + cancelled === total) return 'done';
  if (done > 0 || (children.get('in_progress') ?? 0) > 0) return 'in_progress';
  return cancelled === total ? null : 'todo';
}

/**
 * Recomputes the ancestors of `taskId` (not the task itself), from its parent up, and stops at
 * the first ancestor that does not change: those above it cannot change either.
 */
export function rollUp(sql: Sql, taskId: number, now: number): RolledUp[] {
  const changes: RolledUp[] = [];
  let parentId = sql.get<{ parent_id: number | null }>('SELECT parent_id FROM tasks WHERE id = ?', [taskId])?.parent_id ?? null;
  while (parentId !== null) {
    const parent = sql.get<{ id: number; level: string; status: string; parent_id: number | null }>(
      'SELECT id, level, status, parent_id FROM tasks WHERE id = ?',
      [parentId],
    );
    if (!parent || !DERIVED.has(parent.status)) break;
    const counts = new Map(
      sql
        .all<{ status: string; n: number }>('SELECT status, count(*) AS n FROM tasks WHERE parent_id = ? GROUP BY status', [parent.id])
        .map((row) => [row.status, row.n]),
    );
    const next = derive(counts);
    if (next === null || next === parent.status) break;
    sql.run(
      `UPDATE tasks SET status = ?, updated_at = ?,
         started_at = CASE WHEN ? = 'todo' THEN started_at ELSE coalesce(started_at, ?) END,
         completed_at = CASE WHEN ? = 'done' THEN ? ELSE NULL END
       WHERE id = ?`,
      [next, now, next, now, next, now, parent.id],
    );
    changes.push({ task_id: parent.id, level: parent.level, from: parent.status, to: next });
    parentId = parent.parent_id;
  }
  return changes;
}
