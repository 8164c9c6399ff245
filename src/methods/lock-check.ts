import { z } from 'zod';
import { checkPaths } from '../core/lock-check.js';
import { identity } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';

/** lock.check: the read-only question the pre-commit hook asks, open to agents before they edit. */
export const lockCheckMethods = [
  defineMethod({
    name: 'lock.check',
    group: 'orch_workspace',
    summary:
      'Which of these paths are locked by another owner (holder, scope and expiry per path); ok is true when none. The pre-commit hook of codestrator worktrees asks this.',
    params: z.strictObject({
      paths: z
        .array(z.string().min(1).max(4096))
        .min(1)
        .max(10_000)
        .describe('Paths relative to the repository root (or absolute inside a worktree); a directory covers everything under it'),
      worktree_path: z
        .string()
        .min(1)
        .max(4096)
        .optional()
        .describe('Absolute path of the checkout; without session_id/thread_id, the owner of that codestrator worktree is the caller'),
      ...identity,
    }),
    example: { paths: ['src/auth/login.ts', 'docs/guide.md'] },
    mutates: false,
    identity: 'params',
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => checkPaths(ctx, params),
  }),
];
