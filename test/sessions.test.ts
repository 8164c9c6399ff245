import { existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { migrations } from '../src/store/migrations/index.js';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { git } from './helpers/repo.js';

const harnesses: Harness[] = [];
const fresh = (env: Record<string, string> = {}) => {
  const h = openHarness(env);
  harnesses.push(h);
  return h;
};
afterAll(() => harnesses.forEach((h) => h.repo.cleanup()));

const branches = (h: Harness) => git(h.repo.path, 'branch', '--list', '--format=%(refname:short)').split('\n').filter(Boolean);

describe('session.open', () => {
  it('creates the session-root worktree on a new branch from the main tip, with a 1–2 word slug', async () => {
    const h = fresh();
    const tip = git(h.repo.path, 'rev-parse', 'main').trim();
    const opened = await h.ok('session.open', { intent: 'new_work', user_request: 'Please fix the login redirect loop' });
    expect(opened.worktree_slug).toBe('fix-login');
    // Unique per clone: two repositories with the same directory name never share a viewer.
    expect(opened.viewer_tmux_session).toMatch(/^repo-fix-login-[0-9a-f]{6}$/);
    expect(existsSync(join(h.repo.path, '.codestrator', 'worktrees', 'fix-login', 'README.md'))).toBe(true);
    expect(git(opened.worktree.path, 'rev-parse', 'HEAD').trim()).toBe(tip);
    expect(branches(h)).toContain('codestrator/fix-login');
    const second = await h.ok('session.open', { user_request: 'fix login again' });
    expect(second.worktree_slug).toBe('fix-login-2');
    const named = await h.ok('session.open', { worktree_name: 'Payment Gateway Refactor', user_request: 'ignored' });
    expect(named.worktree_slug).toBe('payment-gateway');
    const korean = await h.ok('session.open', { user_request: '로그인 버그 수정' });
    expect(korean.worktree_slug).toBe('rogeuin-beogeu');
    const emoji = await h.ok('session.open', { user_request: '🚀🚀' });
    expect(emoji.worktree_slug).toMatch(/^work-[0-9a-f]{6}$/);
    expect(git(h.repo.path, 'status', '--porcelain')).toBe('');
    expect(git(h.repo.path, 'check-ignore', '-q', '.codestrator/state.db')).toBe('');
  });

  it('leaves no session row, branch or directory behind when git fails', async () => {
    const h = fresh();
    // A post-checkout hook that fails makes `git worktree add` fail after creating the branch and directory.
    const hooks = join(h.repo.path, '.git', 'hooks');
    mkdirSync(hooks, { recursive: true });
    writeFileSync(join(hooks, 'post-checkout'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(hooks, 'post-checkout'), 0o755);
    const error = await h.fail('session.open', { user_request: 'doomed work' });
    expect(error.code).toBe('EXTERNAL');
    expect(h.db().prepare('SELECT count(*) AS n FROM sessions').get()).toEqual({ n: 0 });
    expect(h.db().prepare('SELECT count(*) AS n FROM worktrees').get()).toEqual({ n: 0 });
    expect(branches(h)).toEqual(['main']);
    expect(existsSync(join(h.repo.path, '.codestrator', 'worktrees', 'doomed-work'))).toBe(false);
  });

  it('with intent resume_work lists suspended sessions instead of creating a worktree', async () => {
    const h = fresh();
    const old = await h.ok('session.open', { always_branch: false, heartbeat_timeout_seconds: 10 });
    const epic = await h.ok('task.create', { level: 'epic', title: 'E' });
    const feature = await h.ok('task.create', { level: 'feature', title: 'F', parent_id: epic.task.id });
    const group = await h.ok('task.create', { level: 'test_group', title: 'G', parent_id: feature.task.id });
    const c = await h.ok('task.create', { level: 'case', title: 'C', parent_id: group.task.id });
    await h.ok('case.begin', { case_id: c.task.id, session_id: old.session.id });
    h.db()
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?')
      .run(Date.now() - 60_000, old.session.id);
    const resumed = await h.ok('session.open', { intent: 'resume_work' });
    expect(resumed.action_required).toBe('select_resume_candidate');
    expect(resumed.resume_candidates.map((c: { session: { id: number } }) => c.session.id)).toEqual([old.session.id]);
    const attached = await h.ok('resume.candidates.attach', {
      requester_session_id: resumed.session.id,
      target_session_id: old.session.id,
    });
    expect(attached.current_ref.case.id).toBe(c.task.id);
    const again = await h.fail('resume.candidates.attach', { requester_session_id: resumed.session.id, target_session_id: old.session.id });
    expect(again.code).toBe('CONFLICT');
    expect(
      (await h.fail('resume.candidates.attach', { requester_session_id: resumed.session.id, target_session_id: resumed.session.id })).code,
    ).toBe('INVALID_ARGUMENT');
    const live = await h.ok('session.open', { always_branch: false });
    expect(
      (await h.fail('resume.candidates.attach', { requester_session_id: resumed.session.id, target_session_id: live.session.id })).code,
    ).toBe('CONFLICT');
  });
});

describe('session ownership and cleanup', () => {
  it('lets only the session itself (or force with a reason) heartbeat and close it, and close releases its locks', async () => {
    const h = fresh();
    const a = (await h.ok('session.open', { always_branch: false })).session.id;
    const b = (await h.ok('session.open', { always_branch: false })).session.id;
    await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: 'src', session_id: a });
    const asB = h.as({ CODESTRATOR_SESSION_ID: String(b) });
    expect((await asB.fail('session.close', { session_id: a })).code).toBe('NOT_OWNER');
    expect((await asB.fail('session.heartbeat', { session_id: a })).code).toBe('NOT_OWNER');
    const closed = await asB.ok('session.close', { session_id: a, force: true, reason: 'stuck agent' });
    expect(closed).toMatchObject({ locks_released: 1, threads_stopped: 1 });
    expect((await h.fail('session.heartbeat', { session_id: a })).code).toBe('PRECONDITION_FAILED');
    expect((await h.ok('lock.list')).count).toBe(0);
  });

  it('cleanup closes every session whose heartbeat expired and nothing else', async () => {
    const h = fresh();
    const stale = (await h.ok('session.open', { always_branch: false, heartbeat_timeout_seconds: 10 })).session.id;
    const live = (await h.ok('session.open', { always_branch: false })).session.id;
    h.db()
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?')
      .run(Date.now() - 30_000, stale);
    const cleaned = await h.ok('session.cleanup');
    expect(cleaned.items.map((i: { session_id: number }) => i.session_id)).toEqual([stale]);
    const open = await h.ok('session.list');
    expect(open.items.map((s: { id: number }) => s.id)).toEqual([live]);
    expect((await h.ok('session.list', { include_closed: true })).count).toBe(2);
  });

  it('acts as CODESTRATOR_SESSION_ID by default and rejects an id that names nothing', async () => {
    const h = fresh();
    const a = (await h.ok('session.open', { always_branch: false })).session.id;
    const asA = h.as({ CODESTRATOR_SESSION_ID: String(a) });
    const lock = await asA.ok('lock.acquire', { scope_type: 'file', scope_path: 'x.txt' });
    expect(lock.lock.owner_key).toBe(`session:${a}`);
    const other = (await h.ok('session.open', { always_branch: false })).session.id;
    const impersonation = await asA.fail('lock.acquire', { scope_type: 'file', scope_path: 'y.txt', session_id: other });
    expect(impersonation).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'session_id' });
    expect((await asA.ok('lock.acquire', { scope_type: 'file', scope_path: 'y.txt', session_id: a })).lock.owner_key).toBe(`session:${a}`);
    expect((await h.as({ CODESTRATOR_SESSION_ID: '999' }).fail('resume.next')).code).toBe('NOT_FOUND');
    expect((await h.as({ CODESTRATOR_SESSION_ID: 'abc' }).fail('resume.next')).code).toBe('INVALID_ARGUMENT');
  });
});

