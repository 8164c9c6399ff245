import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/database.js';
import { migrations } from '../src/store/migrations/index.js';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { git } from './helpers/repo.js';

/** Issue 10: worktree.create / worktree.spawn accept the contract's path, base_ref and create_on_disk with their meaning. */

let h: Harness;
let outside: string;

beforeAll(() => {
  h = openHarness();
  outside = dirname(h.repo.path);
});
afterAll(() => h.repo.cleanup());

const branchExists = (branch: string) => git(h.repo.path, 'branch', '--list', branch).trim() !== '';
const headOf = (path: string) => git(path, 'rev-parse', 'HEAD').trim();
const branchOf = (path: string) => git(path, 'rev-parse', '--abbrev-ref', 'HEAD').trim();
const gitWorktrees = () => git(h.repo.path, 'worktree', 'list', '--porcelain');
const commitIn = (path: string, file: string) => {
  writeFileSync(join(path, file), `${file}\n`);
  git(path, 'add', file);
  git(path, 'commit', '-q', '-m', `add ${file}`);
  return headOf(path);
};

describe('create_on_disk: false plans a worktree', () => {
  it('worktree.create records a planned row with nothing on disk and no branch, and a later call with its branch creates it', async () => {
    const planned = await h.ok('worktree.create', { branch: 'feature/planned-login', create_on_disk: false });
    expect(planned.worktree).toMatchObject({ status: 'planned', branch: 'feature/planned-login' });
    expect(planned.created_on_disk).toBe(false);
    expect(planned.materialize_with).toEqual({
      method: 'worktree.create',
      params: { branch: 'feature/planned-login', create_on_disk: true },
    });
    expect(existsSync(planned.worktree.path)).toBe(false);
    expect(branchExists('feature/planned-login')).toBe(false);
    const listed = await h.ok('worktree.list', { state: 'planned' });
    expect(listed.items).toEqual([expect.objectContaining({ id: planned.worktree.id, exists: false, ahead: null })]);
    // The name is reserved: planning it again is a conflict that says how to create it.
    const again = await h.fail('worktree.create', { branch: 'feature/planned-login', create_on_disk: false });
    expect(again).toMatchObject({ code: 'CONFLICT', field: 'branch' });
    expect(again.hint).toMatch(/create_on_disk: true/);

    // main moves on before the worktree is created: it starts from main's tip at creation time.
    const tip = commitIn(h.repo.path, 'after-plan.txt');
    const created = await h.ok('worktree.create', { branch: 'feature/planned-login' });
    expect(created.materialized).toBe(true);
    expect(created.worktree).toMatchObject({ id: planned.worktree.id, status: 'active', path: planned.worktree.path, base_sha: tip });
    expect(branchOf(created.worktree.path)).toBe('feature/planned-login');
    expect(headOf(created.worktree.path)).toBe(tip);
  });

  it('worktree.spawn plans a child of a parent, created later from the parent tip of that moment', async () => {
    const parent = (await h.ok('worktree.create', { name: 'spawn parent' })).worktree;
    const planned = await h.ok('worktree.spawn', { parent_worktree_id: parent.id, branch: 'child/planned', create_on_disk: false });
    expect(planned.worktree).toMatchObject({ status: 'planned', parent_worktree_id: parent.id });
    expect(planned.materialize_with.method).toBe('worktree.spawn');
    expect(branchExists('child/planned')).toBe(false);
    // gc keeps it and says why; conflicts refuses to compare a branch that does not exist yet.
    const gc = await h.ok('worktree.gc', {});
    expect(gc.keep.find((k: { worktree_id: number }) => k.worktree_id === planned.worktree.id).reason).toMatch(/^planned/);
    expect(await h.fail('worktree.conflicts', { worktree_ids: [planned.worktree.id] })).toMatchObject({
      code: 'PRECONDITION_FAILED',
      field: 'worktree_ids.0',
    });

    const parentTip = commitIn(parent.path, 'parent-work.txt');
    expect(await h.fail('worktree.spawn', { branch: 'child/planned', parent_worktree_id: 1 })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'parent_worktree_id',
    });
    const created = await h.ok('worktree.spawn', { branch: 'child/planned' });
    expect(created.worktree).toMatchObject({ id: planned.worktree.id, status: 'active' });
    expect(created.parent.id).toBe(parent.id);
    expect(headOf(created.worktree.path)).toBe(parentTip);
  });

  it('worktree.remove of a planned worktree drops the row only, never a branch or directory that took its name', async () => {
    const planned = (await h.ok('worktree.create', { branch: 'feature/dropped', create_on_disk: false })).worktree;
    git(h.repo.path, 'branch', 'feature/dropped');
    mkdirSync(planned.path);
    writeFileSync(join(planned.path, 'someone-else.txt'), 'x');
    // Creating it now is refused: its branch was made outside codestrator.
    expect(await h.fail('worktree.create', { branch: 'feature/dropped' })).toMatchObject({ code: 'CONFLICT', field: 'branch' });
    const removed = await h.ok('worktree.remove', { worktree_id: planned.id });
    expect(removed.worktree.status).toBe('removed');
    expect(branchExists('feature/dropped')).toBe(true);
    expect(readdirSync(planned.path)).toEqual(['someone-else.txt']);
  });
});

