import type { MethodDef } from '../registry/define.js';
import { graphMethods } from './graph.js';
import { inboxMethods } from './inbox.js';
import { lifecycleMethods } from './lifecycle.js';
import { planMethods } from './plan.js';
import { sessionMethods } from './session.js';
import { systemMethods } from './system.js';
import { taskMethods } from './task.js';
import { workspaceMethods } from './workspace.js';

/** The method table: the single source of the MCP tools, the CLI, the schemas and the docs. */
export const methods: readonly MethodDef[] = [
  ...sessionMethods,
  ...taskMethods,
  ...graphMethods,
  ...workspaceMethods,
  ...lifecycleMethods,
  ...inboxMethods,
  ...systemMethods,
  ...planMethods,
];
