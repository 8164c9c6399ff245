import { z } from 'zod';
import { ackCurrentRef, currentRef } from '../core/current-ref.js';
import { force, id, identity, paths } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';
import { asOwnSession } from '../core/session-match.js';
import { fingerprint, resumedSession } from './own-session.js';

/** Whether a work.current_ref call records (a checkpoint) rather than only reads. */
const records = (params: { next_action?: string; summary?: string; required_files?: string[] }) =>
  params.next_action !== undefined || params.summary !== undefined || params.required_files !== undefined;

export const lifecycleMethods = [
  defineMethod({
    name: 'work.current_ref',
    group: 'orch_lifecycle',
    summary:
      'Your resume point (compact < 1 KB, resume, or handoff); with next_action/summary/required_files it records a checkpoint first.',
    params: z.strictObject({
      mode: z
        .enum(['compact', 'resume', 'handoff'])
        .optional()
        .describe(
          'compact (default): minimum to continue; resume: + steps and input contract; handoff: + parents, fixtures, locks, worktree',
        ),
      next_action: z.string().max(5000).optional(),
      summary: z.string().max(20_000).optional(),
      required_files: paths('Files needed to continue').optional(),
      terminal_fingerprint: fingerprint,
      ...identity,
    }),
    example: { mode: 'compact' },
    mutates: true,
    // A closed or taken-over session may still read where its work went; only recording is refused.
    fenced: records,
    adoptSession: resumedSession,
    handler: ({ session_id: _s, thread_id: _t, terminal_fingerprint, ...params }, ctx) =>
      asOwnSession(
        ctx,
        terminal_fingerprint,
        (own) => currentRef(own, params),
        (answer) => ({
          source: 'unidentified',
          owner: null,
          current_ref: null,
          ...answer,
          ...(records(params)
            ? { notes: ['next_action/summary/required_files: not recorded, since no session is tied to this caller yet.'] }
            : {}),
        }),
      ),
  }),
  defineMethod({
    name: 'work.current_ref.ack',
    group: 'orch_lifecycle',
    summary: 'Acknowledge that you loaded your current ref (optionally a specific version).',
    params: z.strictObject({ ref_id: id('Current ref'), version: z.number().int().positive().optional(), ...identity, ...force }),
    example: { ref_id: 1 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => ackCurrentRef(ctx, params),
  }),
];
