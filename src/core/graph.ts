import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { parseJson, toJson } from './json.js';
import { type PageRequest, cursorId, pageLimit, toPage } from './paging.js';
import type { Sql, SqlValue } from './ports.js';

/** Node statuses; a rollup moves a node through in_review to done (approved) or blocked (rejected). */
export const NODE_STATUSES = ['todo', 'in_progress', 'in_review', 'blocked', 'done', 'cancelled'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];
/** Rollup approval: none → pending (submit) → approved | rejected; rejected may be re-submitted. */
export const APPROVAL_STATES = ['none', 'pending', 'approved', 'rejected'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];
/** Checklist item statuses, the task statuses minus review (an item is not reviewed on its own). */
export const CHECKLIST_STATUSES = ['todo', 'in_progress', 'blocked', 'done', 'cancelled'] as const;
export type ChecklistStatus = (typeof CHECKLIST_STATUSES)[number];
/** The facet a node, checklist item or list filter falls back to, as in the reference. */
export const DEFAULT_FACET = 'planning';

export interface NodeRow {
  id: number;
  node_type: string;
  facet: string;
  title: string;
  status: string;
  priority: number;
  parent_id: number | null;
  worktree_id: number | null;
  owner_session_id: number | null;
  summary: string | null;
  risk_level: number | null;
  token_estimate: number | null;
  affected_files: string;
  approval_state: ApprovalState;
  created_at: number;
  updated_at: number;
}

export interface EdgeRow {
  id: number;
  from_node_id: number;
  to_node_id: number;
  edge_type: string;
  created_at: number;
}

export interface ChecklistRow {
  id: number;
  node_id: number;
  facet: string;
  order_no: number;
  item_text: string;
  status: string;
  created_at: number;
  updated_at: number;
}

export interface SnapshotRow {
  id: number;
  node_id: number;
  snapshot_type: string;
  summary: string | null;
  affected_files: string;
  next_action: string | null;
  created_at: number;
}

/** Wire shape of a node: the affected_files JSON column parsed into a string array. */
export const nodeWire = (row: NodeRow) => ({ ...row, affected_files: parseJson<string[]>(row.affected_files, []) });
/** Wire shape of a snapshot, affected_files parsed like a node's. */
export const snapshotWire = (row: SnapshotRow) => ({ ...row, affected_files: parseJson<string[]>(row.affected_files, []) });
export type NodeWire = ReturnType<typeof nodeWire>;

/** Stores a file list once per path, in the caller's order, so limits count distinct files. */
export const distinctFiles = (files: readonly string[] | undefined): string[] => [...new Set(files ?? [])];

/** Loads a node or fails with NOT_FOUND naming the param that held the id. */
export function getNode(sql: Sql, id: number, field = 'node_id'): NodeRow {
  const row = sql.get<NodeRow>('SELECT * FROM graph_nodes WHERE id = ?', [id]);
  if (!row) throw notFound('Graph node', id, field);
  return row;
}

/** Checks that a referenced row exists, so a bad id is NOT_FOUND on its field rather than a foreign-key INTERNAL. */
export function requireRow(sql: Sql, table: 'sessions' | 'worktrees', what: string, id: number | undefined, field: string): void {
  if (id !== undefined && !sql.get(`SELECT 1 FROM ${table} WHERE id = ?`, [id])) throw notFound(what, id, field);
}

export interface CreateNodeInput {
  node_type: string;
  title: string;
  facet?: string;
  status?: NodeStatus;
  priority?: number;
  parent_id?: number;
  worktree_id?: number;
  owner_session_id?: number;
  summary?: string;
  risk_level?: number;
  token_estimate?: number;
  affected_files?: string[];
  approval_state?: ApprovalState;
}

