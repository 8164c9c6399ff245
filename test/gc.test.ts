import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { openServices } from '../src/app/open-services.js';
import { renderGc } from '../src/cli/gc.js';
import type { CoreContext } from '../src/core/context.js';
import type { GcFacts } from '../src/core/gc-facts.js';
import { type GcResult, applyGc, planGc } from '../src/core/gc.js';
import { gcMethods } from '../src/methods/gc.js';
import { methods } from '../src/methods/index.js';
import { createRegistry } from '../src/registry/define.js';
import { Dispatcher, type Services } from '../src/registry/dispatch.js';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { git } from './helpers/repo.js';

/** A clean worktree, merged into the target by ancestry, that nobody holds: gc removes it. */
const fact = (overrides: Partial<GcFacts> = {}): GcFacts => ({
  worktreeId: 1,
  path: '/repo/.codestrator/worktrees/login',
  branch: 'codestrator/login',
  status: 'active',
  foreign: null,
  exists: true,
  branchExists: true,
  dirtyPaths: [],
  merged: 'ancestor',
  ahead: 0,
  untouched: false,
  heldBy: null,
  activeCase: null,
  openQueueItem: null,
  unmergedChildren: [],
  ownCheckout: true,
  checkedOutElsewhere: null,
  logs: [],
  ...overrides,
});

const decide = (overrides: Partial<GcFacts>) => {
  const plan = planGc([fact(overrides)], 'main');
  expect(plan.remove.length + plan.keep.length).toBe(1);
  return plan.remove[0] ? { remove: plan.remove[0].reason } : { keep: plan.keep[0]!.reason };
};

describe('planGc', () => {
  it('removes merged, identical-patch, untouched and stale-reservation worktrees, with their logs', () => {
    const plan = planGc([fact({ logs: ['/repo/.codestrator/logs/gate-3.log'] })], 'main');
    expect(plan).toEqual({
      remove: [
        {
          worktree_id: 1,
          path: '/repo/.codestrator/worktrees/login',
          branch: 'codestrator/login',
          reason: 'merged',
          logs: ['/repo/.codestrator/logs/gate-3.log'],
        },
      ],
      keep: [],
    });
    expect(decide({ merged: 'identical patch', ahead: 2 })).toEqual({ remove: 'identical patch' });
    expect(decide({ untouched: true })).toEqual({ remove: 'abandoned' });
    expect(decide({ status: 'creating', untouched: true })).toEqual({ remove: 'stale reservation' });
    expect(decide({ exists: false, ownCheckout: false })).toEqual({ remove: 'merged' });
    // Nothing left but the row: no directory, no branch.
    expect(decide({ exists: false, ownCheckout: false, branchExists: false, merged: null })).toEqual({ remove: 'abandoned' });
    expect(decide({ status: 'creating', exists: false, ownCheckout: false, branchExists: false, merged: null })).toEqual({
      remove: 'stale reservation',
    });
  });

  it('always keeps a branch with commits that are not in the target, even when nobody holds it', () => {
    expect(decide({ merged: null, ahead: 3 })).toEqual({ keep: 'unmerged: 3 commits not in main' });
    expect(decide({ merged: null, ahead: 1, exists: false, ownCheckout: false })).toEqual({ keep: 'unmerged: 1 commit not in main' });
    expect(decide({ merged: null, ahead: 1, status: 'creating' })).toEqual({ keep: 'unmerged: 1 commit not in main' });
  });

  it('keeps dirty, held, busy, parent and checked-out worktrees even when merged', () => {
    expect(decide({ dirtyPaths: ['a.ts', 'b.ts', 'c.ts', 'd.ts'] })).toEqual({ keep: 'dirty: 4 changed files, e.g. a.ts, b.ts, c.ts' });
    expect(decide({ dirtyPaths: ['a.ts'], untouched: true })).toEqual({ keep: 'dirty: 1 changed file, e.g. a.ts' });
    expect(decide({ heldBy: 'live session:3' })).toEqual({ keep: 'held by live session:3' });
    expect(decide({ activeCase: 'case 12 of session:3' })).toEqual({ keep: 'case 12 of session:3 is in progress' });
    expect(decide({ openQueueItem: 'item 4, checking' })).toEqual({ keep: 'in the merge queue (item 4, checking)' });
    expect(decide({ unmergedChildren: [5, 6] })).toEqual({ keep: 'child worktrees not merged yet: 5, 6' });
    expect(decide({ checkedOutElsewhere: 'the main checkout' })).toEqual({ keep: 'checked out in the main checkout' });
    expect(decide({ ownCheckout: false })).toEqual({
      keep: 'its checkout is not on codestrator/login (another branch or a detached HEAD)',
    });
    expect(decide({ ownCheckout: false, branchExists: false, merged: null })).toEqual({
      keep: 'its checkout is not on codestrator/login (another branch or a detached HEAD)',
    });
  });

  it('never acts on rows codestrator did not name, and the first reason to keep wins', () => {
    const foreign = 'not created by codestrator: branch feature/x is outside codestrator/ (worktree.remove removes it)';
    expect(decide({ foreign, branch: 'feature/x', dirtyPaths: ['a.ts'] })).toEqual({ keep: foreign });
    expect(decide({ dirtyPaths: ['a.ts'], heldBy: 'live thread:4', merged: null, ahead: 2 })).toEqual({
      keep: 'dirty: 1 changed file, e.g. a.ts',
    });
  });

  it('plans every row, in order', () => {
    const plan = planGc(
      [fact({ worktreeId: 1 }), fact({ worktreeId: 2, merged: null, ahead: 1 }), fact({ worktreeId: 3, untouched: true })],
      'dev',
    );
    expect(plan.remove.map((item) => [item.worktree_id, item.reason])).toEqual([
      [1, 'merged'],
      [3, 'abandoned'],
    ]);
    expect(plan.keep).toEqual([
      { worktree_id: 2, path: '/repo/.codestrator/worktrees/login', branch: 'codestrator/login', reason: 'unmerged: 1 commit not in dev' },
    ]);
  });
});

