import type { CoreContext } from './context.js';

/** workspace.init: opening the services already created the state dir and migrated the database. */
export async function workspaceInit(ctx: CoreContext) {
  const mainBranch = await ctx.git.mainBranch().catch(() => null);
  const { ledger_version } = ctx.store.read((sql) => sql.get<{ ledger_version: number }>('SELECT ledger_version FROM meta WHERE id = 1')!);
  return {
    repo_path: ctx.workspace.repoPath,
    state_dir: ctx.workspace.stateDir,
    db_path: ctx.store.path,
    schema_version: ctx.store.schemaVersion,
    ledger_version,
    worktrees_dir: ctx.workspace.worktreesDir,
    mirror_dir: ctx.workspace.mirrorDir,
    main_branch: mainBranch,
  };
}
