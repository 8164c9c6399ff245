import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envIdentity } from '../src/app/services.js';
import { openServices } from '../src/app/open-services.js';
import { HOOK_NAMES, defaultHooksDir, installWorktreeHooks, shellQuote } from '../src/git/hooks.js';
import { methods } from '../src/methods/index.js';
import { lockCheckMethods } from '../src/methods/lock-check.js';
import { createRegistry } from '../src/registry/define.js';
import { Dispatcher } from '../src/registry/dispatch.js';
import { ROOT, call, cleanEnv } from './helpers/cli.js';
import { type CallError, type Harness, openHarness } from './helpers/dispatch.js';
import { git, makeRepo, TEST_GIT_ENV, type TempRepo } from './helpers/repo.js';

/** Stands in for `codestrator hook pre-commit` (the CLI command is wired separately); runs the built dist/. */
const FIXTURE = join(ROOT, 'test', 'fixtures', 'run-hook.mjs');
const HOOK_ARGV = [process.execPath, FIXTURE, 'pre-commit'];

/** git as a person or agent would run it: a fixed identity, no user config, no codestrator identity unless given. */
function gitRun(cwd: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: cleanEnv({ ...TEST_GIT_ENV, ...env }),
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * gitRun for a commit that could loop forever if the wrappers regressed: git runs in its own
 * process group, which is killed after `ms`, so the test fails instead of hanging.
 */
function gitRunBounded(cwd: string, args: string[], ms = 20_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn('git', args, {
      cwd,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: cleanEnv({
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 'T',
        GIT_AUTHOR_EMAIL: 't@e',
        GIT_COMMITTER_NAME: 'T',
        GIT_COMMITTER_EMAIL: 't@e',
      }),
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Anything the hooks left behind in the group goes too.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
      done({ code, stderr });
    });
  });
}

const head = (cwd: string) => git(cwd, 'rev-parse', 'HEAD').trim();

/** Stages `content` at `file` and commits it; returns git's outcome. */
function commitFile(cwd: string, file: string, content: string, env: Record<string, string> = {}) {
  writeFileSync(join(cwd, file), content);
  git(cwd, 'add', '--', file);
  return gitRun(cwd, ['commit', '-q', '-m', `change ${file}`], env);
}

/** Puts a checkout back to its HEAD (index and files), after a refused commit. */
const restore = (cwd: string) => git(cwd, 'reset', '-q', '--hard');

/** A dispatcher whose table has lock.check, for asserting on the method itself. */
function checker(repoPath: string): Dispatcher {
  const table = methods.some((def) => def.name === 'lock.check') ? methods : [...methods, ...lockCheckMethods];
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  return new Dispatcher({
    registry: createRegistry(table),
    envIdentity: () => envIdentity(env),
    services: () => openServices(repoPath, env),
  });
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'hook.js'))) throw new Error('dist/cli/hook.js is missing: run npm run build first.');
});

