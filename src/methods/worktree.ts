import { z } from 'zod';
import { predictConflicts } from '../core/conflicts.js';
import { mergeToParent } from '../core/worktree-merge.js';
import { createTaskWorktree, spawnWorktree } from '../core/worktree-spawn.js';
import { listWorktrees, removeWorktree } from '../core/worktrees.js';
import { force, id, identity, paging } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';

const branch = z.string().min(1).max(250).describe('Exact branch name (validated with git check-ref-format)');
const name = z.string().max(200).describe('Words to name the worktree by (1–2 are kept)');
const onDisk = {
  path: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe('Where to put it (relative: to the repo root); an empty or new dir outside other checkouts, .git and the state dir'),
  base_ref: z.string().min(1).max(250).optional().describe('Commit to branch from (branch, tag or sha)'),
  create_on_disk: z
    .boolean()
    .optional()
    .describe('Default true (codestrator creates on disk); false records a planned worktree; a later call with its branch creates it'),
};

export const worktreeMethods = [
  defineMethod({
    name: 'worktree.create',
    group: 'orch_workspace',
    summary: 'Create a task worktree on a new branch from the main branch (or base_ref), owned by the caller.',
    params: z.strictObject({
      task_id: id('Task').optional(),
      name: name.optional(),
      branch: branch.optional(),
      ...onDisk,
      ...identity,
    }),
    example: { task_id: 4, name: 'login redirect' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => createTaskWorktree(ctx, params),
  }),
  defineMethod({
    name: 'worktree.spawn',
    group: 'orch_workspace',
    summary: "Create a child worktree on its own branch from a parent's tip (default: the caller's session root): one case, one worker.",
    params: z.strictObject({
      parent_worktree_id: id('Parent worktree').optional(),
      task_id: id('Task').optional(),
      name: name.optional(),
      branch: branch.optional(),
      ...onDisk,
      ...identity,
      ...force,
    }),
    example: { task_id: 4, name: 'login test' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => spawnWorktree(ctx, params),
  }),
  defineMethod({
    name: 'worktree.list',
    group: 'orch_workspace',
    summary: 'Worktrees with live facts: exists on disk, dirty paths, commits ahead/behind the parent branch.',
    params: z.strictObject({
      owner_session: id('Owner session').optional(),
      kind: z.enum(['session_root', 'task']).optional(),
      state: z.enum(['planned', 'active', 'merged', 'removed']).optional(),
      live: z.boolean().optional().describe('Default true; false skips the git facts (faster)'),
      ...paging,
    }),
    example: { state: 'active' },
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => listWorktrees(ctx, params),
  }),
  defineMethod({
    name: 'worktree.merge_to_parent',
    group: 'orch_workspace',
    summary:
      "Merge a child worktree's branch into its parent's without touching either checkout on conflict; refuses uncommitted work unless commit_changes.",
    params: z.strictObject({
      worktree_id: id('Child worktree'),
      commit_changes: z.boolean().optional().describe("Commit the child's uncommitted changes first"),
      message: z.string().min(1).max(2000).optional().describe('Commit message for commit_changes'),
      ...identity,
      ...force,
    }),
    example: { worktree_id: 2 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => mergeToParent(ctx, params),
  }),
  defineMethod({
    name: 'worktree.remove',
    group: 'orch_workspace',
    summary: 'Remove a worktree and its branch; refuses uncommitted or unmerged work unless force with a reason.',
    params: z.strictObject({ worktree_id: id('Worktree'), ...identity, ...force }),
    example: { worktree_id: 2 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => removeWorktree(ctx, params),
  }),
  defineMethod({
    name: 'worktree.conflicts',
    group: 'orch_workspace',
    summary:
      'Predict which active branches conflict with each other or with the target, on which files (git merge-tree; no checkout touched).',
    params: z.strictObject({ worktree_ids: z.array(id('Worktree')).max(200).optional(), target_branch: branch.optional() }),
    example: {},
    mutates: false,
    identity: 'none',
    handler: (params, ctx) => predictConflicts(ctx, params),
  }),
];
