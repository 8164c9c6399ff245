import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopesConflict, normalizeScopePath, type Scope } from '../src/core/scope-path.js';
import { type Harness, openHarness, quickSession } from './helpers/dispatch.js';

const file = (p: string): Scope => ({ scope_type: 'file', scope_path: p });
const prefix = (p: string): Scope => ({ scope_type: 'prefix', scope_path: p });

describe('conflict rules (contract)', () => {
  it.each([
    [file('src/a.ts'), file('src/a.ts'), true],
    [file('src/a.ts'), file('src/b.ts'), false],
    [file('src/a.ts'), prefix('src'), true],
    [prefix('src'), file('src/a.ts'), true],
    [prefix('src/api'), prefix('src'), true],
    [prefix('src'), prefix('src/api'), true],
    [prefix('src/api'), prefix('src/apix'), false],
    [file('src/apix'), prefix('src/api'), false],
    [prefix('.'), file('anything/at/all'), true],
    [file('README.md'), prefix('src'), false],
  ])('%o vs %o → %s', (a, b, expected) => {
    expect(scopesConflict(a, b)).toBe(expected);
    expect(scopesConflict(b, a)).toBe(expected);
  });

  it('normalises paths relative to the repository and its worktrees, refusing escapes', () => {
    const options = { repoPath: '/r', worktreePaths: () => ['/r/.codestrator/worktrees/w'], field: 'scope_path', allowRoot: true };
    expect(normalizeScopePath('./src//a.ts', options)).toBe('src/a.ts');
    expect(normalizeScopePath('src/', options)).toBe('src');
    expect(normalizeScopePath('/r/src/a.ts', options)).toBe('src/a.ts');
    expect(normalizeScopePath('/r/.codestrator/worktrees/w/src/a.ts', options)).toBe('src/a.ts');
    expect(normalizeScopePath('', options)).toBe('.');
    expect(() => normalizeScopePath('../etc/passwd', options)).toThrow(/escapes/);
    expect(() => normalizeScopePath('src/../../x', options)).toThrow(/escapes/);
    expect(() => normalizeScopePath('/etc/passwd', options)).toThrow(/outside the repository/);
    expect(() => normalizeScopePath('.', { ...options, allowRoot: false })).toThrow(/file scope/);
  });
});

