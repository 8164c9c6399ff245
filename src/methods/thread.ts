import { z } from 'zod';
import { DIRECTIVE_MODES, directChild, interruptChild, stopChild } from '../core/thread-control.js';
import { childStatus, listChildren, reportThread, waitStatus } from '../core/thread-status.js';
import { RUNNER_NAMES } from '../core/thread-inputs.js';
import { spawnChild } from '../core/threads.js';
import { attachInfoFor, ensureRoot, ensureTmux } from '../core/thread-root.js';
import { force, id, identity, paging, text } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';

const threadId = id('Child thread');
const strings = (max: number) => z.array(z.string().max(2000)).max(max);
/** tmux session and window names: no `.` or `:` (tmux target syntax), nothing a person has to quote. */
const tmuxName = (what: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,80}$/, 'letters, digits, _ and - only')
    .describe(what);
/** An argv, or one command line split into words (quotes honoured, nothing expanded, no shell). */
const argvOrLine = (what: string) =>
  z.union([z.array(z.string().max(10_000)).min(1).max(200), z.string().min(1).max(10_000)]).describe(what);
const role = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'a role name: letters, digits, _ and -')
  .describe('Prompt template (default worker); other names use the worker template and keep the name');
/** Contract inputs shared by thread.child.spawn and thread.root.ensure. */
const launchInputs = {
  title: z.string().max(500).optional(),
  objective: z.string().max(20_000).optional(),
  ensure_tmux: z.boolean().optional().describe('Default true: install tmux if missing, where no password is needed'),
  auto_install: z.boolean().optional().describe('Default true'),
  tmux_session_name: tmuxName('Viewer tmux session').optional(),
  tmux_window_name: tmuxName('Window name (default children)').optional(),
  initial_prompt: z.string().max(200_000).optional().describe('Replaces the template-built prompt'),
  launch_command: argvOrLine('Run as the command runner (argv, or a line split into words)').optional(),
  codex_command: argvOrLine('Replaces the codex program (argv or words)').optional(),
  launch_codex: z.boolean().optional().describe('Default true; false: no agent started'),
};

