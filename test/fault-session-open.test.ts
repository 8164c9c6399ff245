import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from './helpers/cli.js';
import { callKilledAt, expectRecovered, nextCallWithin5s } from './helpers/fault.js';
import { git, makeRepo } from './helpers/repo.js';

/**
 * session.open killed (SIGKILL) at each step of creating its worktree: before and after each git
 * command and the rows around them. The next session.open, from a fresh process, must succeed at
 * once (not after the 600 s lease of git-worktree-admin) and find nothing half-made left behind.
 */
const POINTS = ['worktree.reserved', 'worktree.add.before', 'worktree.add.after', 'worktree.hooks.after', 'worktree.created'];

const repo = makeRepo();
afterAll(() => repo.cleanup());

describe('session.open killed while it creates its worktree', () => {
  it.each(POINTS)('at %s: the next call succeeds within 5 s and nothing is left half-made', (point) => {
    callKilledAt(repo.path, point, 'session.open', { user_request: `crash at ${point}` });
    const next = nextCallWithin5s(repo.path, 'session.open', { user_request: `after ${point}` });
    expect(next.worktree.status).toBe('active');
    expectRecovered(repo.path);
    // Only the sessions that opened have branches: the crashed one's branch is gone.
    const branches = git(repo.path, 'branch', '--list', 'codestrator/*', '--format=%(refname:short)').split('\n').filter(Boolean);
    const rows = call<{ items: { branch: string }[] }>(repo.path, 'worktree.list', {}).items.map((row) => row.branch);
    expect(branches.sort()).toEqual(rows.sort());
  });

  it('the takeover of a dead holder is recorded, and the interrupted worktree rolled back', () => {
    const audits = call<{ findings: unknown[] }>(repo.path, 'system.doctor', {});
    expect(audits.findings).toEqual([]);
    const db = new Database(`${repo.path}/.codestrator/state.db`, { readonly: true });
    try {
      const methods = db
        .prepare('SELECT DISTINCT method FROM audit_events')
        .all()
        .map((row) => (row as { method: string }).method);
      expect(methods).toEqual(expect.arrayContaining(['named_lock.takeover', 'recovery.worktree']));
    } finally {
      db.close();
    }
  });
});
