import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync } from 'node:fs';
import { GROUPS, type Group, type Registry } from '../registry/define.js';

/** The legacy tool that takes any method, kept for clients written against the reference. */
export const LEGACY_TOOL = 'orchestrator.call';

const GROUP_PURPOSE: Record<Group, string> = {
  orch_session: 'Workspace and session lifecycle: init, open (creates your worktree), heartbeat, close, context, list, cleanup.',
  orch_task: 'Task ledger (epic → feature → test_group → case) and the case lifecycle: begin, step.check, complete, resume.',
  orch_graph: 'Planning graph: nodes, edges, checklists, snapshots.',
  orch_workspace: 'Isolation: worktree decisions and file/prefix locks with leases.',
  orch_thread: 'Child agents in tmux panes you watch read-only: spawn, status, directives, stop, reports; the tmux runtime.',
  orch_lifecycle: 'Your compact resume point (work.current_ref) after a restart or context compaction.',
  orch_merge: 'Merge requests, review and the main-merge queue (request, process, status, lock).',
  orch_inbox: 'Messages between threads.',
  orch_system: 'Describe methods (params schema + example), runtime info, Markdown mirror, planning (plan.*).',
};

function toolFor(group: Group, registry: Registry): Tool {
  const defs = registry.byGroup(group);
  const lines = defs.map((def) => `- ${def.name}: ${def.summary}`);
  const names = defs.map((def) => def.name);
  return {
    name: group,
    description: [
      GROUP_PURPOSE[group],
      names.length > 0 ? 'Methods:' : 'No methods yet.',
      ...lines,
      'Params are strict; orch_system system.describe {"method":"<name>"} gives the schema and an example.',
    ].join('\n'),
    inputSchema: {
      type: 'object',
      properties: {
        method: names.length > 0 ? { type: 'string', enum: names, description: 'The method to call' } : { type: 'string' },
        params: { type: 'object', description: "The method's params object", default: {} },
      },
      required: ['method'],
      additionalProperties: false,
    },
  };
}

/** tools/list: the nine group tools plus the legacy any-method tool, generated from the registry. */
export function buildTools(registry: Registry): Tool[] {
  return [
    ...GROUPS.map((group) => toolFor(group, registry)),
    {
      name: LEGACY_TOOL,
      description: 'Legacy entry: call any codestrator method by name. Prefer the orch_* tools.',
      inputSchema: {
        type: 'object',
        properties: {
          method: { type: 'string', description: 'Any method name, e.g. case.begin' },
          params: { type: 'object', default: {} },
        },
        required: ['method'],
        additionalProperties: false,
      },
    },
  ];
}

/** Where `npm run build` writes buildTools' output (scripts/write-tool-manifest.js), beside this module. */
export const TOOL_MANIFEST = new URL('./tools.json', import.meta.url);

/**
 * The tool list written at build time, or undefined without one (a bare `tsc` build): reading it
 * lets the server answer tools/list without loading the method table (zod schemas and the domain).
 */
export function readToolManifest(): Tool[] | undefined {
  try {
    return JSON.parse(readFileSync(TOOL_MANIFEST, 'utf8')) as Tool[];
  } catch {
    return undefined;
  }
}
