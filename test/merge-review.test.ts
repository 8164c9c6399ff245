import Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envIdentity } from '../src/app/services.js';
import { openServices } from '../src/app/open-services.js';
import { methods } from '../src/methods/index.js';
import { mergeReviewMethods } from '../src/methods/merge-review.js';
import { createRegistry } from '../src/registry/define.js';
import { Dispatcher, type Services } from '../src/registry/dispatch.js';
import type { CallError } from './helpers/dispatch.js';
import { type TempRepo, git, makeRepo } from './helpers/repo.js';

/**
 * A dispatcher over the method table plus the merge-review methods, whether or not
 * src/methods/index.ts lists them yet (once it does, openHarness() from helpers/dispatch works too).
 */
const registry = createRegistry([...methods.filter((m) => !mergeReviewMethods.some((d) => d.name === m.name)), ...mergeReviewMethods]);

let repo: TempRepo;
let dispatcher: Dispatcher;
let database: Database.Database | undefined;

async function ok<T = Record<string, any>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
  const outcome = await dispatcher.call(method, params);
  if (!outcome.ok) throw new Error(`${method} failed: ${JSON.stringify(outcome.error)}`);
  return outcome.result as T;
}

async function fail(method: string, params: Record<string, unknown> = {}): Promise<CallError> {
  const outcome = await dispatcher.call(method, params);
  if (outcome.ok) throw new Error(`${method} unexpectedly succeeded: ${JSON.stringify(outcome.result)}`);
  return outcome.error.error as CallError;
}

function db(): Database.Database {
  database ??= new Database(join(repo.path, '.codestrator', 'state.db'));
  return database;
}

function commitFile(worktree: string, path: string, content: string, subject: string): void {
  mkdirSync(join(worktree, path, '..'), { recursive: true });
  writeFileSync(join(worktree, path), content);
  git(worktree, 'add', '--', path);
  git(worktree, 'commit', '-q', '-m', subject);
}

function queueRow(worktreeId: number, branch: string, mergeRequestId: number | null, state: string): number {
  const now = Date.now();
  return Number(
    db()
      .prepare(
        `INSERT INTO merge_queue (source_worktree_id, source_branch, target_branch, merge_request_id, state, created_at, updated_at)
         VALUES (?, ?, 'main', ?, ?, ?, ?)`,
      )
      .run(worktreeId, branch, mergeRequestId, state, now, now).lastInsertRowid,
  );
}

const queueState = (id: number) =>
  db().prepare('SELECT state, reason FROM merge_queue WHERE id = ?').get(id) as { state: string; reason: string };

/** Big enough to pass a small cap, small enough to fit the default one. */
const BIG = Array.from({ length: 400 }, (_, i) => `line ${i} of the fixture, with some padding to make it longer\n`).join('');
/** Three bytes per character, so most byte offsets fall inside one. */
const EUROS = Array.from({ length: 50 }, () => '€'.repeat(200) + '\n').join('');

let s1: number;
let s2: number;
let wt1: { id: number; path: string; branch: string };
let wt2: { id: number; path: string; branch: string };
let epic: number;
let feature: number;
let group: number;
let caseDone: number;
let caseOpen: number;

beforeAll(async () => {
  repo = makeRepo();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  let services: Promise<Services> | undefined;
  dispatcher = new Dispatcher({
    registry,
    envIdentity: () => envIdentity(env),
    services: () => (services ??= openServices(repo.path, env)),
  });

  const first = await ok('session.open', { user_request: 'login redirect' });
  s1 = first.session.id;
  wt1 = first.worktree;
  const second = await ok('session.open', { user_request: 'docs pass' });
  s2 = second.session.id;
  wt2 = second.worktree;

  epic = (await ok('task.create', { level: 'epic', title: 'Auth', session_id: s1 })).task.id;
  feature = (await ok('task.create', { level: 'feature', title: 'Login redirect', parent_id: epic, session_id: s1 })).task.id;
  group = (await ok('task.create', { level: 'test_group', title: 'Redirects', parent_id: feature, session_id: s1 })).task.id;
  caseDone = (await ok('task.create', { level: 'case', title: 'to /home', parent_id: group, steps: ['write test', 'fix'] })).task.id;
  caseOpen = (await ok('task.create', { level: 'case', title: 'to next', parent_id: group, steps: ['write test'] })).task.id;

  await ok('case.begin', { case_id: caseDone, session_id: s1 });
  await ok('step.check', { case_id: caseDone, step_title: 'write test', result: 'pass', notes: 'red, then green', session_id: s1 });
  await ok('step.check', { case_id: caseDone, step_title: 'fix', result: 'pass', session_id: s1 });
  await ok('case.complete', { case_id: caseDone, summary: 'redirect fixed', next_action: 'merge', session_id: s1 });
  await ok('case.begin', { case_id: caseOpen, session_id: s2 });
  await ok('step.check', { case_id: caseOpen, step_title: 'write test', result: 'fail', notes: 'next is ignored', session_id: s2 });

  commitFile(wt1.path, 'src/login.ts', 'export const target = "/home";\n', 'add login redirect');
  commitFile(wt1.path, 'fixtures/big.txt', BIG, 'add big fixture');
  commitFile(wt2.path, 'docs/guide.md', EUROS, 'write the guide');

  await ok('lock.acquire', { scope_type: 'file', scope_path: 'src/login.ts', session_id: s2 });
  await ok('lock.acquire', { scope_type: 'prefix', scope_path: 'unrelated', session_id: s2 });
});

