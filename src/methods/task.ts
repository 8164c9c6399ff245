import { z } from 'zod';
import { beginCase, checkStep, completeCase } from '../core/cases.js';
import { attachResumeCandidate, listResumeCandidates, resumeNext } from '../core/resume.js';
import { LEVELS, TASK_STATUSES, createTask, getTaskView, listTasks, updateTask } from '../core/tasks.js';
import { force, id, identity, paging, paths, text } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';
import { asOwnSession, continueSession } from '../core/session-match.js';
import { fingerprint, resumedSession } from './own-session.js';

const taskId = id('Task');
const caseId = id('Case (a level=case task)');
const stepTitles = z.array(text('Step title').pipe(z.string().max(500))).max(200);

/** The contract types input_contract as json: an object, or its JSON text; other text is kept as { text }. */
function contractObject(given: Record<string, unknown> | string | undefined) {
  if (given === undefined || typeof given === 'object') return given === undefined ? undefined : { value: given };
  try {
    const parsed: unknown = JSON.parse(given);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return { value: parsed as Record<string, unknown> };
  } catch {
    // Not JSON: kept as text below.
  }
  return { value: { text: given }, note: 'input_contract: the text is not a JSON object; it is stored as {"text": ...}.' };
}

export const taskMethods = [
  defineMethod({
    name: 'task.create',
    group: 'orch_task',
    summary: 'Create a ledger task: epic, feature (under an epic), test_group (under a feature) or case (under a test_group).',
    params: z.strictObject({
      level: z.enum(LEVELS),
      title: text('Task title, stored verbatim').pipe(z.string().max(2000)),
      parent_id: taskId.optional().describe('The task one level up; required except for epics'),
      priority: z.number().int().min(-1000).max(1000).optional().describe('Higher runs first (default 0)'),
      description: z.string().max(20_000).optional(),
      assignee_session: id('Assigned session').optional(),
      assignee_thread: id('Assigned thread').optional(),
      steps: stepTitles.optional().describe('Cases only: the planned step titles, checked with step.check'),
      depends_on: z.array(caseId).max(100).optional().describe('Cases only: cases that must be done first (unless given as fixtures)'),
      required_files: paths('Cases only: files the case needs').optional(),
      ...identity,
    }),
    example: { level: 'case', title: 'Login redirects to /home', parent_id: 3, steps: ['write failing test', 'fix redirect'] },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => createTask(ctx, params),
  }),
  defineMethod({
    name: 'task.list',
    group: 'orch_task',
    summary: 'List tasks filtered by level, status, parent, assignee or owner; pages with limit and cursor.',
    params: z.strictObject({
      level: z.enum(LEVELS).optional(),
      status: z.enum(TASK_STATUSES).optional(),
      parent_id: taskId.optional(),
      assignee_session: id('Assigned session').optional(),
      assignee_thread: id('Assigned thread').optional(),
      owner: z
        .string()
        .regex(/^(session|thread):[1-9][0-9]*$/)
        .optional()
        .describe('Owner key, e.g. session:3 or thread:7'),
      ...paging,
    }),
    example: { level: 'case', status: 'todo', limit: 20 },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listTasks(ctx, params),
  }),
  defineMethod({
    name: 'task.get',
    group: 'orch_task',
    summary: 'One task with its children counts; for a case also its steps and latest checkpoint.',
    params: z.strictObject({ task_id: taskId }),
    example: { task_id: 1 },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => getTaskView(ctx, params),
  }),
  defineMethod({
    name: 'task.update',
    group: 'orch_task',
    summary: 'Change title, description, priority, status, assignee, planned steps or dependencies of a task.',
    params: z.strictObject({
      task_id: taskId,
      title: text('New title').pipe(z.string().max(2000)).optional(),
      description: z.string().max(20_000).nullable().optional(),
      priority: z.number().int().min(-1000).max(1000).optional(),
      status: z.enum(TASK_STATUSES).optional().describe('Cases: only todo, blocked or cancelled (begin/complete set the rest)'),
      assignee_session: id('Assigned session').nullable().optional().describe('null clears'),
      assignee_thread: id('Assigned thread').nullable().optional().describe('null clears'),
      steps: stepTitles.optional(),
      depends_on: z.array(caseId).max(100).optional(),
      ...identity,
      ...force,
    }),
    example: { task_id: 4, priority: 5, status: 'blocked' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => updateTask(ctx, params),
  }),
  defineMethod({
    name: 'case.begin',
    group: 'orch_task',
    summary: 'Claim a case atomically and start it; refused while another live owner holds it or dependencies are unfinished.',
    params: z.strictObject({
      case_id: caseId,
      input_contract: z
        .union([z.record(z.string(), z.unknown()), z.string().max(20_000)])
        .optional()
        .describe('What the case consumes: a JSON object (or its JSON text)'),
      fixtures: z
        .array(z.union([z.string().max(2000), z.number().int().positive()]))
        .max(100)
        .optional()
        .describe('Case ids whose output is supplied as a fixture, or free-text fixtures'),
      required_files: paths('Files this case needs to read or change').optional(),
      steps: stepTitles.optional().describe('Planned step titles (replaces the planned list)'),
      ...identity,
    }),
    example: { case_id: 4, input_contract: { endpoint: '/login' }, fixtures: [], required_files: ['src/auth/login.ts'] },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, input_contract, ...params }, ctx) => {
      const contract = contractObject(input_contract);
      const begun = beginCase(ctx, { ...params, ...(contract ? { input_contract: contract.value } : {}) });
      return contract?.note ? { ...begun, notes: [contract.note] } : begun;
    },
  }),
  defineMethod({
    name: 'step.check',
    group: 'orch_task',
    summary: 'Record one step of your active case with its real result (pass, fail or skip); writes a checkpoint.',
    params: z.strictObject({
      case_id: caseId,
      step_title: text('The step, e.g. a planned step title').pipe(z.string().max(500)),
      result: z.enum(['pass', 'fail', 'skip']),
      notes: z.string().max(20_000).optional().describe('Evidence: test output summary, error, why skipped'),
      artifacts: z.array(z.string().max(2000)).max(100).optional().describe('Paths or URLs of logs, screenshots'),
      required_files: paths('Files the case needs from now on').optional(),
      ...identity,
      ...force,
    }),
    example: { case_id: 4, step_title: 'write failing test', result: 'pass', notes: '1 failing as expected' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => checkStep(ctx, params),
  }),
  defineMethod({
    name: 'case.complete',
    group: 'orch_task',
    summary: 'Finish your active case with a summary and the next action; writes a checkpoint and closes your current ref.',
    params: z.strictObject({
      case_id: caseId,
      summary: text('What was done and verified').pipe(z.string().max(20_000)),
      next_action: text('What should happen next (e.g. merge, follow-up case)').pipe(z.string().max(5000)),
      required_files: paths('Files touched').optional(),
      ...identity,
      ...force,
    }),
    example: { case_id: 4, summary: 'Redirect fixed; test passes', next_action: 'merge to session root' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => completeCase(ctx, params),
  }),
  defineMethod({
    name: 'resume.next',
    group: 'orch_task',
    summary: "Your next case: your own active case first, else the best ready case in your scope (never another owner's active case).",
    params: z.strictObject({
      scope_task_ids: z.array(taskId).max(100).optional().describe('Limit to cases under these tasks'),
      scope_case_ids: z.array(caseId).max(500).optional().describe('Limit to these cases'),
      terminal_fingerprint: fingerprint,
      ...identity,
    }),
    example: {},
    mutates: false,
    adoptSession: resumedSession,
    handler: ({ session_id: _s, thread_id: _t, terminal_fingerprint, ...params }, ctx) =>
      asOwnSession(
        ctx,
        terminal_fingerprint,
        (own) => resumeNext(own, params),
        // Not tied to a session: the next ready case for anyone, and the sessions that may be the caller's.
        (answer) => (answer.candidates.length > 0 ? { ...resumeNext(ctx, params), ...answer } : resumeNext(ctx, params)),
      ),
  }),
  defineMethod({
    name: 'resume.candidates.list',
    group: 'orch_task',
    summary: 'Suspended sessions of this repository (silent past the heartbeat timeout, with active work) that can be taken over.',
    params: z.strictObject({
      requester_session_id: id('Your session'),
      heartbeat_timeout_seconds: z.number().int().min(1).max(86_400).optional().describe("Default: each session's own timeout"),
    }),
    example: { requester_session_id: 2 },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => {
      const items = listResumeCandidates(ctx, {
        requesterSessionId: params.requester_session_id,
        timeoutSeconds: params.heartbeat_timeout_seconds,
      });
      return { items, count: items.length };
    },
  }),
  defineMethod({
    name: 'resume.candidates.attach',
    group: 'orch_task',
    summary: 'Take over a suspended session: its worktree, current ref, active case and locks (compare-and-swap; one winner).',
    params: z.strictObject({
      requester_session_id: id("Your session (default: this server's); with none, you continue the target as yourself").optional(),
      target_session_id: id('The suspended session'),
      heartbeat_timeout_seconds: z.number().int().min(1).max(86_400).optional(),
    }),
    example: { requester_session_id: 2, target_session_id: 1 },
    mutates: true,
    identity: 'env',
    adoptSession: (result) => (result as { session?: { id?: number } }).session?.id,
    handler: ({ requester_session_id, ...params }, ctx) => {
      const requester = requester_session_id ?? ctx.actor.sessionId;
      return requester === undefined
        ? continueSession(ctx, params.target_session_id)
        : attachResumeCandidate(ctx, { ...params, requester_session_id: requester });
    },
  }),
];
