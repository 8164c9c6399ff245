import { z } from 'zod';
import { MIRROR_ROLE, mirrorStatus, refreshMirror } from '../core/mirror.js';
import { invalid } from '../core/errors.js';
import { recoverInterrupted } from '../core/recovery.js';
import { type Group, GROUPS, defineMethod } from '../registry/define.js';
import { describeMethod } from '../registry/describe.js';
import { closestNames } from '../registry/suggest.js';
import { bundleInfo } from '../registry/bundle-info.js';

export const systemMethods = [
  defineMethod({
    name: 'system.describe',
    group: 'orch_system',
    summary: 'Without method: every method with its tool and summary. With method: its params JSON Schema and an example call.',
    params: z.strictObject({
      method: z.string().optional().describe('A method name, e.g. case.begin'),
      group: z.enum(GROUPS).optional().describe('Only the methods of this tool'),
    }),
    example: { method: 'case.begin' },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => {
      if (params.method !== undefined) {
        const def = ctx.registry.methods.get(params.method);
        if (!def) {
          const near = closestNames(params.method, [...ctx.registry.methods.keys()]);
          throw invalid(
            `Unknown method ${JSON.stringify(params.method)}.`,
            'method',
            near.length ? `Did you mean ${near.join(' or ')}?` : undefined,
          );
        }
        return describeMethod(def);
      }
      const groups = params.group ? [params.group] : GROUPS;
      const items = groups.flatMap((group: Group) =>
        ctx.registry.byGroup(group).map((def) => ({ method: def.name, tool: def.group, summary: def.summary, mutates: def.mutates })),
      );
      return { items, count: items.length, hint: 'Call system.describe with {"method": "<name>"} for its params schema and an example.' };
    },
  }),
  defineMethod({
    name: 'runtime.bundle.info',
    group: 'orch_system',
    summary: 'Version of codestrator, schema version, and where its state, skills and templates are.',
    params: z.strictObject({}),
    example: {},
    mutates: false,
    identity: 'none',
    handler: (_params, ctx) => bundleInfo(ctx),
  }),
  defineMethod({
    name: 'mirror.status',
    group: 'orch_system',
    summary: 'Whether the Markdown mirror is behind the ledger (heartbeats do not count as changes).',
    params: z.strictObject({}),
    example: {},
    mutates: false,
    identity: 'none',
    handler: (_params, ctx) => mirrorStatus(ctx),
  }),
  defineMethod({
    name: 'mirror.refresh',
    group: 'orch_system',
    summary: `Write the deterministic Markdown mirror of the ledger under .codestrator/mirror/ (requester_role must be ${MIRROR_ROLE}).`,
    params: z.strictObject({
      requester_role: z.string().describe(`Must be ${MIRROR_ROLE}`),
      target_path: z.string().max(500).optional().describe('A .md file name inside .codestrator/mirror/ (default status.md)'),
    }),
    example: { requester_role: MIRROR_ROLE },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => refreshMirror(ctx, params),
  }),
  defineMethod({
    name: 'system.doctor',
    group: 'orch_system',
    summary: 'Find work a dead process left (locks, worktrees being created, queue items, gates); apply: true repairs it.',
    params: z.strictObject({
      apply: z.boolean().optional().describe('Repair what is found (default false: only list it)'),
    }),
    example: { apply: false },
    mutates: true,
    identity: 'none',
    handler: (params, ctx) => recoverInterrupted(ctx, { apply: params.apply === true }),
  }),
];