afterAll(() => {
  database?.close();
  repo.cleanup();
});

describe('merge.request', () => {
  it("records the feature with the caller's worktree as the default source, on the main branch", async () => {
    const { merge_request: mr } = await ok('merge.request', { feature_task_id: feature, notes: 'login only', session_id: s1 });
    expect(mr).toMatchObject({
      feature_task_id: feature,
      target_branch: 'main',
      status: 'requested',
      requested_by: `session:${s1}`,
      notes: 'login only',
    });
    expect(mr.sources).toEqual([expect.objectContaining({ worktree_id: wt1.id, branch: wt1.branch, status: 'active' })]);
    const got = await ok('merge.request.get', { merge_request_id: mr.id });
    expect(got).toMatchObject({ merge_request: { id: mr.id, status: 'requested' }, latest_review: null, review_count: 0 });
  });

  it('refuses non-features, unknown or removed worktrees, unknown targets, and a caller without a worktree', async () => {
    for (const task of [epic, group, caseDone]) {
      expect(await fail('merge.request', { feature_task_id: task, source_worktree_ids: [wt1.id] })).toMatchObject({
        code: 'INVALID_ARGUMENT',
        field: 'feature_task_id',
      });
    }
    expect(await fail('merge.request', { feature_task_id: 99_999, source_worktree_ids: [wt1.id] })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'feature_task_id',
    });
    expect(await fail('merge.request', { feature_task_id: feature, source_worktree_ids: [wt1.id, 99_999] })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'source_worktree_ids.1',
    });
    const now = Date.now();
    const removed = db()
      .prepare(
        `INSERT INTO worktrees (kind, slug, path, branch, base_branch, base_sha, status, removed_at, created_at, updated_at)
         VALUES ('task', 'gone', '/nowhere/gone', 'codestrator/gone', 'main', 'x', 'removed', ?, ?, ?)`,
      )
      .run(now, now, now).lastInsertRowid;
    expect(await fail('merge.request', { feature_task_id: feature, source_worktree_ids: [Number(removed)] })).toMatchObject({
      code: 'PRECONDITION_FAILED',
      field: 'source_worktree_ids.0',
    });
    // No session named, and a session without a worktree: nothing to default to.
    expect(await fail('merge.request', { feature_task_id: feature })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'source_worktree_ids',
    });
    const bare = (await ok('session.open', { always_branch: false, user_request: 'bare' })).session.id;
    expect(await fail('merge.request', { feature_task_id: feature, session_id: bare })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'source_worktree_ids',
    });
    expect(await fail('merge.request', { feature_task_id: feature, target_branch: 'no-such-branch', session_id: s1 })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'target_branch',
    });
    expect((await fail('merge.request', { feature_task_id: feature, target_branch: '--upload-pack=x', session_id: s1 })).field).toBe(
      'target_branch',
    );
    expect(await fail('merge.request', { feature_task_id: feature, reviewer_session: 99_999, session_id: s1 })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'reviewer_session',
    });
  });
});

