import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Workspace } from '../core/ports.js';
import { excludeFile, locateRepository } from '../git/repository.js';

/** Raised when codestrator is started outside a usable git repository. */
export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

export const STATE_DIR_NAME = '.codestrator';

/**
 * Finds the repository from `cwd` (any of its worktrees) and prepares the state directory:
 * `<main worktree root>/.codestrator`, or CODESTRATOR_STATE_DIR when set, listed in
 * `.git/info/exclude` so it never shows up as untracked.
 */
export async function resolveWorkspace(cwd: string, env: NodeJS.ProcessEnv): Promise<Workspace> {
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
  for (const dir of [workspace.worktreesDir, workspace.logsDir, workspace.mirrorDir]) mkdirSync(dir, { recursive: true });
  if (stateDir.startsWith(location.mainRoot + '/'))
    ensureExcluded(excludeFile(location), `/${stateDir.slice(location.mainRoot.length + 1)}/`);
  return workspace;
}

function ensureExcluded(file: string, pattern: string): void {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (current.split('\n').includes(pattern)) return;
  mkdirSync(resolve(file, '..'), { recursive: true });
  const separator = current === '' || current.endsWith('\n') ? '' : '\n';
  appendFileSync(file, `${separator}# codestrator state (worktrees, database, logs)\n${pattern}\n`);
}
