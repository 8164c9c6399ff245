import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, makeGroup, openHarness, quickSession } from './helpers/dispatch.js';

let h: Harness;
let group: number;
let s1: number;
let s2: number;

beforeAll(async () => {
  h = openHarness();
  s1 = await quickSession(h);
  s2 = await quickSession(h);
  group = await makeGroup(h);
});
afterAll(() => h.repo.cleanup());

const newCase = async (title: string, extra: Record<string, unknown> = {}) =>
  (await h.ok('task.create', { level: 'case', title, parent_id: group, ...extra })).task.id as number;

describe('task levels', () => {
  it('nests epic → feature → test_group → case and refuses anything else', async () => {
    expect((await h.fail('task.create', { level: 'feature', title: 'orphan' })).field).toBe('parent_id');
    expect((await h.fail('task.create', { level: 'case', title: 'x', parent_id: 1 })).message).toMatch(/must sit under a test_group/);
    expect((await h.fail('task.create', { level: 'epic', title: 'x', parent_id: 1 })).field).toBe('parent_id');
    expect((await h.fail('task.create', { level: 'step', title: 'x' })).field).toBe('level');
    expect((await h.fail('task.create', { level: 'feature', title: 'x', parent_id: 1, steps: ['a'] })).field).toBe('steps');
    const missing = await h.fail('task.create', { level: 'case', title: 'x', parent_id: 99_999 });
    expect(missing).toMatchObject({ code: 'NOT_FOUND', field: 'parent_id' });
  });

  it('lists with filters and pages with a cursor', async () => {
    for (let i = 0; i < 5; i++) await newCase(`paged ${i}`, { priority: 1 });
    const first = await h.ok('task.list', { level: 'case', limit: 2 });
    expect(first.count).toBe(2);
    const second = await h.ok('task.list', { level: 'case', limit: 2, cursor: first.next_cursor });
    expect(second.items[0].id).toBeGreaterThan(first.items[1].id);
    expect((await h.fail('task.list', { cursor: 'bogus' })).field).toBe('cursor');
    const all = await h.ok('task.list', { parent_id: group, limit: 500 });
    expect(all.items.every((t: { level: string }) => t.level === 'case')).toBe(true);
  });
});

describe('case lifecycle', () => {
  it('records real step results: a failed step stays failed until a later pass', async () => {
    const id = await newCase('steps', { steps: ['write test', 'fix'] });
    await h.ok('case.begin', { case_id: id, session_id: s1 });
    const failed = await h.ok('step.check', { case_id: id, step_title: 'write test', result: 'fail', notes: 'boom', session_id: s1 });
    expect(failed.step.result).toBe('fail');
    expect(failed.next_step).toEqual({ title: 'write test', last_result: 'fail' });
    const passed = await h.ok('step.check', { case_id: id, step_title: 'write test', result: 'pass', session_id: s1 });
    expect(passed.next_step).toEqual({ title: 'fix', last_result: null });
    const view = await h.ok('task.get', { task_id: id });
    expect(view.steps.map((s: { result: string }) => s.result)).toEqual(['fail', 'pass']);
    expect((await h.fail('step.check', { case_id: id, step_title: 'x', result: 'passed', session_id: s1 })).field).toBe('result');
    const done = await h.ok('case.complete', { case_id: id, summary: 'ok', next_action: 'merge', session_id: s1 });
    expect(done.case.status).toBe('done');
    expect(done.unchecked_step).toEqual({ title: 'fix', last_result: null });
    const events = h.db().prepare('SELECT event FROM checkpoints WHERE case_id = ? ORDER BY id').all(id) as { event: string }[];
    expect(events.map((e) => e.event)).toEqual(['case.begin', 'step.check', 'step.check', 'case.complete']);
  });

  it('is an atomic claim: one active case per owner, no stealing from a live owner, takeover from a closed one', async () => {
    const a = await newCase('claim a');
    const b = await newCase('claim b');
    await h.ok('case.begin', { case_id: a, session_id: s1 });
    expect(await h.fail('case.begin', { case_id: a, session_id: s2 })).toMatchObject({
      code: 'CONFLICT',
      data: { holder: `session:${s1}` },
    });
    expect(await h.fail('case.begin', { case_id: b, session_id: s1 })).toMatchObject({ code: 'CONFLICT', data: { active_case_id: a } });
    expect((await h.ok('case.begin', { case_id: a, session_id: s1 })).resumed).toBe(true);
    expect((await h.fail('step.check', { case_id: a, step_title: 's', result: 'pass', session_id: s2 })).code).toBe('NOT_OWNER');
    expect((await h.fail('case.complete', { case_id: a, summary: 's', next_action: 'n', session_id: s2 })).code).toBe('NOT_OWNER');
    const s3 = await quickSession(h);
    await h.ok('session.close', { session_id: s1 });
    const taken = await h.ok('case.begin', { case_id: a, session_id: s3 });
    expect(taken.taken_over_from).toBe(`session:${s1}`);
    await h.ok('case.complete', { case_id: a, summary: 'done', next_action: 'none', session_id: s3 });
    expect((await h.fail('case.begin', { case_id: a, session_id: s3 })).code).toBe('PRECONDITION_FAILED');
    s1 = await quickSession(h);
  });

  it('waits for declared dependencies unless they are fixtures, and refuses cycles', async () => {
    const base = await newCase('base');
    const dependent = await newCase('dependent', { depends_on: [base] });
    const blocked = await h.fail('case.begin', { case_id: dependent, session_id: s2 });
    expect(blocked).toMatchObject({ code: 'PRECONDITION_FAILED', data: { blocking: [base] } });
    expect((await h.fail('task.update', { task_id: base, depends_on: [dependent] })).message).toMatch(/cycle/);
    const begun = await h.ok('case.begin', { case_id: dependent, fixtures: [base, 'seed data'], session_id: s2 });
    expect(begun.case.fixtures).toEqual([base, 'seed data']);
    await h.ok('case.complete', { case_id: dependent, summary: 'with fixture', next_action: 'none', session_id: s2 });
  });

  it('force with a reason overrides ownership and is audited', async () => {
    const id = await newCase('forced');
    await h.ok('case.begin', { case_id: id, session_id: s1 });
    expect((await h.fail('case.complete', { case_id: id, summary: 's', next_action: 'n', session_id: s2, force: true })).field).toBe(
      'reason',
    );
    await h.ok('case.complete', { case_id: id, summary: 's', next_action: 'n', session_id: s2, force: true, reason: 'owner crashed' });
    const audit = h.db().prepare("SELECT * FROM audit_events WHERE method = 'case.complete' ORDER BY id DESC").get() as Record<
      string,
      unknown
    >;
    expect(audit).toMatchObject({ actor_key: `session:${s2}`, target: `case ${id}`, reason: 'owner crashed' });
  });

  it('lets a case enter in_progress and done only through begin and complete', async () => {
    const id = await newCase('update rules');
    expect((await h.fail('task.update', { task_id: id, status: 'done' })).code).toBe('PRECONDITION_FAILED');
    expect((await h.fail('task.update', { task_id: id })).code).toBe('INVALID_ARGUMENT');
    const updated = await h.ok('task.update', { task_id: id, status: 'blocked', priority: 9, title: 'renamed' });
    expect(updated.task).toMatchObject({ status: 'blocked', priority: 9, title: 'renamed' });
  });
});

