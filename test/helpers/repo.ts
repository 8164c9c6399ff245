import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fixed identity and no user config, so tests never depend on the machine's git settings. */
export const TEST_GIT_ENV = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

/** git with TEST_GIT_ENV. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...TEST_GIT_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface TempRepo {
  path: string;
  cleanup(): void;
}

/** A fresh repository on branch main with one commit (README.md), in a temp dir. */
export function makeRepo(name = 'repo'): TempRepo {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-test-')));
  const path = join(dir, name);
  execFileSync('mkdir', ['-p', path]);
  git(path, 'init', '-q', '-b', 'main');
  writeFileSync(join(path, 'README.md'), '# test repo\n');
  git(path, 'add', 'README.md');
  git(path, 'commit', '-q', '-m', 'initial');
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }) };
}
