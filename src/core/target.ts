import type { CoreContext } from './context.js';
import { gitStep } from './worktree-create.js';

/** The branch work lands on: the request's, else the configured one, else the repository's main branch. */
export async function targetBranch(ctx: CoreContext, requested?: string): Promise<string> {
  return requested ?? ctx.config.target_branch ?? (await gitStep('find the main branch', ctx.git.mainBranch()));
}