describe('workspace', () => {
  it('finds the same state from a linked worktree, and honours CODESTRATOR_STATE_DIR', async () => {
    const h = fresh();
    const opened = await h.ok('session.open', { worktree_name: 'linked' });
    const fromWorktree = (await import('../src/app/services.js')).createDispatcher(opened.worktree.path, { PATH: process.env.PATH });
    const init = await fromWorktree.call('workspace.init', {});
    expect(init.ok && init.result).toMatchObject({
      repo_path: h.repo.path,
      db_path: join(h.repo.path, '.codestrator', 'state.db'),
      schema_version: migrations[migrations.length - 1]!.version,
    });
    const elsewhere = join(h.repo.path, '..', 'custom-state');
    // Only an init (workspace.init, `codestrator init`) may create state in a new CODESTRATOR_STATE_DIR.
    expect((await h.as({ CODESTRATOR_STATE_DIR: elsewhere }).fail('lock.list')).message).toContain('holds no codestrator state');
    const custom = await h.as({ CODESTRATOR_STATE_DIR: elsewhere }).ok('workspace.init');
    expect(custom.db_path).toBe(join(elsewhere, 'state.db'));
  });

  it('reports a clear error outside a git repository', async () => {
    const { createDispatcher } = await import('../src/app/services.js');
    const outcome = await createDispatcher('/', { PATH: process.env.PATH }).call('workspace.init', {});
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error.error).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(!outcome.ok && outcome.error.error.message).toMatch(/not inside a git repository/);
  });
});