describe('shellQuote', () => {
  it('gives sh back every string verbatim and runs nothing inside it', () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-quote-')));
    try {
      const words = ["it's", 'a b', '$(touch pwned)', '`touch pwned`', '"q"', "''", "'", '\\n \\', 'line\nbreak', '-n', '', '$HOME *'];
      for (const word of words) {
        const out = spawnSync('sh', ['-c', `printf '%s' ${shellQuote(word)}`], { cwd: dir, encoding: 'utf8' });
        expect(out.stdout).toBe(word);
      }
      expect(existsSync(join(dir, 'pwned'))).toBe(false);
      expect(() => shellQuote('a\0b')).toThrow(/NUL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pre-commit lock check in codestrator worktrees', () => {
  let h: Harness;
  let markers: string;
  let hooksDir: string;
  let a: { id: number; path: string; thread: number };
  let b: { id: number; path: string };
  let lock: { id: number; lease_until: number };

  const marker = (name: string) => (existsSync(join(markers, name)) ? readFileSync(join(markers, name), 'utf8') : '');
  const clearMarkers = () => {
    for (const name of ['pre-commit', 'commit-msg']) rmSync(join(markers, name), { force: true });
  };

  beforeAll(async () => {
    h = openHarness();
    markers = realpathSync(mkdtempSync(join(tmpdir(), 'cs-markers-')));
    hooksDir = defaultHooksDir(h.repo.path);
    const main = h.repo.path;
    mkdirSync(join(main, 'src'));
    writeFileSync(join(main, 'src', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(main, 'src', 'b.ts'), 'export const b = 1;\n');
    git(main, 'add', 'src');
    git(main, 'commit', '-q', '-m', 'sources');
    // The user's own hooks, in the common git dir: they write markers; pre-commit refuses on demand.
    const userHooks = join(main, '.git', 'hooks');
    writeFileSync(
      join(userHooks, 'pre-commit'),
      `#!/bin/sh\necho "pre-commit $PWD" >> ${shellQuote(join(markers, 'pre-commit'))}\n` +
        'if [ -n "$USER_HOOK_REFUSE" ]; then echo "user pre-commit refused" >&2; exit 1; fi\n',
      { mode: 0o755 },
    );
    writeFileSync(
      join(userHooks, 'commit-msg'),
      `#!/bin/sh\necho "commit-msg $(cat "$1")" >> ${shellQuote(join(markers, 'commit-msg'))}\n`,
      {
        mode: 0o755,
      },
    );
    const openedA = await h.ok('session.open', { worktree_name: 'alpha' });
    const openedB = await h.ok('session.open', { worktree_name: 'beta' });
    a = { id: openedA.session.id, path: openedA.worktree.path, thread: openedA.session.root_thread_id };
    b = { id: openedB.session.id, path: openedB.worktree.path };
    // Two installs at once race on .git/config (extensions.worktreeConfig); both must succeed.
    await Promise.all([installWorktreeHooks(main, a.path, HOOK_ARGV), installWorktreeHooks(main, b.path, HOOK_ARGV)]);
    lock = (await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'src/a.ts', ttl_seconds: 600, session_id: a.id })).lock;
  });
  afterAll(() => {
    h.repo.cleanup();
    rmSync(markers, { recursive: true, force: true });
  });

  it('writes one executable wrapper per hook name and points only the worktrees at them', async () => {
    for (const name of HOOK_NAMES) expect(statSync(join(hooksDir, name)).mode & 0o111).toBe(0o111);
    const before = statSync(join(hooksDir, 'pre-commit')).mtimeMs;
    await installWorktreeHooks(h.repo.path, a.path, HOOK_ARGV);
    expect(statSync(join(hooksDir, 'pre-commit')).mtimeMs).toBe(before);
    expect(gitRun(a.path, ['config', '--get', 'core.hooksPath']).stdout.trim()).toBe(hooksDir);
    expect(gitRun(b.path, ['config', '--get', 'core.hooksPath']).stdout.trim()).toBe(hooksDir);
    expect(gitRun(h.repo.path, ['config', '--get', 'core.hooksPath']).code).toBe(1);
    expect(readFileSync(join(h.repo.path, '.git', 'config'), 'utf8')).not.toMatch(/hooksPath/i);
  });

  it("refuses in B's worktree a commit touching the file A locked, naming the lock, holder and expiry", () => {
    const before = head(b.path);
    const refused = commitFile(b.path, 'src/a.ts', 'export const a = 2;\n');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      new RegExp(
        `codestrator: src/a\\.ts is locked by session:${a.id} \\(lock ${lock.id}, file src/a\\.ts\\) until ${escape(new Date(lock.lease_until).toISOString())} \\(in (59\\d|600) s\\)\\. Ask the holder or wait`,
      ),
    );
    expect(head(b.path)).toBe(before);
    restore(b.path);
  });

  it('checks the index git is committing: commit -a and commit <paths> are refused too', () => {
    const before = head(b.path);
    writeFileSync(join(b.path, 'src', 'a.ts'), 'export const a = 3;\n');
    const all = gitRun(b.path, ['commit', '-q', '-a', '-m', 'all']);
    expect(all.code).not.toBe(0);
    expect(all.stderr).toContain(`src/a.ts is locked by session:${a.id}`);
    const only = gitRun(b.path, ['commit', '-q', '-m', 'only', '--', 'src/a.ts']);
    expect(only.code).not.toBe(0);
    expect(only.stderr).toContain(`src/a.ts is locked by session:${a.id}`);
    expect(head(b.path)).toBe(before);
    restore(b.path);
  });

  it("lets B commit another file, and the user's pre-commit and commit-msg hooks still run", () => {
    clearMarkers();
    const done = commitFile(b.path, 'src/b.ts', 'export const b = 2;\n');
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(marker('pre-commit')).toBe(`pre-commit ${b.path}\n`);
    expect(marker('commit-msg')).toBe('commit-msg change src/b.ts\n');
  });

  it('lets the lock holder commit the same change in its own worktree', () => {
    const before = head(a.path);
    const done = commitFile(a.path, 'src/a.ts', 'export const a = 2;\n');
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(head(a.path)).not.toBe(before);
  });

  it('takes the identity from CODESTRATOR_SESSION_ID before the worktree owner', () => {
    const asA = commitFile(b.path, 'src/a.ts', 'export const a = 4;\n', { CODESTRATOR_SESSION_ID: String(a.id) });
    expect(asA.code).toBe(0);
    git(b.path, 'reset', '-q', '--hard', 'HEAD~1');
    const asB = commitFile(a.path, 'src/a.ts', 'export const a = 5;\n', { CODESTRATOR_SESSION_ID: String(b.id) });
    expect(asB.code).not.toBe(0);
    expect(asB.stderr).toContain(`locked by session:${a.id}`);
    restore(a.path);
  });

  it("still lets the user's pre-commit hook refuse a commit", () => {
    const refused = commitFile(b.path, 'src/c.ts', 'c\n', { USER_HOOK_REFUSE: '1' });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('user pre-commit refused');
    restore(b.path);
    rmSync(join(b.path, 'src', 'c.ts'), { force: true });
  });

  it("leaves the main checkout's commits alone", () => {
    clearMarkers();
    const done = commitFile(h.repo.path, 'src/a.ts', 'export const a = 9;\n');
    expect(done.code).toBe(0);
    expect(marker('pre-commit')).toBe(`pre-commit ${h.repo.path}\n`);
    expect(marker('commit-msg')).toBe('commit-msg change src/a.ts\n');
  });

  it('never chains to itself: core.hooksPath naming the wrappers, or a user hook linked to one', async () => {
    // Every git call here may run a wrapper, so each is bounded: a regression fails, never hangs.
    const linked = join(h.repo.path, '.git', 'hooks', 'post-commit');
    const clean = { code: 0, stderr: '' };
    try {
      git(h.repo.path, 'config', 'core.hooksPath', hooksDir);
      clearMarkers();
      writeFileSync(join(b.path, 'src', 'd.ts'), 'd\n');
      expect(await gitRunBounded(b.path, ['add', 'src/d.ts'])).toEqual(clean);
      expect(await gitRunBounded(b.path, ['commit', '-q', '-m', 'd'])).toEqual(clean);
      expect(marker('pre-commit')).toBe('');
      writeFileSync(join(b.path, 'src', 'a.ts'), 'export const a = 6;\n');
      const refused = await gitRunBounded(b.path, ['commit', '-q', '-a', '-m', 'a']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('src/a.ts is locked by');
      expect(await gitRunBounded(b.path, ['reset', '-q', '--hard'])).toEqual(clean);
      gitRun(h.repo.path, ['config', '--unset', 'core.hooksPath']);
      symlinkSync(join(hooksDir, 'post-commit'), linked);
      writeFileSync(join(b.path, 'src', 'd.ts'), 'd2\n');
      expect(await gitRunBounded(b.path, ['commit', '-q', '-a', '-m', 'd2'])).toEqual(clean);
    } finally {
      gitRun(h.repo.path, ['config', '--unset', 'core.hooksPath']);
      rmSync(linked, { force: true });
    }
  });

  it('chains to a relative core.hooksPath from the root of the worktree running the hook, as git does', () => {
    const relativeDir = join(b.path, 'my hooks');
    try {
      git(h.repo.path, 'config', 'core.hooksPath', 'my hooks');
      mkdirSync(relativeDir);
      const hook = `#!/bin/sh\necho "relative $PWD" >> ${shellQuote(join(markers, 'pre-commit'))}\n`;
      writeFileSync(join(relativeDir, 'pre-commit'), hook, { mode: 0o755 });
      clearMarkers();
      expect(commitFile(b.path, 'src/e.ts', 'e\n').code).toBe(0);
      expect(marker('pre-commit')).toBe(`relative ${b.path}\n`);
      expect(commitFile(b.path, 'src/a.ts', 'export const a = 7;\n').code).not.toBe(0);
      restore(b.path);
    } finally {
      gitRun(h.repo.path, ['config', '--unset', 'core.hooksPath']);
      rmSync(relativeDir, { recursive: true, force: true });
    }
  });

  it('refuses a commit it cannot check (codestrator gone, bad identity, unknown state dir), and lets an explicit override through, recorded', async () => {
    const log = join(h.repo.path, '.codestrator', 'hook-overrides.log');
    rmSync(log, { force: true });
    const before = head(b.path);
    // A CODESTRATOR_STATE_DIR with no codestrator state: refused, and nothing is created there.
    const empty = join(markers, 'empty-state');
    const unknown = commitFile(b.path, 'src/a.ts', 'export const a = 8;\n', { CODESTRATOR_STATE_DIR: empty });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain(
      `the lock check could not run (CODESTRATOR_STATE_DIR=${empty} holds no codestrator state (no state.db))`,
    );
    expect(unknown.stderr).toContain('CODESTRATOR_HOOK_OVERRIDE="<why>"');
    expect(existsSync(empty)).toBe(false);
    // Identity variables that name no one: refused, not checked as somebody else.
    const badId = commitFile(b.path, 'src/b.ts', 'export const b = 9;\n', { CODESTRATOR_SESSION_ID: 'abc' });
    expect(badId.code).not.toBe(0);
    expect(badId.stderr).toMatch(
      /the lock check could not run \(INVALID_ARGUMENT: CODESTRATOR_SESSION_ID="abc" is not a positive integer id/,
    );
    expect(head(b.path)).toBe(before);
    // With the override, the commit goes through and the reason is recorded.
    const overridden = commitFile(b.path, 'src/b.ts', 'export const b = 9;\n', {
      CODESTRATOR_SESSION_ID: 'abc',
      CODESTRATOR_HOOK_OVERRIDE: 'release day',
    });
    expect(overridden.code).toBe(0);
    expect(overridden.stderr).toContain(`overridden ("release day"), recorded in ${log}`);
    expect(JSON.parse(readFileSync(log, 'utf8').trim())).toMatchObject({ checkout: b.path, reason: 'release day' });
    git(b.path, 'reset', '-q', '--hard', 'HEAD~1');
    // The hook program gone: the wrapper refuses too, unless overridden (recorded next to the wrappers).
    const gone = join(markers, 'no such dir', 'codestrator.js');
    await installWorktreeHooks(h.repo.path, b.path, [process.execPath, gone, 'pre-commit']);
    try {
      const missing = commitFile(b.path, 'src/a.ts', 'export const a = 8;\n');
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('codestrator: the lock check failed (exit 1), so this commit is refused');
      expect(head(b.path)).toBe(before);
      const forced = commitFile(b.path, 'src/b.ts', 'export const b = 10;\n', {
        CODESTRATOR_HOOK_OVERRIDE: 'codestrator is being upgraded',
      });
      expect(forced.code).toBe(0);
      expect(forced.stderr).toContain('overridden, recorded in');
      const lines = readFileSync(join(dirname(hooksDir), 'hook-overrides.log'), 'utf8')
        .trim()
        .split('\n');
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({
        checkout: b.path,
        reason: 'codestrator is being upgraded',
        failure: 'hook exit 1',
      });
      git(b.path, 'reset', '-q', '--hard', 'HEAD~1');
    } finally {
      await installWorktreeHooks(h.repo.path, b.path, HOOK_ARGV);
      restore(b.path);
    }
    expect(commitFile(b.path, 'src/a.ts', 'export const a = 8;\n').code).not.toBe(0);
    restore(b.path);
  });

  describe('lock.check', () => {
    let check: Dispatcher;
    const ok = async (params: Record<string, unknown>) => {
      const outcome = await check.call('lock.check', params);
      if (!outcome.ok) throw new Error(JSON.stringify(outcome.error));
      return outcome.result as { ok: boolean; checked_as: string | null; conflicts: Record<string, unknown>[] };
    };
    const fail = async (params: Record<string, unknown>) => {
      const outcome = await check.call('lock.check', params);
      if (outcome.ok) throw new Error(`lock.check unexpectedly succeeded: ${JSON.stringify(outcome.result)}`);
      return outcome.error.error as CallError;
    };
    beforeAll(() => {
      check = checker(h.repo.path);
    });

    it('lists, per path, the live locks of other owners; a directory covers what is under it', async () => {
      const asB = await ok({ paths: ['src/a.ts', './src/b.ts', 'src', join(b.path, 'src', 'a.ts')], session_id: b.id });
      expect(asB.ok).toBe(false);
      expect(asB.checked_as).toBe(`session:${b.id}`);
      const holder = {
        lock_id: lock.id,
        scope_type: 'file',
        scope_path: 'src/a.ts',
        owner: `session:${a.id}`,
        lease_until: lock.lease_until,
        expires_in_seconds: expect.any(Number),
      };
      expect(asB.conflicts).toEqual([
        { path: 'src/a.ts', ...holder },
        { path: 'src', ...holder },
        { path: 'src/a.ts', ...holder },
      ]);
      expect(await ok({ paths: ['src/a.ts', 'src'], session_id: a.id })).toEqual({
        ok: true,
        checked_as: `session:${a.id}`,
        conflicts: [],
      });
      expect((await ok({ paths: ['src/a.ts'] })).checked_as).toBeNull();
      expect((await ok({ paths: ['src/a.ts'] })).ok).toBe(false);
    });

    it('acts as the owner of the worktree containing worktree_path, preferring its owning thread', async () => {
      expect(await ok({ paths: ['src/a.ts'], worktree_path: b.path })).toMatchObject({ ok: false, checked_as: `session:${b.id}` });
      expect(await ok({ paths: ['src/a.ts'], worktree_path: join(a.path, 'src') })).toMatchObject({
        ok: true,
        checked_as: `session:${a.id}`,
      });
      expect(await ok({ paths: ['src/a.ts'], worktree_path: h.repo.path })).toMatchObject({ ok: false, checked_as: null });
      const threadLock = await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: 'docs', session_id: a.id, thread_id: a.thread });
      h.db().prepare('UPDATE worktrees SET owner_thread_id = ? WHERE path = ?').run(a.thread, a.path);
      try {
        const asThread = await ok({ paths: ['docs/x.md', 'src/a.ts'], worktree_path: a.path });
        expect(asThread.checked_as).toBe(`thread:${a.thread}`);
        expect(asThread.conflicts.map((c) => [c.path, c.lock_id])).toEqual([['src/a.ts', lock.id]]);
      } finally {
        h.db().prepare('UPDATE worktrees SET owner_thread_id = NULL WHERE path = ?').run(a.path);
        await h.ok('lock.release', { lock_id: threadLock.lock.id, session_id: a.id, thread_id: a.thread });
      }
    });

    it('refuses empty lists, relative worktree paths and paths outside the repository', async () => {
      expect((await fail({ paths: [] })).field).toBe('paths');
      expect((await fail({ paths: ['src/a.ts'], worktree_path: 'relative/dir' })).field).toBe('worktree_path');
      expect(await fail({ paths: ['../outside'] })).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'paths' });
    });
  });
});