const harnesses: Harness[] = [];
afterAll(() => harnesses.forEach((h) => h.repo.cleanup()));
afterEach(() => vi.restoreAllMocks());

// Until worktree.gc is listed in methods/index.ts, the test adds it to the table itself.
const registry = createRegistry(methods.some((def) => def.name === 'worktree.gc') ? methods : [...methods, ...gcMethods]);

function gcDispatcher(h: Harness): { dispatcher: Dispatcher; context: () => Promise<CoreContext> } {
  let services: Promise<Services> | undefined;
  const open = () => (services ??= openServices(h.repo.path, {}));
  return {
    dispatcher: new Dispatcher({ registry, services: open, envIdentity: () => ({}) }),
    context: async () => {
      const s = await open();
      return { ...s, config: s.config(), actor: {}, now: Date.now };
    },
  };
}

async function gc(dispatcher: Dispatcher, params: Record<string, unknown> = {}): Promise<GcResult> {
  const outcome = await dispatcher.call('worktree.gc', params);
  if (!outcome.ok) throw new Error(`worktree.gc failed: ${JSON.stringify(outcome.error)}`);
  return outcome.result as unknown as GcResult;
}

/** Captures what renderGc writes to stdout. */
async function render(dispatcher: Dispatcher, options: { apply: boolean; json: boolean }): Promise<{ code: number; out: string }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const code = await renderGc(dispatcher, options);
  vi.restoreAllMocks();
  return { code, out };
}

const branches = (h: Harness) => git(h.repo.path, 'branch', '--list', '--format=%(refname:short)').split('\n').filter(Boolean);
const gitWorktrees = (h: Harness) =>
  git(h.repo.path, 'worktree', 'list', '--porcelain')
    .split('\n')
    .filter((line) => line.startsWith('worktree '))
    .map((line) => line.slice('worktree '.length));

interface Opened {
  session: number;
  id: number;
  path: string;
  branch: string;
}

async function open(h: Harness, request: string): Promise<Opened> {
  const r = await h.ok('session.open', { user_request: request });
  return { session: r.session.id, id: r.worktree.id, path: r.worktree.path, branch: r.worktree.branch };
}

