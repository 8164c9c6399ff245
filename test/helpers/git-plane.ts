import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Harness } from './dispatch.js';
import { git } from './repo.js';

/** Writes .codestrator/config.json for the harness's repository. */
export function writeConfig(h: Harness, config: Record<string, unknown>): void {
  const dir = join(h.repo.path, '.codestrator');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
}

/** Writes files in a checkout and commits them. */
export function commitFiles(cwd: string, files: Record<string, string>, message = 'change'): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(cwd, path, '..'), { recursive: true });
    writeFileSync(join(cwd, path), content);
  }
  git(cwd, 'add', '-A');
  git(cwd, '-c', 'core.hooksPath=/dev/null', 'commit', '-q', '-m', message);
  return git(cwd, 'rev-parse', 'HEAD').trim();
}

/** Everything that shows a checkout's state: HEAD, status, and whether a merge is in progress. */
export function checkoutState(cwd: string) {
  const gitDir = git(cwd, 'rev-parse', '--git-dir').trim();
  const absolute = gitDir.startsWith('/') ? gitDir : join(cwd, gitDir);
  return {
    head: git(cwd, 'rev-parse', 'HEAD').trim(),
    status: git(cwd, 'status', '--porcelain=v1', '--untracked-files=all'),
    mergeHead: existsSync(join(absolute, 'MERGE_HEAD')),
  };
}

/** A session with its own worktree; returns ids and paths. */
export async function openWorkSession(h: Harness, request: string) {
  const opened = await h.ok('session.open', { user_request: request });
  return {
    sessionId: opened.session.id as number,
    worktreeId: opened.worktree.id as number,
    path: opened.worktree.path as string,
    branch: opened.worktree.branch as string,
  };
}