describe('creating a planned worktree twice at once', () => {
  it('creates it once: the other caller gets a conflict and nothing is left half made', async () => {
    const planned = (await h.ok('worktree.create', { branch: 'feature/raced', create_on_disk: false })).worktree;
    const other = h.as({});
    const outcomes = await Promise.allSettled([
      h.ok('worktree.create', { branch: 'feature/raced' }),
      other.ok('worktree.create', { branch: 'feature/raced' }),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(String(lost[0]!.reason)).toMatch(/CONFLICT/);
    expect(h.db().prepare('SELECT status FROM worktrees WHERE id = ?').get(planned.id)).toEqual({ status: 'active' });
    expect(branchOf(planned.path)).toBe('feature/raced');
  });
});

describe('path', () => {
  it('honours a relative path (from the repo root) and an absolute one outside the repository', async () => {
    const relative = await h.ok('worktree.create', { name: 'sibling', path: '../sibling-wt' });
    expect(relative.worktree.path).toBe(join(outside, 'sibling-wt'));
    expect(branchOf(join(outside, 'sibling-wt'))).toBe(relative.worktree.branch);
    // gc leaves a worktree at a caller's path alone, and says so.
    const gc = await h.ok('worktree.gc', {});
    expect(gc.keep.find((k: { worktree_id: number }) => k.worktree_id === relative.worktree.id).reason).toMatch(/at a caller's path/);
    const empty = join(outside, 'empty-target');
    mkdirSync(empty);
    const absolute = await h.ok('worktree.spawn', { parent_worktree_id: relative.worktree.id, path: empty, branch: 'child/abs' });
    expect(absolute.worktree.path).toBe(empty);
    expect(branchOf(empty)).toBe('child/abs');
    expect(gitWorktrees()).toContain(`worktree ${empty}\n`);
    // Under the state directory's worktrees directory is allowed too.
    const own = await h.ok('worktree.create', { name: 'own', path: '.codestrator/worktrees/custom-name' });
    expect(own.worktree.path).toBe(join(h.repo.path, '.codestrator/worktrees/custom-name'));
    // A planned worktree keeps its path until it is created there.
    const later = await h.ok('worktree.create', { branch: 'feature/later', path: '../later-wt', create_on_disk: false });
    expect(later.worktree).toMatchObject({ status: 'planned', path: join(outside, 'later-wt') });
    expect(existsSync(join(outside, 'later-wt'))).toBe(false);
    const made = await h.ok('worktree.create', { branch: 'feature/later' });
    expect(made.worktree.path).toBe(join(outside, 'later-wt'));
    expect(branchOf(made.worktree.path)).toBe('feature/later');
  });

  it('refuses hostile paths with INVALID_ARGUMENT on path and changes nothing', async () => {
    const parent = (await h.ok('worktree.create', { name: 'hostile parent' })).worktree;
    const full = join(outside, 'full-dir');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine');
    mkdirSync(join(outside, 'real-empty'));
    symlinkSync(join(outside, 'real-empty'), join(outside, 'link-to-empty'));
    // A symlink inside the worktrees directory that leads back into the main checkout.
    symlinkSync(h.repo.path, join(h.repo.path, '.codestrator/worktrees/escape'));
    writeFileSync(join(outside, 'a-file'), 'x');
    const hostile: [string, RegExp][] = [
      [full, /not empty/],
      [join(parent.path, 'nested'), /inside worktree \d+'s checkout/],
      ['.git/wt', /inside \.git/],
      ['src/wt', /needs an existing parent/],
      ['wt-inside', /inside the main checkout/],
      ['.codestrator/logs/wt', /inside the state directory/],
      [
        '.codestrator/worktrees/escape/evil',
        /through a symlink it is .*inside the main checkout|inside the main checkout .*through a symlink/,
      ],
      [join(outside, 'link-to-empty'), /is a symlink/],
      [join(outside, 'a-file'), /not a directory/],
      ['../no/such/parent', /needs an existing parent/],
      ['/', /filesystem root|not empty/],
    ];
    const db = h.db();
    const rows = () => db.prepare('SELECT count(*) AS n FROM worktrees').get();
    const before = { rows: rows(), worktrees: gitWorktrees(), branches: git(h.repo.path, 'branch', '--list') };
    for (const [path, message] of hostile) {
      for (const method of ['worktree.create', 'worktree.spawn']) {
        const params = method === 'worktree.spawn' ? { parent_worktree_id: parent.id } : {};
        const error = await h.fail(method, { ...params, path, branch: 'feature/hostile' });
        expect(error, `${method} ${path}`).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'path' });
        expect(error.message, `${method} ${path}`).toMatch(message);
      }
      expect((await h.fail('worktree.create', { path, create_on_disk: false })).field).toBe('path');
    }
    expect({ rows: rows(), worktrees: gitWorktrees(), branches: git(h.repo.path, 'branch', '--list') }).toEqual(before);
    expect(readdirSync(full)).toEqual(['keep.txt']);
    expect(existsSync(join(h.repo.path, 'wt-inside'))).toBe(false);
  });
});

describe('base_ref', () => {
  it('worktree.create and worktree.spawn branch from base_ref (any commit git resolves), not the main or parent tip', async () => {
    const first = git(h.repo.path, 'rev-list', '--max-parents=0', 'HEAD').trim();
    const created = await h.ok('worktree.create', { name: 'from first', base_ref: first });
    expect(headOf(created.worktree.path)).toBe(first);
    const parent = (await h.ok('worktree.create', { name: 'moving parent' })).worktree;
    const parentTip = commitIn(parent.path, 'parent-only.txt');
    const child = await h.ok('worktree.spawn', { parent_worktree_id: parent.id, base_ref: 'main~1', name: 'older base' });
    const expected = git(h.repo.path, 'rev-parse', 'main~1').trim();
    expect(headOf(child.worktree.path)).toBe(expected);
    expect(expected).not.toBe(parentTip);
    expect(child.worktree.parent_worktree_id).toBe(parent.id);
    for (const bad of ['no-such-ref', '--output=/tmp/x', 'main~999']) {
      const error = await h.fail('worktree.spawn', { parent_worktree_id: parent.id, base_ref: bad });
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'base_ref' });
    }
  });
});