/** Inserts a node inside the caller's transaction (plan.* methods build several in one). */
export function insertNode(sql: Sql, now: number, input: CreateNodeInput): NodeRow {
  if (input.parent_id !== undefined) getNode(sql, input.parent_id, 'parent_id');
  requireRow(sql, 'worktrees', 'Worktree', input.worktree_id, 'worktree_id');
  requireRow(sql, 'sessions', 'Session', input.owner_session_id, 'owner_session_id');
  const id = sql.run(
    `INSERT INTO graph_nodes (node_type, facet, title, status, priority, parent_id, worktree_id, owner_session_id, summary,
       risk_level, token_estimate, affected_files, approval_state, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      input.node_type,
      input.facet ?? DEFAULT_FACET,
      input.title,
      input.status ?? 'todo',
      input.priority ?? 0,
      input.parent_id ?? null,
      input.worktree_id ?? null,
      input.owner_session_id ?? null,
      input.summary ?? null,
      input.risk_level ?? null,
      input.token_estimate ?? null,
      toJson(distinctFiles(input.affected_files)),
      input.approval_state ?? 'none',
      now,
      now,
    ],
  ).lastInsertRowid;
  return getNode(sql, id);
}

export interface CreateEdgeInput {
  from_node_id: number;
  to_node_id: number;
  edge_type: string;
}

/**
 * Inserts an edge after refusing self-edges, duplicates and dependency cycles. `A depends_on B` and
 * `B blocks A` both mean "A waits for B", so both kinds are read as one waits-for relation.
 */
export function insertEdge(sql: Sql, now: number, input: CreateEdgeInput): EdgeRow {
  const { from_node_id: from, to_node_id: to, edge_type: type } = input;
  if (from === to) throw invalid(`An edge cannot join node ${from} to itself.`, 'to_node_id');
  getNode(sql, from, 'from_node_id');
  getNode(sql, to, 'to_node_id');
  const existing = sql.get<{ id: number }>('SELECT id FROM graph_edges WHERE from_node_id = ? AND to_node_id = ? AND edge_type = ?', [
    from,
    to,
    type,
  ]);
  if (existing) {
    throw new CodestratorError('CONFLICT', `Edge ${existing.id} already joins node ${from} to node ${to} as ${type}; use it instead.`, {
      field: 'edge_type',
      data: { edge_id: existing.id },
    });
  }
  if (type === 'depends_on' || type === 'blocks') {
    const [waiter, awaited] = type === 'depends_on' ? [from, to] : [to, from];
    // A cycle exists if the awaited node already (transitively) waits for the waiter.
    const cycle = sql.get(
      `WITH RECURSIVE waits(waiter, awaited) AS (
         SELECT from_node_id, to_node_id FROM graph_edges WHERE edge_type = 'depends_on'
         UNION ALL SELECT to_node_id, from_node_id FROM graph_edges WHERE edge_type = 'blocks'),
       reach(id) AS (SELECT ? UNION SELECT w.awaited FROM waits w JOIN reach r ON w.waiter = r.id)
       SELECT 1 FROM reach WHERE id = ?`,
      [awaited, waiter],
    );
    if (cycle) {
      throw invalid(`Node ${awaited} already waits for node ${waiter}; this ${type} edge would close a dependency cycle.`, 'to_node_id');
    }
  }
  const id = sql.run('INSERT INTO graph_edges (from_node_id, to_node_id, edge_type, created_at) VALUES (?, ?, ?, ?)', [
    from,
    to,
    type,
    now,
  ]).lastInsertRowid;
  return sql.get<EdgeRow>('SELECT * FROM graph_edges WHERE id = ?', [id])!;
}

export interface CreateSnapshotInput {
  node_id: number;
  snapshot_type: string;
  summary?: string | null;
  affected_files?: string[];
  next_action?: string;
}

/** Inserts a snapshot inside the caller's transaction (replan and rollups add one next to a node update). */
export function insertSnapshot(sql: Sql, now: number, input: CreateSnapshotInput): SnapshotRow {
  getNode(sql, input.node_id);
  const id = sql.run(
    'INSERT INTO graph_snapshots (node_id, snapshot_type, summary, affected_files, next_action, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    [
      input.node_id,
      input.snapshot_type,
      input.summary ?? null,
      toJson(distinctFiles(input.affected_files)),
      input.next_action ?? null,
      now,
    ],
  ).lastInsertRowid;
  return sql.get<SnapshotRow>('SELECT * FROM graph_snapshots WHERE id = ?', [id])!;
}

type Condition = [clause: string, params: SqlValue[]];
const eq = (column: string, value: SqlValue | undefined): Condition[] => (value === undefined ? [] : [[`${column} = ?`, [value]]]);

/** One page of a graph table in id order, the order the cursor needs. */
function listPage<R extends { id: number }, T>(sql: Sql, table: string, conditions: Condition[], request: PageRequest, map: (row: R) => T) {
  const limit = pageLimit(request);
  const clauses = ['id > ?', ...conditions.map(([clause]) => clause)];
  const params = [cursorId(request), ...conditions.flatMap(([, values]) => values), limit + 1];
  return toPage(sql.all<R>(`SELECT * FROM ${table} WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`, params), limit, map);
}

/** graph.node.create: one node; every referenced id must exist. */
export const createNode = (ctx: CoreContext, input: CreateNodeInput) =>
  ctx.store.write((sql) => ({ node: nodeWire(insertNode(sql, ctx.now(), input)) }));

export interface ListNodesInput extends PageRequest {
  node_type?: string;
  facet?: string;
  status?: NodeStatus;
  parent_id?: number;
}

/** graph.node.list: nodes matching every given filter, in creation order. */
export function listNodes(ctx: CoreContext, input: ListNodesInput) {
  return ctx.store.read((sql) => {
    if (input.parent_id !== undefined) getNode(sql, input.parent_id, 'parent_id');
    const conditions = [
      ...eq('node_type', input.node_type),
      ...eq('facet', input.facet),
      ...eq('status', input.status),
      ...eq('parent_id', input.parent_id),
    ];
    return listPage(sql, 'graph_nodes', conditions, input, nodeWire);
  });
}

/** graph.node.get: a node with its direct children's status counts, its checklist and its latest snapshot. */
export function getNodeView(ctx: CoreContext, input: { node_id: number }) {
  return ctx.store.read((sql) => {
    const row = getNode(sql, input.node_id);
    const children = sql.all<{ status: string; n: number }>(
      'SELECT status, count(*) AS n FROM graph_nodes WHERE parent_id = ? GROUP BY status ORDER BY status',
      [row.id],
    );
    const latest = sql.get<SnapshotRow>('SELECT * FROM graph_snapshots WHERE node_id = ? ORDER BY id DESC LIMIT 1', [row.id]);
    return {
      node: nodeWire(row),
      children: { count: children.reduce((sum, c) => sum + c.n, 0), by_status: Object.fromEntries(children.map((c) => [c.status, c.n])) },
      checklist: sql.all<ChecklistRow>('SELECT * FROM graph_checklists WHERE node_id = ? ORDER BY facet, order_no', [row.id]),
      latest_snapshot: latest ? snapshotWire(latest) : null,
    };
  });
}

/** graph.edge.create: one typed edge; duplicates are CONFLICT, dependency cycles and self-edges INVALID_ARGUMENT. */
export const createEdge = (ctx: CoreContext, input: CreateEdgeInput) =>
  ctx.store.write((sql) => ({ edge: insertEdge(sql, ctx.now(), input) }));

/** graph.edge.list: edges touching node_id (either end) and/or of one type. */
export function listEdges(ctx: CoreContext, input: PageRequest & { node_id?: number; edge_type?: string }) {
  return ctx.store.read((sql) => {
    const conditions = eq('edge_type', input.edge_type);
    if (input.node_id !== undefined) {
      getNode(sql, input.node_id);
      conditions.push(['(from_node_id = ? OR to_node_id = ?)', [input.node_id, input.node_id]]);
    }
    return listPage(sql, 'graph_edges', conditions, input, (row: EdgeRow) => row);
  });
}

export interface UpsertChecklistInput {
  node_id: number;
  item_text: string;
  status?: ChecklistStatus;
  order_no?: number;
  facet?: string;
}

/**
 * graph.checklist.upsert: the item at (node_id, facet, order_no) is rewritten in place; without
 * order_no a new item goes after the last one. An update keeps the status unless one is given.
 */
export function upsertChecklistItem(ctx: CoreContext, input: UpsertChecklistInput) {
  return ctx.store.write((sql) => {
    getNode(sql, input.node_id);
    const facet = input.facet ?? DEFAULT_FACET;
    const now = ctx.now();
    const existing =
      input.order_no === undefined
        ? undefined
        : sql.get<ChecklistRow>('SELECT * FROM graph_checklists WHERE node_id = ? AND facet = ? AND order_no = ?', [
            input.node_id,
            facet,
            input.order_no,
          ]);
    let id: number;
    if (existing) {
      sql.run('UPDATE graph_checklists SET item_text = ?, status = ?, updated_at = ? WHERE id = ?', [
        input.item_text,
        input.status ?? existing.status,
        now,
        existing.id,
      ]);
      id = existing.id;
    } else {
      const orderNo =
        input.order_no ??
        sql.get<{ next: number }>('SELECT coalesce(max(order_no), 0) + 1 AS next FROM graph_checklists WHERE node_id = ? AND facet = ?', [
          input.node_id,
          facet,
        ])!.next;
      id = sql.run(
        'INSERT INTO graph_checklists (node_id, facet, order_no, item_text, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [input.node_id, facet, orderNo, input.item_text, input.status ?? 'todo', now, now],
      ).lastInsertRowid;
    }
    return { item: sql.get<ChecklistRow>('SELECT * FROM graph_checklists WHERE id = ?', [id])!, created: !existing };
  });
}

/** graph.checklist.list: a node's checklist items (optionally one facet), in creation order; sort by order_no to read them. */
export function listChecklist(ctx: CoreContext, input: PageRequest & { node_id: number; facet?: string }) {
  return ctx.store.read((sql) => {
    getNode(sql, input.node_id);
    return listPage(
      sql,
      'graph_checklists',
      [...eq('node_id', input.node_id), ...eq('facet', input.facet)],
      input,
      (row: ChecklistRow) => row,
    );
  });
}

/** graph.snapshot.create: records a point-in-time note on a node (free-form snapshot_type). */
export const createSnapshot = (ctx: CoreContext, input: CreateSnapshotInput) =>
  ctx.store.write((sql) => ({ snapshot: snapshotWire(insertSnapshot(sql, ctx.now(), input)) }));

/** graph.snapshot.list: a node's snapshots (optionally one type), oldest first. */
export function listSnapshots(ctx: CoreContext, input: PageRequest & { node_id: number; snapshot_type?: string }) {
  return ctx.store.read((sql) => {
    getNode(sql, input.node_id);
    return listPage(
      sql,
      'graph_snapshots',
      [...eq('node_id', input.node_id), ...eq('snapshot_type', input.snapshot_type)],
      input,
      snapshotWire,
    );
  });
}