describe('resume.next and work.current_ref', () => {
  it('hands out the caller its own case first, then ready unassigned cases, never another owner’s', async () => {
    const h2 = openHarness();
    const a = await quickSession(h2);
    const b = await quickSession(h2);
    const g = await makeGroup(h2);
    const first = (await h2.ok('task.create', { level: 'case', title: 'first', parent_id: g, priority: 5 })).task.id;
    const mine = (await h2.ok('task.create', { level: 'case', title: 'for b', parent_id: g, priority: 9, assignee_session: b })).task.id;
    const later = (await h2.ok('task.create', { level: 'case', title: 'later', parent_id: g, depends_on: [first] })).task.id;
    expect((await h2.ok('resume.next', { session_id: a })).case.id).toBe(first);
    expect((await h2.ok('resume.next', { session_id: b })).case.id).toBe(mine);
    await h2.ok('case.begin', { case_id: first, session_id: a });
    const forB = await h2.ok('resume.next', { session_id: b });
    expect(forB.case.id).toBe(mine);
    await h2.ok('case.begin', { case_id: mine, session_id: b });
    expect((await h2.ok('resume.next', { session_id: a })).source).toBe('own_active_case');
    const c = await quickSession(h2);
    expect((await h2.ok('resume.next', { session_id: c })).source).toBe('none');
    expect((await h2.ok('resume.next', { session_id: c, scope_case_ids: [later] })).source).toBe('none');
    await h2.ok('case.complete', { case_id: first, summary: 'ok', next_action: 'n', session_id: a });
    expect((await h2.ok('resume.next', { session_id: c })).case.id).toBe(later);
    h2.repo.cleanup();
  });

  it('keeps one ref per owner that can be set explicitly and acknowledged by version', async () => {
    const s = await quickSession(h);
    expect((await h.ok('work.current_ref', { session_id: s })).source).toBe('none');
    const id = await newCase('ref', { steps: ['one'] });
    await h.ok('case.begin', { case_id: id, session_id: s, required_files: ['src/a.ts'] });
    const set = await h.ok('work.current_ref', {
      session_id: s,
      next_action: 'look at src/a.ts',
      summary: 'halfway',
      required_files: ['src/a.ts', 'src/b.ts'],
    });
    expect(set.current_ref).toMatchObject({ next_action: 'look at src/a.ts', required_files: ['src/a.ts', 'src/b.ts'], acked: false });
    const stale = await h.fail('work.current_ref.ack', {
      ref_id: set.current_ref.ref_id,
      version: set.current_ref.version - 1,
      session_id: s,
    });
    expect(stale.code).toBe('CONFLICT');
    const acked = await h.ok('work.current_ref.ack', { ref_id: set.current_ref.ref_id, version: set.current_ref.version, session_id: s });
    expect(acked.current_ref.acked).toBe(true);
    expect((await h.fail('work.current_ref.ack', { ref_id: set.current_ref.ref_id, session_id: s2 })).code).toBe('NOT_OWNER');
    const handoff = await h.ok('work.current_ref', { session_id: s, mode: 'handoff' });
    expect(handoff.parents.map((p: { level: string }) => p.level)).toEqual(['test_group', 'feature', 'epic']);
    expect(handoff.worktree.path).toBe(h.repo.path);
    await h.ok('case.complete', { case_id: id, summary: 'done', next_action: 'none', session_id: s });
    expect((await h.ok('work.current_ref', { session_id: s })).source).toBe('none');
  });
});

