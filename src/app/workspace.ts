import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Workspace } from '../core/ports.js';
import { type RepositoryLocation, excludeFile, locateRepository } from '../git/repository.js';

/** Raised when codestrator is started outside a usable git repository. */
export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

export const STATE_DIR_NAME = '.codestrator';

/** Set (to 1) by `codestrator init`: the one call allowed to create state in a new CODESTRATOR_STATE_DIR. */
export const INIT_VAR = 'CODESTRATOR_INIT';

/**
 * Where the repository's state lives, found from `cwd` (any of its worktrees) without creating
 * anything: `<main worktree root>/.codestrator`, or CODESTRATOR_STATE_DIR when set. For readers
 * that must not leave state behind (MCP prompts and resources listed by a client on connect).
 */
export async function locateWorkspace(cwd: string, env: NodeJS.ProcessEnv): Promise<Workspace> {
  return (await locate(cwd, env)).workspace;
}

/**
 * Finds the repository from `cwd` (any of its worktrees) and prepares the state directory
 * (locateWorkspace's paths), listed in `.git/info/exclude` so it never shows up as untracked.
 */
export async function resolveWorkspace(cwd: string, env: NodeJS.ProcessEnv): Promise<Workspace> {
  const { workspace, location } = await locate(cwd, env);
  const unknown = env[INIT_VAR] === '1' ? undefined : unknownState(workspace, location);
  if (unknown)
    throw new WorkspaceError(
      `${unknown}. Run \`codestrator init\` (or the workspace.init method) with it set to create state there, or unset it.`,
    );
  for (const dir of [workspace.worktreesDir, workspace.logsDir, workspace.mirrorDir]) mkdirSync(dir, { recursive: true });
  if (workspace.stateDir.startsWith(location.mainRoot + '/'))
    ensureExcluded(excludeFile(location), `/${workspace.stateDir.slice(location.mainRoot.length + 1)}/`);
  return workspace;
}

async function locate(cwd: string, env: NodeJS.ProcessEnv): Promise<{ workspace: Workspace; location: RepositoryLocation }> {
  const start = env.CODESTRATOR_REPO ? resolve(cwd, env.CODESTRATOR_REPO) : cwd;
  let location;
  try {
    location = await locateRepository(start);
  } catch (err) {
    throw new WorkspaceError(err instanceof Error ? err.message : String(err));
  }
  if (!location) {
    throw new WorkspaceError(`${start} is not inside a git repository. Run codestrator in your repository, or set CODESTRATOR_REPO.`);
  }
  const stateDir = env.CODESTRATOR_STATE_DIR ? resolve(cwd, env.CODESTRATOR_STATE_DIR) : join(location.mainRoot, STATE_DIR_NAME);
  const workspace: Workspace = {
    repoPath: location.mainRoot,
    repoName: basename(location.mainRoot),
    stateDir,
    dbPath: join(stateDir, 'state.db'),
    worktreesDir: join(stateDir, 'worktrees'),
    logsDir: join(stateDir, 'logs'),
    mirrorDir: join(stateDir, 'mirror'),
  };
  return { workspace, location };
}

/**
 * Why CODESTRATOR_STATE_DIR cannot be used as it is: it names another directory than the
 * repository's own state dir and holds no codestrator state (a typo would otherwise start an
 * empty, separate state where no lock is seen). Undefined when it is fine.
 */
function unknownState(workspace: Workspace, location: RepositoryLocation): string | undefined {
  if (workspace.stateDir === join(location.mainRoot, STATE_DIR_NAME) || existsSync(workspace.dbPath)) return undefined;
  return `CODESTRATOR_STATE_DIR=${workspace.stateDir} holds no codestrator state (no state.db)`;
}

/** unknownState for `cwd`'s repository, found without creating anything (for the pre-commit hook). */
export async function unknownStateDir(cwd: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (!env.CODESTRATOR_STATE_DIR) return undefined;
  const { workspace, location } = await locate(cwd, env);
  return unknownState(workspace, location);
}

function ensureExcluded(file: string, pattern: string): void {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (current.split('\n').includes(pattern)) return;
  mkdirSync(resolve(file, '..'), { recursive: true });
  const separator = current === '' || current.endsWith('\n') ? '' : '\n';
  appendFileSync(file, `${separator}# codestrator state (worktrees, database, logs)\n${pattern}\n`);
}
