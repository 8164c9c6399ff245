import { z } from 'zod';
import { ROLES } from '../core/prompts.js';
import { DIRECTIVE_MODES, directChild, interruptChild, stopChild } from '../core/thread-control.js';
import { childStatus, listChildren, reportThread, waitStatus } from '../core/thread-status.js';
import { spawnChild } from '../core/threads.js';
import { ensureRoot, ensureTmux } from '../core/thread-root.js';
import { force, id, identity, paging, text } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';

const threadId = id('Child thread');
const RUNNERS = ['codex', 'codex_exec', 'claude', 'claude_exec', 'gemini', 'command', 'script'] as const;
const strings = (max: number) => z.array(z.string().max(2000)).max(max);

export const threadMethods = [
  defineMethod({
    name: 'thread.child.spawn',
    group: 'orch_thread',
    summary:
      'Start a child agent in its own worktree and tmux window (runner codex, codex_exec, claude, claude_exec, gemini, command or script); returns at once.',
    params: z.strictObject({
      runner: z.enum(RUNNERS).optional().describe('Default codex'),
      role: z.enum(ROLES).optional().describe('Prompt template (default worker)'),
      title: z.string().max(500).optional(),
      objective: z.string().max(20_000).optional(),
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
      initial_prompt: z.string().max(200_000).optional().describe('Replaces the template-built prompt'),
      command: z.array(z.string()).min(1).max(200).optional().describe('For runner command: the argv'),
      script_path: z.string().min(1).max(4096).optional().describe('For runner script: the JSON script'),
      model: z.string().max(200).optional(),
      max_concurrent_children: z.number().int().min(1).max(64).optional().describe('Default 6'),
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
    handler: (params, ctx) =>
      ensureRoot(ctx, {
        attachOnly: true,
        ...(params.thread_id !== undefined ? { attach_thread_id: params.thread_id } : {}),
        ...(params.session_id !== undefined ? { session_id: params.session_id } : {}),
      }),
  }),
  defineMethod({
    name: 'thread.child.directive',
    group: 'orch_thread',
    summary:
      'Steer a child: interrupt_patch (default: Ctrl-C then the text), queue (delivered at its next step), restart (respawn with the text added).',
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
    summary: 'Stop a child: its own exit, then SIGTERM and SIGKILL to its process group; terminate_pane also closes its window.',
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
    summary: "Your session's root thread, its tmux viewer session name and tmux availability.",
    params: z.strictObject({ ...identity }),
    example: {},
    mutates: false,
    handler: (_params, ctx) => ensureRoot(ctx, {}),
  }),
  defineMethod({
    name: 'runtime.tmux.ensure',
    group: 'orch_system',
    summary:
      'Whether tmux is present (and its version); installs it only when auto_install is true and no prompt is needed, else says how.',
    params: z.strictObject({ auto_install: z.boolean().optional().describe('Default false') }),
    example: {},
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => ensureTmux(ctx, params),
  }),
];
