import type { CoreContext } from './context.js';
import { CodestratorError, invalid } from './errors.js';
import { parseJson, toJson } from './json.js';
import type { Sql } from './ports.js';
import {
  type ApprovalState,
  type NodeRow,
  type NodeStatus,
  distinctFiles,
  getNode,
  insertEdge,
  insertNode,
  insertSnapshot,
  nodeWire,
  requireRow,
  snapshotWire,
} from './graph.js';

/** The seeded planning rules of the reference, now enforced: a slice must fit one agent's context. */
export const DEFAULT_MAX_TOKEN_PER_SLICE = 18_000;
export const DEFAULT_MAX_FILES_PER_SLICE = 12;

export interface BootstrapInput {
  initiative_title: string;
  plan_title: string;
  priority?: number;
  owner_session_id?: number;
  summary?: string;
}

/** plan.bootstrap: an in-progress initiative, its plan and the contains edge, all or nothing. */
export function bootstrapPlan(ctx: CoreContext, input: BootstrapInput) {
  return ctx.store.write((sql) => {
    const now = ctx.now();
    const shared = { priority: input.priority, owner_session_id: input.owner_session_id };
    const initiative = insertNode(sql, now, {
      ...shared,
      node_type: 'initiative',
      title: input.initiative_title,
      status: 'in_progress',
      summary: input.summary,
    });
    const plan = insertNode(sql, now, { ...shared, node_type: 'plan', title: input.plan_title, parent_id: initiative.id });
    const edge = insertEdge(sql, now, { from_node_id: initiative.id, to_node_id: plan.id, edge_type: 'contains' });
    return { initiative: nodeWire(initiative), plan: nodeWire(plan), edge };
  });
}

export interface SliceSpec {
  title: string;
  priority?: number;
  token_estimate?: number;
  affected_files?: string[];
  summary?: string;
}

export interface GenerateSlicesInput {
  plan_node_id: number;
  owner_session_id?: number;
  slice_specs: SliceSpec[];
  max_token_per_slice?: number;
  max_files_per_slice?: number;
}

/** Refuses the first spec over a limit, naming it by index (in `field`) and by title (in the message). */
function checkSliceSpecs(input: GenerateSlicesInput): void {
  const maxTokens = input.max_token_per_slice ?? DEFAULT_MAX_TOKEN_PER_SLICE;
  const maxFiles = input.max_files_per_slice ?? DEFAULT_MAX_FILES_PER_SLICE;
  const split = 'Split the slice into smaller ones, or raise the limit if the slice cannot be divided.';
  for (const [index, spec] of input.slice_specs.entries()) {
    if (spec.token_estimate !== undefined && spec.token_estimate > maxTokens) {
      throw invalid(
        `Slice "${spec.title}" estimates ${spec.token_estimate} tokens, over max_token_per_slice ${maxTokens}; no slices were created.`,
        `slice_specs.${index}.token_estimate`,
        split,
      );
    }
    const files = distinctFiles(spec.affected_files).length;
    if (files > maxFiles) {
      throw invalid(
        `Slice "${spec.title}" touches ${files} files, over max_files_per_slice ${maxFiles}; no slices were created.`,
        `slice_specs.${index}.affected_files`,
        split,
      );
    }
  }
}

/** plan.slice.generate: every spec becomes a todo slice under the plan with a contains edge, or none does. */
export function generateSlices(ctx: CoreContext, input: GenerateSlicesInput) {
  checkSliceSpecs(input);
  return ctx.store.write((sql) => {
    const plan = getNode(sql, input.plan_node_id, 'plan_node_id');
    if (plan.node_type !== 'plan') {
      throw invalid(
        `Node ${plan.id} is a ${plan.node_type}, not a plan.`,
        'plan_node_id',
        'Pass the plan node returned by plan.bootstrap.',
      );
    }
    requireRow(sql, 'sessions', 'Session', input.owner_session_id, 'owner_session_id');
    const now = ctx.now();
    const slices = [];
    const edges = [];
    for (const spec of input.slice_specs) {
      const slice = insertNode(sql, now, {
        ...spec,
        node_type: 'slice',
        facet: plan.facet,
        parent_id: plan.id,
        owner_session_id: input.owner_session_id,
      });
      slices.push(nodeWire(slice));
      edges.push(insertEdge(sql, now, { from_node_id: plan.id, to_node_id: slice.id, edge_type: 'contains' }));
    }
    return { plan_node_id: plan.id, slices, edges };
  });
}

export interface ReplanInput {
  node_id: number;
  reason: string;
  affected_files?: string[];
  next_action?: string;
}

/** plan.slice.replan: a replan snapshot holding the reason; affected_files, when given, also replace the node's. */
export function replanSlice(ctx: CoreContext, input: ReplanInput) {
  return ctx.store.write((sql) => {
    const node = getNode(sql, input.node_id);
    const now = ctx.now();
    const files = input.affected_files ?? parseJson<string[]>(node.affected_files, []);
    const snapshot = insertSnapshot(sql, now, {
      node_id: node.id,
      snapshot_type: 'replan',
      summary: input.reason,
      affected_files: files,
      next_action: input.next_action,
    });
    if (input.affected_files !== undefined) {
      sql.run('UPDATE graph_nodes SET affected_files = ?, updated_at = ? WHERE id = ?', [
        toJson(distinctFiles(input.affected_files)),
        now,
        node.id,
      ]);
    }
    return { snapshot: snapshotWire(snapshot), node: nodeWire(getNode(sql, node.id)) };
  });
}

