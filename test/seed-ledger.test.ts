import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, openHarness, quickSession } from './helpers/dispatch.js';

/** Issue 10, "the ledger completes": groups, features and epics follow their children, and a feature shows its merge. */

let h: Harness;
let s1: number;

beforeAll(async () => {
  h = openHarness();
  s1 = await quickSession(h);
});
afterAll(() => h.repo.cleanup());

const create = async (level: string, title: string, parent_id?: number) =>
  (await h.ok('task.create', { level, title, ...(parent_id ? { parent_id } : {}) })).task.id as number;
const statusOf = async (id: number) => (await h.ok('task.get', { task_id: id })).task.status as string;
const statuses = async (...ids: number[]) => Promise.all(ids.map(statusOf));
const ledgerVersion = () => (h.db().prepare('SELECT ledger_version AS v FROM meta').get() as { v: number }).v;

async function tree() {
  const epic = await create('epic', 'Checkout');
  const feature = await create('feature', 'Pay by card', epic);
  const group = await create('test_group', 'Card form', feature);
  const a = await create('case', 'accepts a valid card', group);
  const b = await create('case', 'refuses an expired card', group);
  return { epic, feature, group, a, b };
}

const run = async (caseId: number) => {
  await h.ok('case.begin', { case_id: caseId, session_id: s1 });
  return h.ok('case.complete', { case_id: caseId, summary: 'done', next_action: 'next case', session_id: s1 });
};

describe('ledger roll-up', () => {
  it('rolls a test group, its feature and its epic up to done with their last case, in the same call', async () => {
    const t = await tree();
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['todo', 'todo', 'todo']);
    await h.ok('case.begin', { case_id: t.a, session_id: s1 });
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['in_progress', 'in_progress', 'in_progress']);
    await h.ok('case.complete', { case_id: t.a, summary: 'done', next_action: 'next case', session_id: s1 });
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['in_progress', 'in_progress', 'in_progress']);

    const before = ledgerVersion();
    const last = await run(t.b);
    expect(last.rolled_up).toEqual([
      { task_id: t.group, level: 'test_group', from: 'in_progress', to: 'done' },
      { task_id: t.feature, level: 'feature', from: 'in_progress', to: 'done' },
      { task_id: t.epic, level: 'epic', from: 'in_progress', to: 'done' },
    ]);
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['done', 'done', 'done']);
    expect(ledgerVersion()).toBeGreaterThan(before);
    const epic = (await h.ok('task.get', { task_id: t.epic })).task;
    expect(epic.completed_at).toEqual(expect.any(Number));
    // task.list shows the same (the dashboard and `codestrator view tasks` read it).
    const listed = await h.ok('task.list', { level: 'epic' });
    expect(listed.items.find((item: { id: number }) => item.id === t.epic).status).toBe('done');
  });

  it('reopens the chain when a case is reset, and completes it again', async () => {
    const t = await tree();
    await run(t.a);
    await run(t.b);
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['done', 'done', 'done']);

    const reopened = await h.ok('task.update', { task_id: t.b, status: 'todo' });
    expect(reopened.rolled_up.map((change: { to: string }) => change.to)).toEqual(['in_progress', 'in_progress', 'in_progress']);
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['in_progress', 'in_progress', 'in_progress']);
    expect((await h.ok('task.get', { task_id: t.epic })).task.completed_at).toBeNull();

    await run(t.b);
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['done', 'done', 'done']);

    // Both cases reset: nothing under the epic has started any more.
    await h.ok('task.update', { task_id: t.a, status: 'todo' });
    await h.ok('task.update', { task_id: t.b, status: 'todo' });
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['todo', 'todo', 'todo']);
  });

  it('reopens done parents when a new case or group is added under them', async () => {
    const t = await tree();
    await run(t.a);
    await run(t.b);
    const extra = await h.ok('task.create', { level: 'case', title: 'refuses a stolen card', parent_id: t.group });
    expect(extra.rolled_up.map((change: { task_id: number }) => change.task_id)).toEqual([t.group, t.feature, t.epic]);
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['in_progress', 'in_progress', 'in_progress']);
    await run(extra.task.id);
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['done', 'done', 'done']);

    // A new, empty test group is not started: the feature is in progress again, not done.
    await create('test_group', 'Card receipts', t.feature);
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['done', 'in_progress', 'in_progress']);
  });

  it('leaves a blocked or cancelled parent alone, and ignores cancelled cases', async () => {
    const t = await tree();
    await h.ok('task.update', { task_id: t.feature, status: 'blocked' });
    await run(t.a);
    await h.ok('task.update', { task_id: t.b, status: 'cancelled' });
    // The group is done (its cancelled case does not count); the blocked feature stays blocked, so the epic waits.
    expect(await statuses(t.group, t.feature, t.epic)).toEqual(['done', 'blocked', 'todo']);
    const unblocked = await h.ok('task.update', { task_id: t.feature, status: 'done' });
    expect(unblocked.rolled_up).toEqual([{ task_id: t.epic, level: 'epic', from: 'todo', to: 'done' }]);
  });
});

describe('merge requests on their feature', () => {
  it('task.get and task.list of a feature show its merge requests with their status', async () => {
    const t = await tree();
    const plain = await h.ok('task.get', { task_id: t.feature });
    expect(plain.merge_requests).toEqual([]);
    const now = Date.now();
    const insert = h
      .db()
      .prepare(`INSERT INTO merge_requests (feature_task_id, target_branch, status, created_at, updated_at) VALUES (?, 'main', ?, ?, ?)`);
    const blocked = Number(insert.run(t.feature, 'blocked', now, now).lastInsertRowid);
    const merged = Number(insert.run(t.feature, 'merged', now + 1, now + 1).lastInsertRowid);

    const view = await h.ok('task.get', { task_id: t.feature });
    expect(view.merge_requests.map((r: { id: number; status: string }) => [r.id, r.status])).toEqual([
      [merged, 'merged'],
      [blocked, 'blocked'],
    ]);
    const features = await h.ok('task.list', { level: 'feature', limit: 500 });
    const listed = features.items.find((item: { id: number }) => item.id === t.feature);
    expect(listed.merge_request).toMatchObject({ id: merged, status: 'merged', target_branch: 'main' });
    const other = features.items.find((item: { id: number }) => item.id !== t.feature);
    expect(other.merge_request).toBeNull();
    // Other levels carry no merge request field.
    expect((await h.ok('task.get', { task_id: t.group })).merge_requests).toBeUndefined();
  });
});