describe('migration 010 (planned worktrees)', () => {
  it('rebuilds the worktrees table with its rows and references, accepts planned, and still enforces foreign keys', () => {
    const path = join(outside, 'upgrade.db');
    const old = new SqliteStore(path, { migrations: migrations.filter((m) => m.version <= 7) });
    old.write((sql) => {
      sql.run(
        `INSERT INTO worktrees (kind, slug, path, branch, base_branch, base_sha, status, created_at, updated_at)
         VALUES ('session_root', 'root', '/x/root', 'codestrator/root', 'main', 'abc', 'active', 1, 1)`,
      );
      sql.run(
        `INSERT INTO sessions (repo_path, agent_role, intent, status, heartbeat_timeout_seconds, worktree_id, started_at, last_seen_at)
         VALUES ('/x', 'worker', 'new_work', 'active', 60, 1, 1, 1)`,
      );
    });
    old.close();
    const store = new SqliteStore(path);
    expect(store.schemaVersion).toBeGreaterThanOrEqual(10);
    expect(store.read((sql) => sql.get('SELECT slug, status FROM worktrees WHERE id = 1'))).toEqual({ slug: 'root', status: 'active' });
    store.write((sql) =>
      sql.run(
        `INSERT INTO worktrees (kind, slug, path, branch, base_branch, base_sha, parent_worktree_id, status, created_at, updated_at)
         VALUES ('task', 'p', '/x/p', 'p', 'main', 'abc', 1, 'planned', 1, 1)`,
      ),
    );
    expect(() => store.write((sql) => sql.run('UPDATE sessions SET worktree_id = 999 WHERE id = 1'))).toThrow(/FOREIGN KEY/);
    store.close();
    const raw = new Database(path);
    expect(raw.pragma('foreign_key_check')).toEqual([]);
    expect(raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'sessions'").get()).toMatchObject({
      sql: expect.stringContaining('REFERENCES worktrees(id)'),
    });
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'worktrees_owner'").get()).toBeDefined();
    raw.close();
  });
});