describe('merge.review_context', () => {
  it('returns the capped diff, commits, changed files, the whole case subtree and locks on touched paths', async () => {
    const mr = (await ok('merge.request', { feature_task_id: feature, session_id: s1 })).merge_request;
    const context = await ok('merge.review_context', { merge_request_id: mr.id, max_diff_bytes: 2000, session_id: s2 });

    expect(context).toMatchObject({ diff_cap_bytes: 2000, truncated: true, target_branch: 'main' });
    expect(context.diff_note).toMatch(/2000 bytes in total/);
    const [source] = context.sources;
    expect(source).toMatchObject({ worktree_id: wt1.id, branch: wt1.branch, branch_exists: true, uncommitted_paths: [] });
    expect(source.diff).toMatchObject({ truncated: true, cap_bytes: 2000 });
    expect(source.diff.bytes).toBeGreaterThan(2000);
    expect(Buffer.byteLength(source.diff.patch)).toBeLessThanOrEqual(2000);
    expect(source.diff.patch).toMatch(/^diff --git/);
    expect(source.diff.stat).toMatch(/src\/login\.ts/);
    expect(source.diff.stat).toMatch(/fixtures\/big\.txt/);
    expect(source.commits.map((c: { subject: string }) => c.subject)).toEqual(['add big fixture', 'add login redirect']);
    expect(source.changed_files).toEqual(['fixtures/big.txt', 'src/login.ts']);
    expect(context.changed_files).toEqual(['fixtures/big.txt', 'src/login.ts']);

    // The whole subtree: feature → test group → both cases, with steps and latest checkpoints.
    expect(context.feature).toMatchObject({ id: feature, level: 'feature' });
    expect(context.feature.children).toHaveLength(1);
    const groupNode = context.feature.children[0];
    expect(groupNode).toMatchObject({ id: group, level: 'test_group' });
    const [done, open] = groupNode.children;
    expect(done).toMatchObject({ id: caseDone, status: 'done', planned_steps: ['write test', 'fix'] });
    expect(done.steps).toEqual([
      expect.objectContaining({ order_no: 1, title: 'write test', result: 'pass', notes: 'red, then green' }),
      expect.objectContaining({ order_no: 2, title: 'fix', result: 'pass', notes: null }),
    ]);
    expect(done.latest_checkpoint).toMatchObject({ event: 'case.complete', summary: 'redirect fixed', next_action: 'merge' });
    expect(open).toMatchObject({ id: caseOpen, status: 'in_progress', owner_key: `session:${s2}` });
    expect(open.steps).toEqual([expect.objectContaining({ title: 'write test', result: 'fail', notes: 'next is ignored' })]);
    expect(open.latest_checkpoint).toMatchObject({ event: 'step.check' });
    expect(context.cases_by_status).toEqual({ done: 1, in_progress: 1 });

    // Only the lock on a changed path, held by another session; not the unrelated one.
    expect(context.locks).toHaveLength(1);
    expect(context.locks[0]).toMatchObject({
      scope_path: 'src/login.ts',
      owner_key: `session:${s2}`,
      state: 'active',
      covers: ['src/login.ts'],
    });
    expect(context.reviews).toEqual([]);

    const full = await ok('merge.review_context', { merge_request_id: mr.id });
    expect(full.truncated).toBe(false);
    expect(full.sources[0].diff.truncated).toBe(false);
    expect(Buffer.byteLength(full.sources[0].diff.patch)).toBe(full.sources[0].diff.bytes);
    expect(full.sources[0].diff.patch).toContain('line 399 of the fixture');
  });

  it('shares the cap across sources so all patches together stay within it, and reports uncommitted edits', async () => {
    writeFileSync(join(wt2.path, 'scratch.txt'), 'not committed\n');
    const mr = (await ok('merge.request', { feature_task_id: feature, source_worktree_ids: [wt1.id, wt2.id], session_id: s1 }))
      .merge_request;
    const context = await ok('merge.review_context', { merge_request_id: mr.id, max_diff_bytes: 3001 });
    expect(context.sources).toHaveLength(2);
    const sizes = context.sources.map((s: { diff: { patch: string } }) => Buffer.byteLength(s.diff.patch));
    expect(sizes[0] + sizes[1]).toBeLessThanOrEqual(3001);
    expect(context.sources.every((s: { diff: { truncated: boolean } }) => s.diff.truncated)).toBe(true);
    expect(context.sources[0].diff.cap_bytes).toBe(1500);
    expect(context.changed_files).toEqual(['docs/guide.md', 'fixtures/big.txt', 'src/login.ts']);
    expect(context.sources[1].uncommitted_paths).toEqual(['scratch.txt']);
  });

  it('never splits a character at the cap', async () => {
    const mr = (await ok('merge.request', { feature_task_id: feature, source_worktree_ids: [wt2.id], session_id: s2 })).merge_request;
    for (const cap of [1000, 1001, 1002]) {
      const { patch } = (await ok('merge.review_context', { merge_request_id: mr.id, max_diff_bytes: cap })).sources[0].diff;
      expect(Buffer.byteLength(patch), `cap ${cap}`).toBeLessThanOrEqual(cap);
      expect(Buffer.byteLength(patch), `cap ${cap}`).toBeGreaterThan(cap - 3);
      expect(patch, `cap ${cap}`).not.toContain('\uFFFD');
    }
  });

  it('is NOT_FOUND for an unknown request', async () => {
    expect(await fail('merge.review_context', { merge_request_id: 99_999 })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'merge_request_id',
    });
    expect(await fail('merge.request.get', { merge_request_id: 99_999 })).toMatchObject({ code: 'NOT_FOUND', field: 'merge_request_id' });
  });
});

