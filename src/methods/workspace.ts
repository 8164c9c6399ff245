import { z } from 'zod';
import { DEFAULT_CONFIG } from '../core/config.js';
import { acquireLock, heartbeatLock, listLocks, releaseLock } from '../core/locks.js';
import { decideWorktree } from '../core/scheduler.js';
import { force, id, identity, paging, paths } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';

const ttl = z
  .number()
  .int()
  .min(1)
  .max(86_400)
  .optional()
  .describe(`Lease in seconds (default ${DEFAULT_CONFIG.lock_ttl_seconds}, or lock_ttl_seconds in .codestrator/config.json)`);
const count = z.number().int().min(0).max(100_000).optional();

export const workspaceMethods = [
  defineMethod({
    name: 'scheduler.decide_worktree',
    group: 'orch_workspace',
    summary: 'Decide shared checkout vs separate worktree from size, risk and parallelism; counts paths locked by others.',
    params: z.strictObject({
      changed_files: count,
      estimate_minutes: count,
      risk: z.number().int().min(0).max(10).optional(),
      parallel_workers: count,
      conflicting_paths: count,
      paths: paths('Paths the work will touch').optional(),
      task_id: id('Task whose cases name required_files').optional(),
      ...identity,
    }),
    example: { changed_files: 6, estimate_minutes: 60, risk: 2, parallel_workers: 2, paths: ['src/auth'] },
    mutates: false,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => decideWorktree(ctx, params),
  }),
  defineMethod({
    name: 'lock.acquire',
    group: 'orch_workspace',
    summary: 'Lock a file or a path prefix for the caller with a lease; conflicts name the holder and its expiry; re-entrant.',
    params: z.strictObject({
      scope_type: z.enum(['file', 'prefix']),
      scope_path: z.string().min(1).max(4096).describe('Relative to the repository root (or absolute inside a worktree)'),
      ttl_seconds: ttl,
      owner_session: z
        .union([id('Session'), z.string().regex(/^((session|thread):)?[1-9][0-9]*$/)])
        .optional()
        .describe(
          'The owner, which must be the caller: a session id, session:<id> or thread:<id>; names the caller when nothing else does',
        ),
      ...identity,
    }),
    example: { scope_type: 'prefix', scope_path: 'src/auth', ttl_seconds: 600 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, owner_session: _o, ...params }, ctx) => acquireLock(ctx, params),
  }),
  defineMethod({
    name: 'lock.heartbeat',
    group: 'orch_workspace',
    summary: 'Extend the lease of a lock you hold (an expired lease is not revived).',
    params: z.strictObject({ lock_id: id('Lock'), ttl_seconds: ttl, ...identity, ...force }),
    example: { lock_id: 1 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => heartbeatLock(ctx, params),
  }),
  defineMethod({
    name: 'lock.release',
    group: 'orch_workspace',
    summary: 'Release a lock you hold (idempotent).',
    params: z.strictObject({ lock_id: id('Lock'), ...identity, ...force }),
    example: { lock_id: 1 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => releaseLock(ctx, params),
  }),
  defineMethod({
    name: 'lock.list',
    group: 'orch_workspace',
    summary: 'Live locks, optionally of one owner or covering a path; include_inactive adds released and expired ones.',
    params: z.strictObject({
      owner: z
        .string()
        .regex(/^(session|thread):[1-9][0-9]*$/)
        .optional()
        .describe('Owner key, e.g. session:3'),
      path: z.string().min(1).max(4096).optional().describe('Only locks that conflict with this path'),
      include_inactive: z.boolean().optional(),
      ...paging,
    }),
    example: { path: 'src/auth/login.ts' },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listLocks(ctx, params),
  }),
];
