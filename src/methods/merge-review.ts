import { z } from 'zod';
import { DEFAULT_CONFIG } from '../core/config.js';
import { SEVERITIES, VERDICTS, createMergeRequest, getMergeRequest, submitReview } from '../core/merge-requests.js';
import { reviewContext } from '../core/review-context.js';
import { id, identity, text } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';
import { requestAutoReview, reviewThreadStatus } from '../core/review-dispatch.js';

const mergeRequestId = id('Merge request');

/** Goes to git's argv: no leading '-', and only the characters branch names use in practice. */
const branchName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._][A-Za-z0-9._/-]*$/, 'must be a branch name (letters, digits, . _ / -; not starting with -)');

const finding = z.strictObject({
  file: z.string().min(1).max(4096).describe('Path relative to the repository root'),
  line: z.number().int().positive().optional().describe('Line in the new version of the file'),
  severity: z.enum(SEVERITIES),
  text: text('What is wrong and what to do about it').pipe(z.string().max(5000)),
});

export const mergeReviewMethods = [
  defineMethod({
    name: 'merge.request',
    group: 'orch_merge',
    summary: "Ask for a feature to be reviewed and merged: the feature task plus its source worktrees (default: the caller's worktree).",
    params: z.strictObject({
      feature_task_id: id('Feature task (level=feature)'),
      source_worktree_ids: z
        .array(id('Worktree'))
        .min(1)
        .max(50)
        .optional()
        .describe("Worktrees carrying the work; default: the calling session's own worktree"),
      target_branch: branchName
        .optional()
        .describe('Branch to land on; default: target_branch in .codestrator/config.json, else the main branch'),
      reviewer_session: id('Reviewing session').optional(),
      notes: z.string().max(20_000).optional().describe('Anything the reviewer should know'),
      ...identity,
    }),
    example: { feature_task_id: 2, source_worktree_ids: [1], notes: 'Touches the login flow only' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => createMergeRequest(ctx, params),
  }),
  defineMethod({
    name: 'merge.review_context',
    group: 'orch_merge',
    summary:
      "What a reviewer needs: diff stat and capped diff per source against the target, commits, changed files, the feature's cases with steps and checkpoints, locks on touched paths, past reviews.",
    params: z.strictObject({
      merge_request_id: mergeRequestId,
      max_diff_bytes: z
        .number()
        .int()
        .min(0)
        .max(50_000_000)
        .optional()
        .describe(`Cap on all patches together (default ${DEFAULT_CONFIG.review_diff_max_bytes}, or review_diff_max_bytes in the config)`),
      ...identity,
    }),
    example: { merge_request_id: 1, max_diff_bytes: 100_000 },
    mutates: false,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => reviewContext(ctx, params),
  }),
  defineMethod({
    name: 'merge.review.submit',
    group: 'orch_merge',
    summary:
      'Record a review verdict: APPROVE, or BLOCK with findings (file, line, severity, text); moves the request and its merge-queue items on.',
    params: z.strictObject({
      merge_request_id: mergeRequestId,
      verdict: z.enum(VERDICTS),
      summary: text('The verdict in a sentence or two').pipe(z.string().max(20_000)).optional(),
      findings: z.array(finding).max(500).optional().describe('A BLOCK needs at least one finding or a summary'),
      ...identity,
    }),
    example: {
      merge_request_id: 1,
      verdict: 'BLOCK',
      summary: 'The redirect ignores the next parameter',
      findings: [{ file: 'src/auth/login.ts', line: 42, severity: 'major', text: 'Use the validated next URL, not /home.' }],
    },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => submitReview(ctx, params),
  }),
  defineMethod({
    name: 'merge.request.get',
    group: 'orch_merge',
    summary: 'One merge request: status, source worktrees and the latest review.',
    params: z.strictObject({ merge_request_id: mergeRequestId, ...identity }),
    example: { merge_request_id: 1 },
    mutates: false,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => getMergeRequest(ctx, params),
  }),
  defineMethod({
    name: 'merge.review.request_auto',
    group: 'orch_merge',
    summary:
      'Spawn a merge-reviewer child (in a worktree of the source branch) that reads merge.review_context and submits a verdict; the main-merge lock is left as it was.',
    params: z.strictObject({
      merge_request_id: id('Merge request'),
      runner: z.enum(['codex', 'codex_exec', 'claude', 'claude_exec', 'gemini', 'command', 'script']).optional().describe('Default codex'),
      command: z.array(z.string()).min(1).max(200).optional(),
      script_path: z.string().min(1).max(4096).optional(),
      model: z.string().max(200).optional(),
      ...identity,
    }),
    example: { merge_request_id: 1, runner: 'codex_exec' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => requestAutoReview(ctx, params),
  }),
  defineMethod({
    name: 'merge.review.thread_status',
    group: 'orch_merge',
    summary: 'A merge request’s status, latest verdict and its reviewer threads.',
    params: z.strictObject({ merge_request_id: id('Merge request') }),
    example: { merge_request_id: 1 },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => reviewThreadStatus(ctx, params),
  }),
];