describe('hook wrappers in a repository whose path needs quoting', () => {
  let repo: TempRepo;
  let shim: string;

  beforeAll(() => {
    repo = makeRepo(`it's a "repo" $(touch pwned)`);
    // The hook command itself lives at a path that needs quoting too.
    shim = join(dirname(repo.path), `run "hook" it's $(touch pwned).mjs`);
    writeFileSync(shim, `await import(${JSON.stringify(pathToFileURL(FIXTURE).href)});\n`);
  });
  afterAll(() => repo.cleanup());

  it('refuses the locked commit in the other worktree and accepts it in the holder, running nothing from the path', async () => {
    const openA = call<{ session: { id: number }; worktree: { path: string } }>(repo.path, 'session.open', { worktree_name: 'alpha' });
    const openB = call<{ session: { id: number }; worktree: { path: string } }>(repo.path, 'session.open', { worktree_name: 'beta' });
    const hookArgv = [process.execPath, shim, 'pre-commit'];
    await installWorktreeHooks(repo.path, openA.worktree.path, hookArgv);
    await installWorktreeHooks(repo.path, openB.worktree.path, hookArgv);
    const held = call<{ lock: { id: number } }>(repo.path, 'lock.acquire', {
      scope_type: 'file',
      scope_path: 'README.md',
      session_id: openA.session.id,
    });
    const refused = commitFile(openB.worktree.path, 'README.md', 'changed by B\n');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      `codestrator: README.md is locked by session:${openA.session.id} (lock ${held.lock.id}, file README.md)`,
    );
    const done = commitFile(openA.worktree.path, 'README.md', 'changed by A\n');
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    for (const dir of [repo.path, openA.worktree.path, openB.worktree.path, dirname(repo.path), process.cwd()]) {
      expect(existsSync(join(dir, 'pwned'))).toBe(false);
    }
  });
});