export const threadMethods = [
  defineMethod({
    name: 'thread.child.spawn',
    group: 'orch_thread',
    summary: 'Start a child agent (codex, claude, gemini, command, script) in its own worktree, as a pane of the session’s tmux window.',
    params: z.strictObject({
      runner: z.enum(RUNNER_NAMES).optional().describe('Default codex'),
      runner_kind: z.string().max(100).optional().describe('agents_sdk_codex_mcp (= codex) or a runner name'),
      interaction_mode: z.string().max(50).optional().describe('view_only (people attach read-only)'),
      role: role.optional(),
      ...launchInputs,
      parent_thread_id: id('Parent thread (default: your root thread)').optional(),
      task_id: id('Task the child works on').optional(),
      worktree_id: id('Existing worktree to use (default: a new one from your session root)').optional(),
      scope_task_ids: z.array(id('Task')).max(100).optional(),
      scope_case_ids: z.array(id('Case')).max(500).optional(),
      task_spec: z.record(z.string(), z.unknown()).optional(),
      context_pack: z
        .strictObject({
          goal: z.string().optional(),
          non_goals: strings(50).optional(),
          constraints: strings(50).optional(),
          pointers: strings(100).optional(),
          success_check: z.string().optional(),
        })
        .optional(),
      agent_guide_path: z.string().min(1).max(4096).optional().describe('A repository file the child reads first'),
      agent_override: z
        .union([z.string().max(20_000), z.record(z.string(), z.unknown())])
        .optional()
        .describe('Raw JSON, stored; its runner/command/model keys apply'),
      split_direction: z.enum(['vertical', 'horizontal']).optional().describe('Pane layout (default tiled)'),
      command: z.array(z.string()).min(1).max(200).optional().describe('For runner command: the argv'),
      script_path: z.string().min(1).max(4096).optional().describe('For runner script: the JSON script'),
      model: z.string().max(200).optional(),
      max_concurrent_children: z.number().int().min(1).max(64).optional().describe('Live children cap; at most the config ceiling'),
      ...identity,
    }),
    example: { runner: 'codex', role: 'worker', title: 'Login redirect', task_id: 4, scope_case_ids: [4] },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => spawnChild(ctx, params),
  }),
  defineMethod({
    name: 'thread.child.list',
    group: 'orch_thread',
    summary: "Your session's children with their status (ended runners and vanished panes are noticed on read).",
    params: z.strictObject({
      parent_thread_id: id('Parent thread').optional(),
      status: z.string().max(50).optional(),
      role: z.string().max(100).optional(),
      ...identity,
      ...paging,
    }),
    example: { status: 'running' },
    mutates: true,
    handler: ({ thread_id: _t, ...params }, ctx) => listChildren(ctx, params),
  }),
  defineMethod({
    name: 'thread.child.status',
    group: 'orch_thread',
    summary: 'One child: status and reason, runner, worktree, attach command and the last lines of its pane.',
    params: z.strictObject({ thread_id: threadId, output_lines: z.number().int().min(0).max(500).optional() }),
    example: { thread_id: 2 },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => childStatus(ctx, params),
  }),
  defineMethod({
    name: 'thread.child.wait_status',
    group: 'orch_thread',
    summary:
      'Wait (at most timeout_seconds, default 30, max 300) until the children reach one of the statuses (default completed, failed, stopped).',
    params: z.strictObject({
      thread_ids: z.array(threadId).min(1).max(64),
      statuses: z
        .array(z.enum(['starting', 'running', 'blocked', 'completed', 'failed', 'stopped']))
        .min(1)
        .optional(),
      timeout_seconds: z.number().int().min(0).max(300).optional(),
    }),
    example: { thread_ids: [2, 3], timeout_seconds: 60 },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => waitStatus(ctx, params),
  }),
  defineMethod({
    name: 'thread.attach_info',
    group: 'orch_thread',
    summary: 'The read-only tmux attach command (quoted) for a child, or for a session’s viewer.',
    params: z.strictObject({ thread_id: threadId.optional(), session_id: id('Session').optional() }),
    example: { thread_id: 2 },
    mutates: false,
    identity: 'env',
    handler: (params, ctx) => attachInfoFor(ctx, params),
  }),
  defineMethod({
    name: 'thread.child.directive',
    group: 'orch_thread',
    summary:
      'Steer a child: interrupt_patch (default: Ctrl-C then the text; queued if it reads no input), queue (at its next step), restart (respawn).',
    params: z.strictObject({
      thread_id: threadId,
      mode: z.enum(DIRECTIVE_MODES).optional(),
      text: text('The directive').pipe(z.string().max(50_000)),
      ...force,
    }),
    example: { thread_id: 2, mode: 'queue', text: 'Also cover the logout path.' },
    mutates: true,
    // thread_id names the child to steer; the caller is the server's own identity.
    identity: 'env',
    handler: (params, ctx) => directChild(ctx, params),
  }),
  defineMethod({
    name: 'thread.child.interrupt',
    group: 'orch_thread',
    summary: 'Send Ctrl-C to a child’s runner.',
    params: z.strictObject({ thread_id: threadId, ...force }),
    example: { thread_id: 2 },
    mutates: true,
    // thread_id names the child to steer; the caller is the server's own identity.
    identity: 'env',
    handler: (params, ctx) => interruptChild(ctx, params),
  }),
  defineMethod({
    name: 'thread.child.stop',
    group: 'orch_thread',
    summary: 'Stop a child: its own exit, then SIGTERM and SIGKILL to its process group; terminate_pane also closes its pane.',
    params: z.strictObject({ thread_id: threadId, terminate_pane: z.boolean().optional(), ...force }),
    example: { thread_id: 2, terminate_pane: true },
    mutates: true,
    // thread_id names the child to steer; the caller is the server's own identity.
    identity: 'env',
    handler: (params, ctx) => stopChild(ctx, params),
  }),
  defineMethod({
    name: 'thread.report',
    group: 'orch_thread',
    summary: 'A child reports to its root: progress, blocked, done or failed, with a line of text (done/failed end its work).',
    params: z.strictObject({
      state: z.enum(['progress', 'blocked', 'done', 'failed']),
      text: text('What happened').pipe(z.string().max(20_000)),
      ...identity,
    }),
    example: { state: 'done', text: 'Case 4 complete; tests pass.' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => reportThread(ctx, params),
  }),
  defineMethod({
    name: 'thread.root.ensure',
    group: 'orch_thread',
    summary: "Your session's root thread (the calling CLI), tmux availability and where its children are watched.",
    params: z.strictObject({
      role: z.string().max(100).optional(),
      ...launchInputs,
      force_launch: z.boolean().optional(),
      child_session_name: tmuxName('Viewer tmux session for the children').optional(),
      ...identity,
    }),
    example: {},
    mutates: true,
    handler: ({ thread_id: _t, ...params }, ctx) => ensureRoot(ctx, params),
  }),
  defineMethod({
    name: 'runtime.tmux.ensure',
    group: 'orch_system',
    summary: 'tmux present (ready), installed where no password is needed (installed), or manual_required with the exact commands.',
    params: z.strictObject({
      auto_install: z.boolean().optional().describe('Default true; never prompts'),
      session_id: id('Session (accepted; tmux is per machine)').optional(),
    }),
    example: {},
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => ensureTmux(ctx, params),
  }),
];
