import { z } from 'zod';
import { runGc } from '../core/gc.js';
import { defineMethod } from '../registry/define.js';

/** Garbage collection of codestrator's worktrees (see core/gc.ts for the rules). */
export const gcMethods = [
  defineMethod({
    name: 'worktree.gc',
    group: 'orch_workspace',
    summary:
      'List (dry run, the default) or, with apply, remove worktrees and branches of work merged into the target or abandoned clean; never dirty, unmerged, held or foreign ones.',
    params: z.strictObject({
      apply: z.boolean().optional().describe('Remove what the plan lists (default false: only list it)'),
      target_branch: z
        .string()
        .min(1)
        .max(255)
        .optional()
        .describe('Branch the work must be in (default: target_branch in .codestrator/config.json, else the main branch)'),
    }),
    example: { apply: false },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => runGc(ctx, params),
  }),
];
