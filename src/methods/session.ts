import { z } from 'zod';
import { closeSession, cleanupSessions, heartbeatSession, listSessions, openSession, sessionContext } from '../core/sessions.js';
import { defineMethod } from '../registry/define.js';
import { force, id, paging } from '../registry/common-params.js';
import { workspaceInit } from '../core/workspace-info.js';

const sessionId = id('Session');

export const sessionMethods = [
  defineMethod({
    name: 'workspace.init',
    group: 'orch_session',
    summary: 'Prepare the state directory and database for this repository (idempotent); returns their paths.',
    params: z.strictObject({}),
    example: {},
    mutates: true,
    identity: 'none',
    handler: (_params, ctx) => workspaceInit(ctx),
  }),
  defineMethod({
    name: 'session.open',
    group: 'orch_session',
    summary:
      'Open a session. new_work/auto creates its own worktree and branch from the main branch; resume_work lists suspended sessions to take over.',
    params: z.strictObject({
      intent: z.enum(['new_work', 'resume_work', 'auto']).optional().describe('Default auto (= new_work)'),
      user_request: z.string().max(20_000).optional().describe('What the user asked for; names the worktree'),
      worktree_name: z.string().max(200).optional().describe('Preferred worktree name (1–2 words are kept)'),
      always_branch: z.boolean().optional().describe('Default true; false works in the main checkout'),
      agent_role: z.string().max(200).optional(),
      owner: z.string().max(200).optional(),
      terminal_fingerprint: z.string().max(500).optional(),
      heartbeat_timeout_seconds: z
        .number()
        .int()
        .min(10)
        .max(86_400)
        .optional()
        .describe('Silence after which the session counts as suspended (default 300)'),
    }),
    example: { intent: 'new_work', user_request: 'Fix the login redirect loop', worktree_name: 'login fix' },
    mutates: true,
    // The server's own session (if any) is the caller: opening again returns it while it holds a case.
    identity: 'env',
    fenced: false,
    adoptSession: (result) => (result as { session?: { id?: number; status?: string } }).session?.id,
    handler: (params, ctx) => openSession(ctx, params),
  }),
  defineMethod({
    name: 'session.heartbeat',
    group: 'orch_session',
    summary: 'Mark the session as alive (any call made as the session also does).',
    params: z.strictObject({ session_id: sessionId, ...force }),
    example: { session_id: 1 },
    mutates: true,
    identity: 'env',
    handler: (params, ctx) => heartbeatSession(ctx, params),
  }),
  defineMethod({
    name: 'session.close',
    group: 'orch_session',
    summary: 'Close the session: releases its locks and stops its threads; its worktree stays for merge or gc.',
    params: z.strictObject({ session_id: sessionId, ...force }),
    example: { session_id: 1 },
    mutates: true,
    identity: 'env',
    // Closing is how a fenced session ends cleanly: closing it again answers already_closed.
    fenced: false,
    handler: (params, ctx) => closeSession(ctx, params),
  }),
  defineMethod({
    name: 'session.context',
    group: 'orch_session',
    summary: 'The session, its worktree, the main checkout and its compact current ref.',
    params: z.strictObject({ session_id: sessionId }),
    example: { session_id: 1 },
    mutates: false,
    identity: 'env',
    handler: (params, ctx) => sessionContext(ctx, params),
  }),
  defineMethod({
    name: 'session.list',
    group: 'orch_session',
    summary: "This repository's sessions (open ones unless include_closed), with a live flag.",
    params: z.strictObject({
      status: z.enum(['awaiting_resume', 'active', 'handoff_attached', 'closed']).optional(),
      include_closed: z.boolean().optional(),
      ...paging,
    }),
    example: {},
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listSessions(ctx, params),
  }),
  defineMethod({
    name: 'session.cleanup',
    group: 'orch_session',
    summary: 'Close one session, or every session whose heartbeat expired: releases locks, stops threads.',
    params: z.strictObject({ session_id: sessionId.optional(), ...force }),
    example: {},
    mutates: true,
    identity: 'env',
    handler: (params, ctx) => cleanupSessions(ctx, params),
  }),
];