function commit(cwd: string, file: string, text = `${file}\n`): void {
  writeFileSync(join(cwd, file), text);
  git(cwd, 'add', file);
  git(cwd, 'commit', '-q', '-m', `add ${file}`);
}

describe('worktree.gc on a real repository', () => {
  it('removes merged, identical-patch and untouched worktrees; keeps dirty, unmerged, live and foreign ones', async () => {
    const h = openHarness();
    harnesses.push(h);
    const { dispatcher } = gcDispatcher(h);
    const merged = await open(h, 'merged work');
    const picked = await open(h, 'picked work');
    commit(merged.path, 'merged.txt');
    commit(picked.path, 'picked.txt');
    git(h.repo.path, 'merge', '-q', '--no-ff', '-m', 'merge merged work', merged.branch);
    // main has moved on, so the cherry-pick is a new commit with the same patch.
    git(h.repo.path, 'cherry-pick', git(picked.path, 'rev-parse', 'HEAD').trim());
    const idle = await open(h, 'idle work');
    const dirty = await open(h, 'dirty work');
    writeFileSync(join(dirty.path, 'notes.txt'), 'not committed\n');
    const unmerged = await open(h, 'unmerged work');
    commit(unmerged.path, 'unmerged.txt');
    const live = await open(h, 'live work');
    commit(live.path, 'live.txt');
    git(h.repo.path, 'merge', '-q', '--no-ff', '-m', 'merge live work', live.branch);
    for (const s of [merged, picked, idle, dirty, unmerged]) await h.ok('session.close', { session_id: s.session });
    // The user's own worktrees: one on a codestrator-looking branch inside the worktrees dir, one elsewhere.
    const handmade = join(h.repo.path, '.codestrator', 'worktrees', 'handmade');
    git(h.repo.path, 'worktree', 'add', '-q', '-b', 'codestrator/handmade', handmade, 'main');
    const userTree = join(h.repo.path, '..', 'user-tree');
    git(h.repo.path, 'worktree', 'add', '-q', '-b', 'feature/user', userTree, 'main');
    // Logs of the merged worktree, and one of another worktree whose id starts with the same digit.
    const logs = join(h.repo.path, '.codestrator', 'logs');
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(logs, 'gate-1.log'), 'gate passed\n');
    writeFileSync(join(logs, `worktree-${merged.id}.log`), 'runner output\n');
    writeFileSync(join(logs, `worktree-${merged.id}0.log`), 'someone else\n');
    h.db()
      .prepare(
        `INSERT INTO merge_queue (source_worktree_id, source_branch, target_branch, state, gate_log_path, created_at, updated_at)
         VALUES (?, ?, 'main', 'merged', ?, 0, 0)`,
      )
      .run(merged.id, merged.branch, join(logs, 'gate-1.log'));

    const dry = await gc(dispatcher);
    expect(dry.dry_run).toBe(true);
    expect(dry.target_branch).toBe('main');
    expect(dry.removed_count).toBe(0);
    expect(dry.remove.map((item) => [item.worktree_id, item.reason])).toEqual([
      [merged.id, 'merged'],
      [picked.id, 'identical patch'],
      [idle.id, 'abandoned'],
    ]);
    expect(dry.remove[0]!.logs).toEqual([join(logs, 'gate-1.log')]);
    expect(dry.keep).toEqual([
      { worktree_id: dirty.id, path: dirty.path, branch: dirty.branch, reason: 'dirty: 1 changed file, e.g. notes.txt' },
      { worktree_id: unmerged.id, path: unmerged.path, branch: unmerged.branch, reason: 'unmerged: 1 commit not in main' },
      { worktree_id: live.id, path: live.path, branch: live.branch, reason: `held by live session:${live.session}` },
    ]);
    // A dry run changes nothing.
    for (const w of [merged, picked, idle]) expect(existsSync(w.path)).toBe(true);
    expect(branches(h)).toContain(merged.branch);

    const table = await render(dispatcher, { apply: false, json: false });
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^ACTION {2}WORKTREE +BRANCH +REASON\n/);
    expect(table.out).toContain(`remove  ${merged.id} ${basename(merged.path)}  `);
    expect(table.out).toContain(`keep    ${unmerged.id} ${basename(unmerged.path)}  `);
    expect(table.out.trimEnd().split('\n').at(-1)).toBe('dry run: pass --apply to remove 3 worktrees');

    const applied = await render(dispatcher, { apply: true, json: true });
    expect(applied.code).toBe(0);
    const result = JSON.parse(applied.out) as GcResult;
    expect(result.dry_run).toBe(false);
    expect(result.removed_count).toBe(3);
    expect(result.keep.map((item) => item.worktree_id)).toEqual([dirty.id, unmerged.id, live.id]);
    expect(result.remove.flatMap((item) => item.logs).sort()).toEqual(
      [join(logs, 'gate-1.log'), join(logs, `worktree-${merged.id}.log`)].sort(),
    );
    expect(existsSync(join(logs, 'gate-1.log'))).toBe(false);
    expect(existsSync(join(logs, `worktree-${merged.id}0.log`))).toBe(true);

    for (const w of [merged, picked, idle]) {
      expect(existsSync(w.path)).toBe(false);
      expect(branches(h)).not.toContain(w.branch);
      expect(gitWorktrees(h)).not.toContain(w.path);
    }
    const rows = h.db().prepare("SELECT id, removed_at FROM worktrees WHERE status = 'removed' ORDER BY id").all() as {
      id: number;
      removed_at: number;
    }[];
    expect(rows.map((row) => row.id)).toEqual([merged.id, picked.id, idle.id]);
    expect(rows.every((row) => row.removed_at > 0)).toBe(true);
    // What was kept is intact, and the merged work is still in main.
    expect(existsSync(join(dirty.path, 'notes.txt'))).toBe(true);
    expect(git(unmerged.path, 'log', '-1', '--format=%s').trim()).toBe('add unmerged.txt');
    expect(branches(h)).toEqual(
      expect.arrayContaining([dirty.branch, unmerged.branch, live.branch, 'codestrator/handmade', 'feature/user']),
    );
    expect(existsSync(join(live.path, 'live.txt'))).toBe(true);
    expect(existsSync(handmade) && existsSync(userTree)).toBe(true);
    expect(gitWorktrees(h)).toEqual(expect.arrayContaining([handmade, userTree]));
    expect(git(h.repo.path, 'show', 'main:merged.txt')).toBe('merged.txt\n');

    const again = await render(dispatcher, { apply: true, json: false });
    expect(again.out.trimEnd().split('\n').at(-1)).toBe('removed 0 worktrees');
    expect(again.out).toContain(`kept    ${dirty.id} ${basename(dirty.path)}  `);
  });

  it('removes stale reservations, ignores fresh ones, and validates the target', async () => {
    const h = openHarness();
    harnesses.push(h);
    const { dispatcher } = gcDispatcher(h);
    await gc(dispatcher); // creates the state directory and database
    const dir = join(h.repo.path, '.codestrator', 'worktrees');
    const base = git(h.repo.path, 'rev-parse', 'main').trim();
    git(h.repo.path, 'worktree', 'add', '-q', '-b', 'codestrator/crashed', join(dir, 'crashed'), 'main');
    const insert = h.db().prepare(
      `INSERT INTO worktrees (kind, slug, path, branch, base_branch, base_sha, status, created_at, updated_at)
         VALUES ('task', ?, ?, ?, 'main', ?, 'creating', ?, ?)`,
    );
    const old = Date.now() - 11 * 60_000;
    const crashed = Number(insert.run('crashed', join(dir, 'crashed'), 'codestrator/crashed', base, old, old).lastInsertRowid);
    insert.run('starting', join(dir, 'starting'), 'codestrator/starting', base, Date.now(), Date.now());
    const foreign = Number(
      h
        .db()
        .prepare(
          `INSERT INTO worktrees (kind, slug, path, branch, base_branch, base_sha, status, created_at, updated_at)
           VALUES ('task', 'mine', ?, 'feature/mine', 'main', ?, 'active', 0, 0)`,
        )
        .run(join(dir, 'mine'), base).lastInsertRowid,
    );

    const dry = await gc(dispatcher);
    expect(dry.remove.map((item) => [item.worktree_id, item.reason])).toEqual([[crashed, 'stale reservation']]);
    expect(dry.keep).toEqual([
      {
        worktree_id: foreign,
        path: join(dir, 'mine'),
        branch: 'feature/mine',
        reason: 'not created by codestrator: branch feature/mine is outside codestrator/ (worktree.remove removes it)',
      },
    ]);
    const applied = await gc(dispatcher, { apply: true });
    expect(applied.removed_count).toBe(1);
    expect(existsSync(join(dir, 'crashed'))).toBe(false);
    expect(branches(h)).toEqual(['main']);

    const bad = await dispatcher.call('worktree.gc', { target_branch: '--exec=evil' });
    expect(!bad.ok && bad.error.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'target_branch' });
    const missing = await dispatcher.call('worktree.gc', { target_branch: 'no-such-branch' });
    expect(!missing.ok && missing.error.error).toMatchObject({ code: 'NOT_FOUND', field: 'target_branch' });
    const unknown = await dispatcher.call('worktree.gc', { aply: true });
    expect(!unknown.ok && unknown.error.error.code).toBe('INVALID_ARGUMENT');
  });

  it('checks each worktree again before removing it: one made dirty or resumed since the plan is kept', async () => {
    const h = openHarness();
    harnesses.push(h);
    const { dispatcher, context } = gcDispatcher(h);
    const a = await open(h, 'first idea');
    const b = await open(h, 'second idea');
    const c = await open(h, 'third idea');
    for (const s of [a, b, c]) await h.ok('session.close', { session_id: s.session });
    const plan = await gc(dispatcher);
    expect(plan.remove.map((item) => item.worktree_id)).toEqual([a.id, b.id, c.id]);
    writeFileSync(join(a.path, 'late.txt'), 'written after the plan\n');
    const taker = await open(h, 'taker');
    h.db().prepare('UPDATE worktrees SET owner_session_id = ? WHERE id = ?').run(taker.session, b.id);

    const done = await applyGc(await context(), { remove: plan.remove, keep: plan.keep }, 'main');
    expect(done.remove.map((item) => item.worktree_id)).toEqual([c.id]);
    expect(done.keep).toEqual([
      { worktree_id: a.id, path: a.path, branch: a.branch, reason: 'dirty: 1 changed file, e.g. late.txt' },
      { worktree_id: b.id, path: b.path, branch: b.branch, reason: `held by live session:${taker.session}` },
    ]);
    expect(existsSync(join(a.path, 'late.txt')) && existsSync(b.path)).toBe(true);
    expect(existsSync(c.path)).toBe(false);
  });

  it('keeps a suspended session’s worktree until the session is closed, and one whose owner holds a case', async () => {
    const h = openHarness();
    harnesses.push(h);
    const { dispatcher } = gcDispatcher(h);
    const quiet = await open(h, 'quiet agent');
    const busy = await open(h, 'busy agent');
    h.db()
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id IN (?, ?)')
      .run(Date.now() - 3_600_000, quiet.session, busy.session);
    const epic = await h.ok('task.create', { level: 'epic', title: 'E' });
    const feature = await h.ok('task.create', { level: 'feature', title: 'F', parent_id: epic.task.id });
    const group = await h.ok('task.create', { level: 'test_group', title: 'G', parent_id: feature.task.id });
    const c = await h.ok('task.create', { level: 'case', title: 'C', parent_id: group.task.id });
    await h.ok('case.begin', { case_id: c.task.id, session_id: busy.session });
    await h.ok('session.close', { session_id: busy.session });

    const dry = await gc(dispatcher);
    expect(dry.remove).toEqual([]);
    expect(dry.keep.map((item) => item.reason)).toEqual([
      `held by session:${quiet.session}, suspended but not closed (session.cleanup closes it)`,
      `case ${c.task.id} of session:${busy.session} is in progress`,
    ]);
    await h.ok('session.cleanup', {});
    expect((await gc(dispatcher)).remove.map((item) => [item.worktree_id, item.reason])).toEqual([[quiet.id, 'abandoned']]);
  });
});
