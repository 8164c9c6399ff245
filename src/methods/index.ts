import type { MethodDef } from '../registry/define.js';
import { gcMethods } from './gc.js';
import { graphMethods } from './graph.js';
import { inboxMethods } from './inbox.js';
import { lifecycleMethods } from './lifecycle.js';
import { lockCheckMethods } from './lock-check.js';
import { mergeMethods } from './merge.js';
import { mergeReviewMethods } from './merge-review.js';
import { planMethods } from './plan.js';
import { sessionMethods } from './session.js';
import { systemMethods } from './system.js';
import { taskMethods } from './task.js';
import { threadMethods } from './thread.js';
import { workspaceMethods } from './workspace.js';
import { worktreeMethods } from './worktree.js';

/** The method table: the single source of the MCP tools, the CLI, the schemas and the docs. */
export const methods: readonly MethodDef[] = [
  ...sessionMethods,
  ...taskMethods,
  ...graphMethods,
  ...workspaceMethods,
  ...lockCheckMethods,
  ...worktreeMethods,
  ...gcMethods,
  ...mergeMethods,
  ...mergeReviewMethods,
  ...threadMethods,
  ...lifecycleMethods,
  ...inboxMethods,
  ...systemMethods,
  ...planMethods,
];