/** Status counts over the whole subtree below a node (via parent_id), with its direct children listed. */
function rollupPreview(sql: Sql, parentId: number) {
  const counts = sql.all<{ status: string; n: number }>(
    `WITH RECURSIVE sub(id) AS (SELECT id FROM graph_nodes WHERE parent_id = ? UNION SELECT n.id FROM graph_nodes n JOIN sub s ON n.parent_id = s.id)
     SELECT g.status, count(*) AS n FROM graph_nodes g JOIN sub s ON g.id = s.id GROUP BY g.status ORDER BY g.status`,
    [parentId],
  );
  const children = sql.all<NodeRow>('SELECT * FROM graph_nodes WHERE parent_id = ? ORDER BY priority DESC, id', [parentId]).map(nodeWire);
  return {
    parent_node_id: parentId,
    total_count: counts.reduce((sum, c) => sum + c.n, 0),
    status_counts: Object.fromEntries(counts.map((c) => [c.status, c.n])),
    child_count: children.length,
    children,
  };
}

/** plan.rollup.preview: what a rollup of this node would cover. */
export const previewRollup = (ctx: CoreContext, input: { parent_node_id: number }) =>
  ctx.store.read((sql) => rollupPreview(sql, getNode(sql, input.parent_node_id, 'parent_node_id').id));

const TRANSITION_HINTS: Record<ApprovalState, string> = {
  none: 'Submit the rollup first with plan.rollup.submit.',
  pending: 'Approve or reject the pending rollup first.',
  approved: 'An approved rollup is final; create a new node for further work.',
  rejected: 'Re-submit the rollup with plan.rollup.submit first.',
};

/** Moves a node's approval state, refusing any start state but the allowed ones. */
function transition(
  sql: Sql,
  now: number,
  nodeId: number,
  change: { method: string; from: ApprovalState[]; to: ApprovalState; status: NodeStatus },
): NodeRow {
  const node = getNode(sql, nodeId);
  if (!change.from.includes(node.approval_state)) {
    throw new CodestratorError(
      'PRECONDITION_FAILED',
      `Node ${node.id} is ${node.approval_state}; ${change.method} needs approval_state ${change.from.join(' or ')}.`,
      {
        field: 'node_id',
        hint: TRANSITION_HINTS[node.approval_state],
        data: { approval_state: node.approval_state },
      },
    );
  }
  sql.run('UPDATE graph_nodes SET approval_state = ?, status = ?, updated_at = ? WHERE id = ?', [change.to, change.status, now, node.id]);
  return getNode(sql, node.id);
}

export interface SubmitRollupInput {
  node_id: number;
  summary?: string;
  affected_files?: string[];
  next_action?: string;
}

/** plan.rollup.submit: a rollup snapshot, then the node waits for approval (in_review); a rejected rollup may be re-submitted. */
export function submitRollup(ctx: CoreContext, input: SubmitRollupInput) {
  return ctx.store.write((sql) => {
    const now = ctx.now();
    const node = transition(sql, now, input.node_id, {
      method: 'plan.rollup.submit',
      from: ['none', 'rejected'],
      to: 'pending',
      status: 'in_review',
    });
    const files = input.affected_files ?? parseJson<string[]>(node.affected_files, []);
    const snapshot = insertSnapshot(sql, now, {
      node_id: node.id,
      snapshot_type: 'rollup',
      summary: input.summary,
      affected_files: files,
      next_action: input.next_action,
    });
    return { snapshot: snapshotWire(snapshot), node: nodeWire(node), preview: rollupPreview(sql, node.id) };
  });
}

/** plan.rollup.approve: a pending rollup is accepted and the node is done. */
export const approveRollup = (ctx: CoreContext, input: { node_id: number }) =>
  ctx.store.write((sql) => ({
    node: nodeWire(
      transition(sql, ctx.now(), input.node_id, { method: 'plan.rollup.approve', from: ['pending'], to: 'approved', status: 'done' }),
    ),
  }));

/** plan.rollup.reject: a pending rollup is refused; the node is blocked and a rollup_rejected snapshot keeps the reason. */
export function rejectRollup(ctx: CoreContext, input: { node_id: number; reason?: string }) {
  return ctx.store.write((sql) => {
    const now = ctx.now();
    const node = transition(sql, now, input.node_id, {
      method: 'plan.rollup.reject',
      from: ['pending'],
      to: 'rejected',
      status: 'blocked',
    });
    const snapshot = insertSnapshot(sql, now, { node_id: node.id, snapshot_type: 'rollup_rejected', summary: input.reason });
    return { node: nodeWire(node), snapshot: snapshotWire(snapshot) };
  });
}