describe('merge.review.submit', () => {
  it('BLOCK needs a reason, blocks the request and its queue items; APPROVE releases them; then the request is closed to reviews', async () => {
    const mr = (await ok('merge.request', { feature_task_id: feature, session_id: s1 })).merge_request;
    const item = queueRow(wt1.id, wt1.branch, mr.id, 'queued');
    const other = queueRow(wt2.id, wt2.branch, null, 'blocked_by_review');

    expect(await fail('merge.review.submit', { merge_request_id: mr.id, verdict: 'BLOCK', session_id: s2 })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'findings',
    });
    expect((await fail('merge.review.submit', { merge_request_id: mr.id, verdict: 'MAYBE' })).field).toBe('verdict');
    expect(queueState(item).state).toBe('queued');

    const finding = { file: 'src/login.ts', line: 1, severity: 'major', text: 'Honour the next parameter.' };
    const blocked = await ok('merge.review.submit', { merge_request_id: mr.id, verdict: 'BLOCK', findings: [finding], session_id: s2 });
    expect(blocked.merge_request.status).toBe('blocked');
    expect(blocked.review).toMatchObject({ verdict: 'BLOCK', findings: [finding], reviewer_key: `session:${s2}`, summary: null });
    expect(blocked.queue_items_updated).toBe(1);
    expect(queueState(item)).toEqual({ state: 'blocked_by_review', reason: 'review blocked: src/login.ts:1: Honour the next parameter.' });

    const context = await ok('merge.review_context', { merge_request_id: mr.id, max_diff_bytes: 100 });
    expect(context.reviews).toEqual([expect.objectContaining({ verdict: 'BLOCK', findings: [finding] })]);
    expect((await ok('merge.request.get', { merge_request_id: mr.id })).latest_review).toMatchObject({ verdict: 'BLOCK' });

    const approved = await ok('merge.review.submit', { merge_request_id: mr.id, verdict: 'APPROVE', summary: 'Fixed.', session_id: s2 });
    expect(approved.merge_request.status).toBe('approved');
    expect(approved.queue_items_updated).toBe(1);
    expect(queueState(item)).toEqual({ state: 'queued', reason: 'review approved' });
    // Another request's item is untouched.
    expect(queueState(other).state).toBe('blocked_by_review');
    expect(await ok('merge.request.get', { merge_request_id: mr.id })).toMatchObject({
      merge_request: { status: 'approved' },
      latest_review: { verdict: 'APPROVE', summary: 'Fixed.' },
      review_count: 2,
    });

    expect(await fail('merge.review.submit', { merge_request_id: mr.id, verdict: 'APPROVE', session_id: s2 })).toMatchObject({
      code: 'PRECONDITION_FAILED',
      field: 'merge_request_id',
    });
    expect(await fail('merge.review.submit', { merge_request_id: 99_999, verdict: 'APPROVE' })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'merge_request_id',
    });
  });

  it('a BLOCK with only a summary records the summary as the queue reason', async () => {
    const mr = (await ok('merge.request', { feature_task_id: feature, source_worktree_ids: [wt2.id], session_id: s1 })).merge_request;
    const item = db().prepare("SELECT id FROM merge_queue WHERE source_worktree_id = ? AND state = 'blocked_by_review'").get(wt2.id) as {
      id: number;
    };
    db().prepare('UPDATE merge_queue SET merge_request_id = ? WHERE id = ?').run(mr.id, item.id);
    const blocked = await ok('merge.review.submit', { merge_request_id: mr.id, verdict: 'BLOCK', summary: 'Guide is out of date.' });
    expect(blocked.review.reviewer_key).toBeNull();
    expect(queueState(item.id)).toEqual({ state: 'blocked_by_review', reason: 'review blocked: Guide is out of date.' });
  });
});