describe('inbox', () => {
  it('sends between threads and delivers exactly once, only by the receiver', async () => {
    const a = await h.ok('session.open', { always_branch: false });
    const b = await h.ok('session.open', { always_branch: false });
    const sent = await h.ok('inbox.send', { receiver_thread_id: b.root_thread.id, message: 'hello $(whoami)', session_id: a.session.id });
    expect(sent.message).toMatchObject({ sender_thread_id: a.root_thread.id, message: 'hello $(whoami)', status: 'pending' });
    const pending = await h.ok('inbox.pending', { session_id: b.session.id });
    expect(pending.items.map((m: { id: number }) => m.id)).toEqual([sent.message.id]);
    expect((await h.fail('inbox.deliver', { message_id: sent.message.id, session_id: a.session.id })).code).toBe('NOT_OWNER');
    await h.ok('inbox.deliver', { message_id: sent.message.id, session_id: b.session.id });
    expect((await h.fail('inbox.deliver', { message_id: sent.message.id, session_id: b.session.id })).code).toBe('CONFLICT');
    expect((await h.ok('inbox.pending', { session_id: b.session.id })).count).toBe(0);
    expect((await h.fail('inbox.send', { receiver_thread_id: 9999, message: 'x', session_id: a.session.id })).field).toBe(
      'receiver_thread_id',
    );
  });
});

describe('mirror', () => {
  it('is deterministic and outdated only by real ledger changes', async () => {
    const first = await h.ok('mirror.refresh', { requester_role: 'doc-mirror-manager' });
    const text1 = (await import('node:fs')).readFileSync(first.path, 'utf8');
    await h.ok('session.heartbeat', { session_id: s2 });
    expect((await h.ok('mirror.status')).outdated).toBe(false);
    const again = await h.ok('mirror.refresh', { requester_role: 'doc-mirror-manager' });
    expect((await import('node:fs')).readFileSync(again.path, 'utf8')).toBe(text1);
    await newCase('makes it outdated');
    expect((await h.ok('mirror.status')).outdated).toBe(true);
    expect((await h.fail('mirror.refresh', { requester_role: 'worker' })).code).toBe('PRECONDITION_FAILED');
    expect((await h.fail('mirror.refresh', { requester_role: 'doc-mirror-manager', target_path: '../../escape.md' })).field).toBe(
      'target_path',
    );
  });
});

describe('takeover of a case from a departed owner', () => {
  it('closes the old owner’s current ref, so its session is no longer offered for resume', async () => {
    const hx = openHarness();
    const g = await makeGroup(hx);
    const old = (await hx.ok('session.open', { always_branch: false, heartbeat_timeout_seconds: 10 })).session.id;
    const c = (await hx.ok('task.create', { level: 'case', title: 'adopted', parent_id: g })).task.id;
    await hx.ok('case.begin', { case_id: c, session_id: old });
    hx.db()
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?')
      .run(Date.now() - 60_000, old);
    const heir = await quickSession(hx);
    expect((await hx.ok('case.begin', { case_id: c, session_id: heir })).taken_over_from).toBe(`session:${old}`);
    const refs = hx.db().prepare("SELECT owner_key FROM current_refs WHERE case_id = ? AND status = 'active'").all(c);
    expect(refs).toEqual([{ owner_key: `session:${heir}` }]);
    const third = await quickSession(hx);
    expect((await hx.ok('resume.candidates.list', { requester_session_id: third })).count).toBe(0);
    // A requester cannot shorten another session's own heartbeat timeout to take it over early.
    hx.db()
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?')
      .run(Date.now() - 3_000, heir);
    const early = await hx.fail('resume.candidates.attach', {
      requester_session_id: third,
      target_session_id: heir,
      heartbeat_timeout_seconds: 1,
    });
    expect(early.code).toBe('CONFLICT');
    hx.repo.cleanup();
  });
});
