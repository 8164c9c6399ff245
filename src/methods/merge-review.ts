import { z } from 'zod';
import { type ChildAgent, DEFAULT_CONFIG } from '../core/config.js';
import { invalid } from '../core/errors.js';
import { SEVERITIES, VERDICTS, createMergeRequest, getMergeRequest, submitReview } from '../core/merge-requests.js';
import { reviewContext } from '../core/review-context.js';
import { requestAutoReview, reviewThreadStatus } from '../core/review-dispatch.js';
import { id, identity, text } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';

const mergeRequestId = id('Merge request');

const RUNNERS = ['codex', 'codex_exec', 'claude', 'claude_exec', 'gemini', 'command', 'script'] as const;
/** The contract's runner kinds: its default agents_sdk_codex_mcp is the codex runner. */
const RUNNER_KINDS = ['agents_sdk_codex_mcp', ...RUNNERS] as const;

/** The reviewer child's role (its prompt template when one has that name). */
export const reviewerRole = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a role name (letters, digits, . _ -)')
  .describe('Role of the reviewer child (default merge-reviewer)');
export const guidePath = z.string().min(1).max(4096).describe('A guide file the reviewer is told to read');

/** Raw JSON as the contract passes it: a JSON string, or the value itself. */
const rawJson = (description: string) =>
  z.union([z.string().max(100_000), z.record(z.string(), z.unknown()), z.array(z.unknown())]).describe(description);

/** The text of a raw-JSON input: a string must parse; a value is serialised. */
function jsonText(value: unknown, field: string): { text: string; value: unknown } {
  if (typeof value !== 'string') return { text: JSON.stringify(value), value };
  try {
    return { text: value, value: JSON.parse(value) as unknown };
  } catch (err) {
    throw invalid(`${field} is not valid JSON: ${(err as Error).message}`, field, 'Pass a JSON object, or a string holding one.');
  }
}

const overrideAgent = z.strictObject({
  runner: z.enum(RUNNERS),
  command: z.array(z.string()).min(1).max(200).optional(),
  script_path: z.string().min(1).max(4096).optional(),
  model: z.string().min(1).max(200).optional(),
});

/** agent_override: an object naming a runner chooses the reviewer's agent (checked strictly); anything else is stored only. */
function parseOverride(value: unknown): { raw: string; agent?: ChildAgent } {
  const json = jsonText(value, 'agent_override');
  const named = json.value !== null && typeof json.value === 'object' && !Array.isArray(json.value) && 'runner' in json.value;
  if (!named) return { raw: json.text };
  const parsed = overrideAgent.safeParse(json.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = [...issue.path, ...('keys' in issue ? (issue.keys as string[]) : [])].join('.');
    throw invalid(
      `agent_override${where ? `.${where}` : ''}: ${issue.message}`,
      'agent_override',
      `An agent_override with a runner chooses the reviewer: {runner: ${RUNNERS.join('|')}, command?, script_path?, model?}.`,
    );
  }
  const { runner, command, script_path, model } = parsed.data;
  return {
    raw: json.text,
    agent: { runner, ...(command ? { command } : {}), ...(script_path ? { script_path } : {}), ...(model ? { model } : {}) },
  };
}

interface AutoReviewParams {
  merge_request_id: number;
  reviewer_role?: string;
  agent_guide_path?: string;
  agent_override?: unknown;
  ensure_tmux?: boolean;
  auto_install?: boolean;
  runner_kind?: (typeof RUNNER_KINDS)[number];
  runner?: (typeof RUNNERS)[number];
  command?: string[];
  script_path?: string;
  model?: string;
}

/** The call's inputs in the core's terms: runner_kind mapped to a runner, agent_override parsed. */
function autoReviewInput(params: AutoReviewParams) {
  const { runner_kind: kind, runner, command, script_path, model, agent_override, ...rest } = params;
  const fromKind = kind === 'agents_sdk_codex_mcp' ? 'codex' : kind;
  if (runner !== undefined && fromKind !== undefined && runner !== fromKind)
    throw invalid(`runner ${runner} and runner_kind ${kind} disagree.`, 'runner_kind', 'Pass one of them.');
  const chosen = runner ?? fromKind;
  const agent = {
    ...(chosen !== undefined ? { runner: chosen } : {}),
    ...(command ? { command } : {}),
    ...(script_path ? { script_path } : {}),
    ...(model ? { model } : {}),
  };
  return { ...rest, agent, ...(agent_override !== undefined ? { agent_override: parseOverride(agent_override) } : {}) };
}

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
    summary: 'Ask for a feature to be reviewed and merged: the feature task plus its source worktrees (default: yours).',
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
      notes_json: rawJson('Structured notes for the reviewer (raw JSON: a JSON string or a value); shown beside notes').optional(),
      ...identity,
    }),
    example: { feature_task_id: 2, source_worktree_ids: [1], notes: 'Touches the login flow only' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, notes_json, ...params }, ctx) =>
      createMergeRequest(ctx, { ...params, ...(notes_json !== undefined ? { notes_json: jsonText(notes_json, 'notes_json').text } : {}) }),
  }),
  defineMethod({
    name: 'merge.review_context',
    group: 'orch_merge',
    summary:
      "What a reviewer needs: capped diff per source, commits, changed files, the feature's cases with steps, locks on touched paths, past reviews.",
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
    summary: 'Record APPROVE, or BLOCK with findings (file, line, severity, text); moves the request and its queue items on.',
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
    summary: 'Under your main-merge lock, spawn a reviewer child that submits a verdict; returns its review job (reuses a running one).',
    params: z.strictObject({
      merge_request_id: mergeRequestId,
      reviewer_role: reviewerRole.optional(),
      agent_guide_path: guidePath.optional(),
      agent_override: rawJson('Raw JSON stored on the review job; an object with a runner chooses the agent').optional(),
      ensure_tmux: z.boolean().optional().describe('Passed to the spawn'),
      auto_install: z.boolean().optional().describe('Passed to the spawn'),
      runner_kind: z.enum(RUNNER_KINDS).optional().describe('agents_sdk_codex_mcp = codex'),
      runner: z.enum(RUNNERS).optional().describe('Default: reviewer in the config, else codex'),
      command: z.array(z.string()).min(1).max(200).optional(),
      script_path: z.string().min(1).max(4096).optional(),
      model: z.string().max(200).optional(),
      ...identity,
    }),
    example: { merge_request_id: 1, runner_kind: 'agents_sdk_codex_mcp' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => requestAutoReview(ctx, autoReviewInput(params)),
  }),
  defineMethod({
    name: 'merge.review.thread_status',
    group: 'orch_merge',
    summary: 'A review job, its reviewer thread and verdict; once it is in and you hold the lock, your approved items land.',
    params: z.strictObject({
      review_job_id: id('Review job').optional(),
      merge_request_id: mergeRequestId.optional().describe('Its latest review job'),
      ...identity,
    }),
    example: { review_job_id: 1 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => {
      if (params.review_job_id === undefined && params.merge_request_id === undefined)
        throw invalid(
          'merge.review.thread_status needs review_job_id or merge_request_id.',
          'review_job_id',
          'Pass the review_job.id from merge.review.request_auto.',
        );
      return reviewThreadStatus(ctx, params);
    },
  }),
];