describe('lock methods', () => {
  let h: Harness;
  let a: number;
  let b: number;
  beforeAll(async () => {
    h = openHarness();
    a = await quickSession(h);
    b = await quickSession(h);
  });
  afterAll(() => h.repo.cleanup());

  it('names the holder, its scope and expiry on conflict, and is re-entrant for the owner', async () => {
    const first = await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: 'src/auth', ttl_seconds: 120, session_id: a });
    const conflict = await h.fail('lock.acquire', { scope_type: 'file', scope_path: 'src/auth/login.ts', session_id: b });
    expect(conflict.code).toBe('LOCKED');
    expect(conflict.message).toMatch(
      new RegExp(`lock ${first.lock.id} \\(prefix src/auth\\) held by session:${a} until .* \\(in 1[12][0-9] s\\)`),
    );
    expect(conflict.data).toMatchObject({ conflicts: [{ lock_id: first.lock.id, owner: `session:${a}`, scope_path: 'src/auth' }] });
    const again = await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: './src/auth/', session_id: a });
    expect(again).toMatchObject({ reentrant: true, lock: { id: first.lock.id, fence: first.lock.fence } });
    const nested = await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'src/auth/login.ts', session_id: a });
    expect(nested.lock.fence).toBeGreaterThan(first.lock.fence);
    const sibling = await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'src/authx.ts', session_id: b });
    expect(sibling.lock.fence).toBeGreaterThan(nested.lock.fence);
    const covering = await h.ok('lock.list', { path: 'src/auth/login.ts' });
    expect(covering.items.map((l: { id: number }) => l.id).sort()).toEqual([first.lock.id, nested.lock.id].sort());
    expect((await h.ok('lock.list', { owner: `session:${b}` })).count).toBe(1);
  });

  it('lets only the owner heartbeat or release, unless forced with a reason', async () => {
    const lock = (await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'docs/guide.md', session_id: a })).lock;
    expect((await h.fail('lock.release', { lock_id: lock.id, session_id: b })).code).toBe('NOT_OWNER');
    expect((await h.fail('lock.heartbeat', { lock_id: lock.id, session_id: b })).code).toBe('NOT_OWNER');
    expect((await h.fail('lock.release', { lock_id: lock.id })).code).toBe('NOT_OWNER');
    const beat = await h.ok('lock.heartbeat', { lock_id: lock.id, ttl_seconds: 900, session_id: a });
    expect(beat.lock.lease_until).toBeGreaterThan(lock.lease_until);
    const forced = await h.ok('lock.release', { lock_id: lock.id, session_id: b, force: true, reason: 'owner is gone' });
    expect(forced.lock).toMatchObject({ state: 'released', release_reason: 'forced: owner is gone' });
    expect((await h.ok('lock.release', { lock_id: lock.id, session_id: a })).already_released).toBe(true);
    expect((await h.fail('lock.release', { lock_id: 424242, session_id: a })).code).toBe('NOT_FOUND');
  });

  it('decides expiry at read time: an expired lease frees the scope and cannot be revived', async () => {
    const lock = (await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'tmp/short.txt', ttl_seconds: 1, session_id: a })).lock;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await h.ok('lock.list', { path: 'tmp/short.txt' })).count).toBe(0);
    expect((await h.fail('lock.heartbeat', { lock_id: lock.id, session_id: a })).code).toBe('PRECONDITION_FAILED');
    const taken = await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'tmp/short.txt', session_id: b });
    expect(taken.lock.fence).toBeGreaterThan(lock.fence);
  });

  it('refuses paths outside the repository and maps worktree paths to repository paths', async () => {
    expect((await h.fail('lock.acquire', { scope_type: 'file', scope_path: '../outside', session_id: a })).field).toBe('scope_path');
    expect((await h.fail('lock.acquire', { scope_type: 'file', scope_path: '/etc/passwd', session_id: a })).field).toBe('scope_path');
    const opened = await h.ok('session.open', { worktree_name: 'mapper' });
    const viaWorktree = await h.ok('lock.acquire', {
      scope_type: 'file',
      scope_path: join(opened.worktree.path, 'lib', 'x.ts'),
      session_id: opened.session.id,
    });
    expect(viaWorktree.lock.scope_path).toBe('lib/x.ts');
    expect((await h.fail('lock.acquire', { scope_type: 'file', scope_path: join(h.repo.path, 'lib/x.ts'), session_id: a })).code).toBe(
      'LOCKED',
    );
  });

  it('counts paths locked by others in scheduler.decide_worktree', async () => {
    await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: 'pkg/core', session_id: a });
    const decision = await h.ok('scheduler.decide_worktree', {
      changed_files: 2,
      estimate_minutes: 30,
      paths: ['pkg/core/x.ts', 'pkg/other.ts'],
      session_id: b,
    });
    expect(decision.locked_paths).toEqual([{ path: 'pkg/core/x.ts', lock_ids: [expect.any(Number)] }]);
    expect(decision.score).toBe(2 + 2 + 2);
    const contract = await h.ok('scheduler.decide_worktree', {
      changed_files: 6,
      estimate_minutes: 60,
      risk: 2,
      parallel_workers: 2,
      conflicting_paths: 2,
    });
    expect(contract).toMatchObject({ mode: 'worktree', score: 24 });
    expect(
      (
        await h.ok('scheduler.decide_worktree', {
          changed_files: 2,
          estimate_minutes: 15,
          risk: 1,
          parallel_workers: 1,
          conflicting_paths: 1,
        })
      ).mode,
    ).toBe('shared');
  });
});