describe('the main checkout of a session with always_branch: false', () => {
  let repo: TempRepo;
  afterAll(() => repo.cleanup());

  it("gets the lock check (the repository's own hooks still run); before, its commits were never checked", () => {
    repo = makeRepo('main-commits');
    const marker = join(repo.path, '..', 'user-hook-ran');
    writeFileSync(join(repo.path, '.git', 'hooks', 'pre-commit'), `#!/bin/sh\necho ran >> ${shellQuote(marker)}\n`, { mode: 0o755 });
    const holder = call<{ session: { id: number } }>(repo.path, 'session.open', { worktree_name: 'holder' });
    call(repo.path, 'lock.acquire', { scope_type: 'file', scope_path: 'README.md', session_id: holder.session.id });
    const inMain = call<{ session: { id: number }; worktree: null }>(repo.path, 'session.open', {
      always_branch: false,
      user_request: 'x',
    });
    expect(inMain.worktree).toBeNull();
    expect(gitRun(repo.path, ['config', '--worktree', '--get', 'core.hooksPath']).stdout.trim()).toBe(defaultHooksDir(repo.path));
    const before = head(repo.path);
    const refused = commitFile(repo.path, 'README.md', 'edited in main\n', { CODESTRATOR_SESSION_ID: String(inMain.session.id) });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`README.md is locked by session:${holder.session.id}`);
    expect(head(repo.path)).toBe(before);
    restore(repo.path);
    const other = commitFile(repo.path, 'NOTES.md', 'notes\n', { CODESTRATOR_SESSION_ID: String(inMain.session.id) });
    expect(other.code).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('ran\n');
  });
});
