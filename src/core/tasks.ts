import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { toJson } from './json.js';
import type { Sql } from './ports.js';
import { type TaskRow, taskWire } from './rows.js';
import { type PageRequest, cursorId, pageLimit, toPage } from './paging.js';
import { checkOwnership, isOwnerLive } from './identity.js';
import { type RolledUp, rollUp } from './rollup.js';
import { latestMergeRequests, mergeRequestsOf } from './task-merges.js';

export const LEVELS = ['epic', 'feature', 'test_group', 'case'] as const;
export type Level = (typeof LEVELS)[number];
export const TASK_STATUSES = ['todo', 'in_progress', 'blocked', 'done', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The level a task of each level must sit under (epics sit at the top). */
const PARENT_LEVEL: Record<Level, Level | null> = { epic: null, feature: 'epic', test_group: 'feature', case: 'test_group' };

/** `rolled_up` in a result: the ancestors whose status followed this change (omitted when none did). */
export const rolledUpField = (changes: readonly RolledUp[]) => (changes.length > 0 ? { rolled_up: changes } : {});

export function getTask(sql: Sql, id: number, field = 'task_id'): TaskRow {
  const row = sql.get<TaskRow>('SELECT * FROM tasks WHERE id = ?', [id]);
  if (!row) throw notFound('Task', id, field);
  return row;
}

export function getCase(sql: Sql, id: number, field = 'case_id'): TaskRow {
  const row = getTask(sql, id, field);
  if (row.level !== 'case') {
    throw invalid(`Task ${id} is a ${row.level}, not a case.`, field, 'Steps and the case lifecycle apply to level=case tasks.');
  }
  return row;
}

export const dependenciesOf = (sql: Sql, caseId: number): number[] =>
  sql
    .all<{ depends_on_id: number }>('SELECT depends_on_id FROM case_dependencies WHERE case_id = ? ORDER BY depends_on_id', [caseId])
    .map((row) => row.depends_on_id);

/** Replaces a case's dependencies after checking they are other cases and close no cycle. */
function setDependencies(sql: Sql, caseId: number, dependsOn: readonly number[]): void {
  for (const [index, id] of dependsOn.entries()) {
    const field = `depends_on.${index}`;
    if (id === caseId) throw invalid(`Case ${caseId} cannot depend on itself.`, field);
    getCase(sql, id, field);
    // A cycle exists if the new dependency already (transitively) depends on this case.
    const cycle = sql.get(
      `WITH RECURSIVE reach(id) AS (SELECT ? UNION SELECT d.depends_on_id FROM case_dependencies d JOIN reach r ON d.case_id = r.id)
       SELECT 1 FROM reach WHERE id = ?`,
      [id, caseId],
    );
    if (cycle) throw invalid(`Case ${id} already depends on case ${caseId}; this dependency would close a cycle.`, field);
  }
  sql.run('DELETE FROM case_dependencies WHERE case_id = ?', [caseId]);
  for (const id of new Set(dependsOn)) sql.run('INSERT INTO case_dependencies (case_id, depends_on_id) VALUES (?, ?)', [caseId, id]);
}

function checkAssignee(sql: Sql, input: { assignee_session?: number | null; assignee_thread?: number | null }): void {
  if (input.assignee_session != null && !sql.get('SELECT 1 FROM sessions WHERE id = ?', [input.assignee_session])) {
    throw notFound('Session', input.assignee_session, 'assignee_session');
  }
  if (input.assignee_thread != null && !sql.get('SELECT 1 FROM threads WHERE id = ?', [input.assignee_thread])) {
    throw notFound('Thread', input.assignee_thread, 'assignee_thread');
  }
}

function caseOnly(level: Level, input: Record<string, unknown>, fields: readonly string[]): void {
  if (level === 'case') return;
  const given = fields.find((field) => input[field] !== undefined);
  if (given) throw invalid(`${given} applies to cases only, not to a ${level}.`, given);
}

export interface CreateTaskInput {
  level: Level;
  title: string;
  parent_id?: number;
  priority?: number;
  description?: string;
  assignee_session?: number;
  assignee_thread?: number;
  steps?: string[];
  depends_on?: number[];
  required_files?: string[];
}

export function createTask(ctx: CoreContext, input: CreateTaskInput) {
  return ctx.store.write((sql) => {
    caseOnly(input.level, input as unknown as Record<string, unknown>, ['steps', 'depends_on', 'required_files']);
    const parentLevel = PARENT_LEVEL[input.level];
    if (parentLevel === null && input.parent_id !== undefined) {
      throw invalid('An epic is a top-level task and takes no parent_id.', 'parent_id');
    }
    if (parentLevel !== null) {
      if (input.parent_id === undefined) {
        throw invalid(
          `A ${input.level} needs parent_id: the ${parentLevel} it belongs to.`,
          'parent_id',
          `Levels nest epic → feature → test_group → case.`,
        );
      }
      const parent = getTask(sql, input.parent_id, 'parent_id');
      if (parent.level !== parentLevel) {
        throw invalid(`A ${input.level} must sit under a ${parentLevel}; task ${parent.id} is a ${parent.level}.`, 'parent_id');
      }
    }
    checkAssignee(sql, input);
    const now = ctx.now();
    const id = sql.run(
      `INSERT INTO tasks (level, parent_id, title, description, status, priority, assignee_session_id, assignee_thread_id,
         steps_planned, required_files, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'todo', ?, ?, ?, ?, ?, ?, ?)`,
      [
        input.level,
        input.parent_id ?? null,
        input.title,
        input.description ?? null,
        input.priority ?? 0,
        input.assignee_session ?? null,
        input.assignee_thread ?? null,
        input.level === 'case' ? toJson(input.steps ?? []) : null,
        input.level === 'case' ? toJson(input.required_files ?? []) : null,
        now,
        now,
      ],
    ).lastInsertRowid;
    if (input.depends_on?.length) setDependencies(sql, id, input.depends_on);
    // A new child reopens a done parent (and its ancestors).
    const rolledUp = rollUp(sql, id, now);
    const row = getTask(sql, id);
    return { task: taskWire(row, row.level === 'case' ? dependenciesOf(sql, id) : undefined), ...rolledUpField(rolledUp) };
  });
}

export interface ListTasksInput extends PageRequest {
  level?: Level;
  status?: TaskStatus;
  parent_id?: number;
  assignee_session?: number;
  assignee_thread?: number;
  owner?: string;
}

export function listTasks(ctx: CoreContext, input: ListTasksInput) {
  return ctx.store.read((sql) => {
    const limit = pageLimit(input);
    const where = ['id > ?'];
    const params: (string | number)[] = [cursorId(input)];
    const filters: [keyof ListTasksInput, string][] = [
      ['level', 'level'],
      ['status', 'status'],
      ['parent_id', 'parent_id'],
      ['assignee_session', 'assignee_session_id'],
      ['assignee_thread', 'assignee_thread_id'],
      ['owner', 'owner_key'],
    ];
    for (const [field, column] of filters) {
      const value = input[field];
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value as string | number);
    }
    const rows = sql.all<TaskRow>(`SELECT * FROM tasks WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, [...params, limit + 1]);
    const merges = latestMergeRequests(
      sql,
      rows.filter((row) => row.level === 'feature').map((row) => row.id),
    );
    // A feature carries its newest merge request (null when it has none), so a merged feature reads as merged.
    return toPage(rows, limit, (row) =>
      row.level === 'feature' ? { ...taskWire(row), merge_request: merges.get(row.id) ?? null } : taskWire(row),
    );
  });
}

export function getTaskView(ctx: CoreContext, input: { task_id: number }) {
  return ctx.store.read((sql) => {
    const row = getTask(sql, input.task_id);
    const children = sql.all<{ status: string; n: number }>(
      'SELECT status, count(*) AS n FROM tasks WHERE parent_id = ? GROUP BY status ORDER BY status',
      [row.id],
    );
    const view: Record<string, unknown> = {
      task: taskWire(row, row.level === 'case' ? dependenciesOf(sql, row.id) : undefined),
      children: { count: children.reduce((sum, c) => sum + c.n, 0), by_status: Object.fromEntries(children.map((c) => [c.status, c.n])) },
    };
    if (row.level === 'feature') view.merge_requests = mergeRequestsOf(sql, row.id);
    if (row.level === 'case') {
      view.steps = sql.all('SELECT id, order_no, title, result, notes, created_at FROM steps WHERE case_id = ? ORDER BY order_no', [
        row.id,
      ]);
      view.latest_checkpoint =
        sql.get('SELECT id, event, summary, next_action, created_at FROM checkpoints WHERE case_id = ? ORDER BY id DESC LIMIT 1', [
          row.id,
        ]) ?? null;
    }
    return view;
  });
}

export interface UpdateTaskInput {
  task_id: number;
  title?: string;
  description?: string | null;
  priority?: number;
  status?: TaskStatus;
  assignee_session?: number | null;
  assignee_thread?: number | null;
  steps?: string[];
  depends_on?: number[];
  force?: boolean;
  reason?: string;
}

/**
 * task.update. A case enters in_progress and done only through case.begin and case.complete;
 * setting it back to todo, blocked or cancelled releases it, which needs its owner (or force)
 * while the owner is live.
 */
export function updateTask(ctx: CoreContext, input: UpdateTaskInput) {
  return ctx.store.write((sql) => {
    const row = getTask(sql, input.task_id);
    caseOnly(row.level, input as unknown as Record<string, unknown>, ['steps', 'depends_on']);
    const fields = ['title', 'description', 'priority', 'status', 'assignee_session', 'assignee_thread', 'steps', 'depends_on'] as const;
    if (!fields.some((field) => input[field] !== undefined)) {
      throw invalid('task.update needs at least one field to change.', undefined, `Fields: ${fields.join(', ')}.`);
    }
    checkAssignee(sql, input);
    const now = ctx.now();
    const sets: string[] = ['updated_at = ?'];
    const params: (string | number | null)[] = [now];
    const set = (column: string, value: string | number | null) => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (input.title !== undefined) set('title', input.title);
    if (input.description !== undefined) set('description', input.description);
    if (input.priority !== undefined) set('priority', input.priority);
    if (input.assignee_session !== undefined) set('assignee_session_id', input.assignee_session);
    if (input.assignee_thread !== undefined) set('assignee_thread_id', input.assignee_thread);
    if (input.steps !== undefined) set('steps_planned', toJson(input.steps));
    if (input.status !== undefined && input.status !== row.status) {
      if (row.level === 'case') {
        if (input.status === 'in_progress' || input.status === 'done') {
          throw new CodestratorError(
            'PRECONDITION_FAILED',
            `A case becomes ${input.status} only through ${input.status === 'done' ? 'case.complete' : 'case.begin'}.`,
            { field: 'status' },
          );
        }
        if (row.status === 'in_progress' && row.owner_key && isOwnerLive(sql, row.owner_key, now)) {
          checkOwnership(sql, ctx.actor, {
            method: 'task.update',
            ownerKey: row.owner_key,
            target: `case ${row.id}`,
            force: input.force,
            reason: input.reason,
            now,
          });
        }
        if (row.status === 'in_progress' && row.owner_key) {
          sql.run(
            "UPDATE current_refs SET status = 'completed', updated_at = ?, version = version + 1 WHERE owner_key = ? AND case_id = ? AND status = 'active'",
            [now, row.owner_key, row.id],
          );
        }
        set('owner_key', null);
        set('owner_session_id', null);
        set('owner_thread_id', null);
      }
      set('status', input.status);
      if (input.status === 'done') set('completed_at', now);
      else if (row.status === 'done') set('completed_at', null);
    }
    params.push(row.id);
    sql.run(`UPDATE tasks SET ${sets.join(', ')} WHERE id = ?`, params);
    if (input.depends_on !== undefined) setDependencies(sql, row.id, input.depends_on);
    const rolledUp = input.status !== undefined && input.status !== row.status ? rollUp(sql, row.id, now) : [];
    const updated = getTask(sql, row.id);
    return { task: taskWire(updated, updated.level === 'case' ? dependenciesOf(sql, row.id) : undefined), ...rolledUpField(rolledUp) };
  });
}
