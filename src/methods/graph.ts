import { z } from 'zod';
import {
  APPROVAL_STATES,
  CHECKLIST_STATUSES,
  NODE_STATUSES,
  createEdge,
  createNode,
  createSnapshot,
  getNodeView,
  listChecklist,
  listEdges,
  listNodes,
  listSnapshots,
  upsertChecklistItem,
} from '../core/graph.js';
import { defineMethod } from '../registry/define.js';
import { id, paging, paths, text } from '../registry/common-params.js';

const nodeId = id('Graph node');

/** A free-form but tidy type name (node_type, facet, edge_type, snapshot_type), so filters match exactly. */
const kind = (description: string) =>
  z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be lower-case letters, digits, _ or -, starting with a letter')
    .describe(description);

/** The orch_graph tool: raw planning-graph reads and writes; the plan.* methods build on the same core. */
export const graphMethods = [
  defineMethod({
    name: 'graph.node.create',
    group: 'orch_graph',
    summary: 'Create a planning graph node; parent_id, worktree_id and owner_session_id must name existing rows.',
    params: z.strictObject({
      node_type: kind('What the node is, e.g. initiative, plan, slice, milestone'),
      title: text('Short title').max(500),
      facet: kind('Planning facet (default planning)').optional(),
      status: z.enum(NODE_STATUSES).optional().describe('Default todo'),
      priority: z.number().int().optional().describe('Higher comes first (default 0)'),
      parent_id: id('Parent graph node').optional(),
      worktree_id: id('Worktree').optional(),
      owner_session_id: id('Owning session').optional(),
      summary: z.string().max(20_000).optional(),
      risk_level: z.number().int().min(0).optional(),
      token_estimate: z.number().int().min(0).optional(),
      affected_files: paths('Repository paths the node is expected to touch').optional(),
      approval_state: z.enum(APPROVAL_STATES).optional().describe('Default none'),
    }),
    example: { node_type: 'milestone', title: 'Login flow works end to end', parent_id: 1, priority: 2 },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => createNode(ctx, params),
  }),
  defineMethod({
    name: 'graph.node.list',
    group: 'orch_graph',
    summary: 'List graph nodes matching every given filter, in creation order.',
    params: z.strictObject({
      node_type: kind('Only nodes of this type').optional(),
      facet: kind('Only nodes of this facet').optional(),
      status: z.enum(NODE_STATUSES).optional(),
      parent_id: id('Parent graph node').optional(),
      ...paging,
    }),
    example: { node_type: 'slice', status: 'todo' },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listNodes(ctx, params),
  }),
  defineMethod({
    name: 'graph.node.get',
    group: 'orch_graph',
    summary: "One node with its children's status counts, its checklist and its latest snapshot.",
    params: z.strictObject({ node_id: nodeId }),
    example: { node_id: 1 },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => getNodeView(ctx, params),
  }),
  defineMethod({
    name: 'graph.edge.create',
    group: 'orch_graph',
    summary: 'Join two nodes with a typed edge; duplicates, self-edges and depends_on/blocks cycles are refused.',
    params: z.strictObject({
      from_node_id: id('Source graph node'),
      to_node_id: id('Target graph node'),
      edge_type: kind('contains, depends_on (from waits for to), blocks (to waits for from), or another relation'),
    }),
    example: { from_node_id: 3, to_node_id: 2, edge_type: 'depends_on' },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => createEdge(ctx, params),
  }),
  defineMethod({
    name: 'graph.edge.list',
    group: 'orch_graph',
    summary: 'List edges touching a node (either end) and/or of one type, in creation order.',
    params: z.strictObject({ node_id: nodeId.optional(), edge_type: kind('Only edges of this type').optional(), ...paging }),
    example: { node_id: 2 },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listEdges(ctx, params),
  }),
  defineMethod({
    name: 'graph.checklist.upsert',
    group: 'orch_graph',
    summary: "Write the checklist item at (node_id, facet, order_no), or append one after the facet's last item when order_no is omitted.",
    params: z.strictObject({
      node_id: nodeId,
      item_text: text('What to check').max(2000),
      status: z.enum(CHECKLIST_STATUSES).optional().describe('Default todo for a new item; an update keeps the old status'),
      order_no: z.number().int().min(1).optional().describe('Position; omitted means the next free number'),
      facet: kind('Checklist facet (default planning)').optional(),
    }),
    example: { node_id: 2, item_text: 'Redirect covered by an e2e test', status: 'todo' },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => upsertChecklistItem(ctx, params),
  }),
  defineMethod({
    name: 'graph.checklist.list',
    group: 'orch_graph',
    summary: "A node's checklist items (optionally one facet), in creation order, each with its order_no.",
    params: z.strictObject({ node_id: nodeId, facet: kind('Only items of this facet').optional(), ...paging }),
    example: { node_id: 2 },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listChecklist(ctx, params),
  }),
  defineMethod({
    name: 'graph.snapshot.create',
    group: 'orch_graph',
    summary: 'Record a point-in-time snapshot of a node: a summary, the files involved and the next action.',
    params: z.strictObject({
      node_id: nodeId,
      snapshot_type: kind('e.g. progress, replan, rollup'),
      summary: z.string().max(20_000).optional(),
      affected_files: paths('Repository paths involved').optional(),
      next_action: z.string().max(2000).optional(),
    }),
    example: { node_id: 2, snapshot_type: 'progress', summary: 'Redirect fixed; tests pending', next_action: 'Add the e2e test' },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => createSnapshot(ctx, params),
  }),
  defineMethod({
    name: 'graph.snapshot.list',
    group: 'orch_graph',
    summary: "A node's snapshots (optionally one type), oldest first.",
    params: z.strictObject({ node_id: nodeId, snapshot_type: kind('Only snapshots of this type').optional(), ...paging }),
    example: { node_id: 2, snapshot_type: 'replan' },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listSnapshots(ctx, params),
  }),
];
