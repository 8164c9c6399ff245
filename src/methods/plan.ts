import { z } from 'zod';
import {
  DEFAULT_MAX_FILES_PER_SLICE,
  DEFAULT_MAX_TOKEN_PER_SLICE,
  approveRollup,
  bootstrapPlan,
  generateSlices,
  previewRollup,
  rejectRollup,
  replanSlice,
  submitRollup,
} from '../core/plans.js';
import { defineMethod } from '../registry/define.js';
import { id, paths, text } from '../registry/common-params.js';

const nodeId = id('Graph node');

const sliceSpec = z.strictObject({
  title: text('Slice title').max(500),
  priority: z.number().int().optional(),
  token_estimate: z.number().int().min(0).optional().describe('Expected context tokens for the slice'),
  affected_files: paths('Repository paths the slice will touch').optional(),
  summary: z.string().max(20_000).optional(),
});

/** The plan.* methods, kept in orch_system as in the reference so existing callers find them where they were. */
export const planMethods = [
  defineMethod({
    name: 'plan.bootstrap',
    group: 'orch_system',
    summary: 'Create an in-progress initiative, its plan under it and the contains edge between them, in one transaction.',
    params: z.strictObject({
      initiative_title: text('Initiative title').max(500),
      plan_title: text('Plan title').max(500),
      priority: z.number().int().optional(),
      owner_session_id: id('Owning session').optional(),
      summary: z.string().max(20_000).optional().describe("The initiative's summary"),
    }),
    example: { initiative_title: 'Reliable login', plan_title: 'Fix the redirect loop', priority: 1 },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => bootstrapPlan(ctx, params),
  }),
  defineMethod({
    name: 'plan.slice.generate',
    group: 'orch_system',
    summary: 'Create todo slices under a plan node from specs; a spec over the token or file limit refuses the whole call.',
    params: z.strictObject({
      plan_node_id: id('Plan node'),
      owner_session_id: id('Owning session').optional(),
      slice_specs: z.array(sliceSpec).min(1).max(200),
      max_token_per_slice: z.number().int().positive().optional().describe(`Default ${DEFAULT_MAX_TOKEN_PER_SLICE}`),
      max_files_per_slice: z.number().int().positive().optional().describe(`Default ${DEFAULT_MAX_FILES_PER_SLICE}`),
    }),
    example: {
      plan_node_id: 2,
      slice_specs: [
        { title: 'Reproduce the loop in a test', token_estimate: 6000, affected_files: ['test/login.test.ts'] },
        { title: 'Fix the redirect guard', token_estimate: 9000, affected_files: ['src/auth/redirect.ts'] },
      ],
    },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => generateSlices(ctx, params),
  }),
  defineMethod({
    name: 'plan.slice.replan',
    group: 'orch_system',
    summary: "Record a replan snapshot with the reason; affected_files, when given, also replace the node's.",
    params: z.strictObject({
      node_id: nodeId,
      reason: text('Why the slice changes (e.g. context_overflow, scope_change, blocked)').max(20_000),
      affected_files: paths("The slice's new file list").optional(),
      next_action: z.string().max(2000).optional(),
    }),
    example: { node_id: 3, reason: 'scope_change: the guard lives in middleware', affected_files: ['src/auth/middleware.ts'] },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => replanSlice(ctx, params),
  }),
  defineMethod({
    name: 'plan.rollup.preview',
    group: 'orch_system',
    summary: "Status counts over a node's whole subtree, with its direct children listed.",
    params: z.strictObject({ parent_node_id: id('Graph node to roll up') }),
    example: { parent_node_id: 2 },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => previewRollup(ctx, params),
  }),
  defineMethod({
    name: 'plan.rollup.submit',
    group: 'orch_system',
    summary: 'Submit a rollup for approval (from none or rejected): records a rollup snapshot and puts the node in review.',
    params: z.strictObject({
      node_id: nodeId,
      summary: z.string().max(20_000).optional(),
      affected_files: paths('Repository paths the rollup covers').optional(),
      next_action: z.string().max(2000).optional(),
    }),
    example: { node_id: 2, summary: 'All slices done; redirect loop fixed and tested' },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => submitRollup(ctx, params),
  }),
  defineMethod({
    name: 'plan.rollup.approve',
    group: 'orch_system',
    summary: "Approve a node's pending rollup, which marks the node done.",
    params: z.strictObject({ node_id: nodeId }),
    example: { node_id: 2 },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => approveRollup(ctx, params),
  }),
  defineMethod({
    name: 'plan.rollup.reject',
    group: 'orch_system',
    summary: "Reject a node's pending rollup: the node is blocked and the reason is kept in a rollup_rejected snapshot.",
    params: z.strictObject({
      node_id: nodeId,
      reason: z.string().max(20_000).optional().describe('What must change before re-submitting'),
    }),
    example: { node_id: 2, reason: 'The e2e test is missing' },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => rejectRollup(ctx, params),
  }),
];
