import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { checkoutState, commitFiles, openWorkSession } from './helpers/git-plane.js';
import { git } from './helpers/repo.js';

/**
 * One lock rule on every path to a branch (core/lock-check.ts): commits that skip the pre-commit
 * hook (--no-verify, another core.hooksPath, merge_to_parent's own commit) still cannot carry a
 * path locked by another owner to a parent branch or to main, whether or not the holder is seen.
 */

const harnesses: Harness[] = [];
afterAll(() => harnesses.forEach((h) => h.repo.cleanup()));
const fresh = () => {
  const h = openHarness();
  harnesses.push(h);
  return h;
};

/** Session `holder` locks src/a.ts, then goes silent: not seen for longer than its heartbeat timeout. */
async function silentHolder(h: Harness) {
  commitFiles(h.repo.path, { 'src/a.ts': 'export const a = 1;\n' }, 'source');
  const holder = await openWorkSession(h, 'holds a lock');
  const lock = (await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'src/a.ts', ttl_seconds: 600, session_id: holder.sessionId }))
    .lock as { id: number };
  h.db().prepare('UPDATE sessions SET last_seen_at = last_seen_at - 86400000 WHERE id = ?').run(holder.sessionId);
  return { holder, lock };
}

/** A commit made without the hook: `-c core.hooksPath=/dev/null`, as --no-verify or a user's core.hooksPath does. */
const commitWithoutHook = (cwd: string, files: Record<string, string>) => commitFiles(cwd, files, 'bypass');

describe('the merge queue applies the lock rule whatever the holder’s liveness', () => {
  it('parks an item whose commits skipped the hook on a path a silent holder locked; main is unchanged', async () => {
    const h = fresh();
    const { holder, lock } = await silentHolder(h);
    // lock.acquire still refuses the scope to anyone else: the lock counts.
    const other = await openWorkSession(h, 'edits the locked file');
    expect((await h.fail('lock.acquire', { scope_type: 'file', scope_path: 'src/a.ts', session_id: other.sessionId })).code).toBe('LOCKED');
    commitWithoutHook(other.path, { 'src/a.ts': 'export const a = 2;\n' });
    const mainBefore = git(h.repo.path, 'rev-parse', 'main').trim();
    await h.ok('merge.main.request', { session_id: other.sessionId });
    const run = await h.ok('merge.main.process');
    expect(run.processed[0]).toMatchObject({ state: 'waiting' });
    expect(run.processed[0].reason).toContain(`src/a.ts (lock ${lock.id} file src/a.ts held by session:${holder.sessionId}`);
    expect(git(h.repo.path, 'rev-parse', 'main').trim()).toBe(mainBefore);
    // Once the holder releases it (or it expires, or is taken over), the item lands.
    await h.ok('lock.release', { lock_id: lock.id, session_id: holder.sessionId });
    const again = await h.ok('merge.main.process');
    expect(again.processed[0]).toMatchObject({ state: 'merged' });
    expect(checkoutState(h.repo.path).status).toBe('');
  });

  it('ignores a lock whose lease ended', async () => {
    const h = fresh();
    const { holder, lock } = await silentHolder(h);
    h.db()
      .prepare('UPDATE locks SET lease_until = ? WHERE id = ?')
      .run(Date.now() - 1000, lock.id);
    const other = await openWorkSession(h, 'edits after expiry');
    commitWithoutHook(other.path, { 'src/a.ts': 'export const a = 3;\n' });
    await h.ok('merge.main.request', { session_id: other.sessionId });
    expect((await h.ok('merge.main.process')).processed[0]).toMatchObject({ state: 'merged' });
    expect(holder.sessionId).not.toBe(other.sessionId);
  });
});

describe('worktree.merge_to_parent applies the lock rule', () => {
  it('refuses commit_changes on a path another owner locked, committing and merging nothing', async () => {
    const h = fresh();
    const { holder, lock } = await silentHolder(h);
    const s = await openWorkSession(h, 'parent');
    const child = (await h.ok('worktree.spawn', { name: 'kid', session_id: s.sessionId })).worktree as { id: number; path: string };
    writeFileSync(join(child.path, 'src', 'a.ts'), 'export const a = 4;\n');
    const before = [s.path, child.path].map(checkoutState);
    const error = await h.fail('worktree.merge_to_parent', { worktree_id: child.id, commit_changes: true, session_id: s.sessionId });
    expect(error).toMatchObject({ code: 'LOCKED', field: 'worktree_id' });
    expect(error.message).toContain(`held by session:${holder.sessionId}`);
    expect((error.data as { conflicts: { lock_id: number }[] }).conflicts[0]!.lock_id).toBe(lock.id);
    expect([s.path, child.path].map(checkoutState)).toEqual(before);
  });

  it('refuses to carry a hook-skipping commit of a locked path into the parent branch', async () => {
    const h = fresh();
    await silentHolder(h);
    const s = await openWorkSession(h, 'parent');
    const child = (await h.ok('worktree.spawn', { name: 'kid', session_id: s.sessionId })).worktree as { id: number; path: string };
    commitWithoutHook(child.path, { 'src/a.ts': 'export const a = 5;\n' });
    const parentBefore = checkoutState(s.path);
    const error = await h.fail('worktree.merge_to_parent', { worktree_id: child.id, session_id: s.sessionId });
    expect(error.code).toBe('LOCKED');
    expect(error.message).toContain('nothing was merged');
    expect(checkoutState(s.path)).toEqual(parentBefore);
  });

  it('still merges unlocked work, and work on a path the session itself locked', async () => {
    const h = fresh();
    commitFiles(h.repo.path, { 'src/a.ts': 'export const a = 1;\n' }, 'source');
    const s = await openWorkSession(h, 'parent');
    await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'src/a.ts', session_id: s.sessionId });
    const child = (await h.ok('worktree.spawn', { name: 'kid', session_id: s.sessionId })).worktree as { id: number; path: string };
    writeFileSync(join(child.path, 'src', 'a.ts'), 'export const a = 6;\n');
    const merged = await h.ok('worktree.merge_to_parent', { worktree_id: child.id, commit_changes: true, session_id: s.sessionId });
    expect(merged.result).toBe('merged');
    expect(checkoutState(s.path).status).toBe('');
  });
});
