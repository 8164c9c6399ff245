import { afterAll, describe, expect, it } from 'vitest';
import { type Harness, makeGroup, openHarness, quickSession } from './helpers/dispatch.js';

/**
 * Issue 10, identity: a closed or taken-over session (and its threads) cannot change anything,
 * its locks never outlive it, and lock.acquire's contract input owner_session names the caller.
 */

const harnesses: Harness[] = [];
const fresh = () => {
  const h = openHarness();
  harnesses.push(h);
  return h;
};
afterAll(() => harnesses.forEach((h) => h.repo.cleanup()));

async function caseUnder(h: Harness, group: number, title: string): Promise<number> {
  return (await h.ok('task.create', { level: 'case', title, parent_id: group, steps: ['one', 'two'] })).task.id as number;
}

const rootThreadOf = (h: Harness, session: number) =>
  (h.db().prepare('SELECT root_thread_id AS id FROM sessions WHERE id = ?').get(session) as { id: number }).id;

describe('a closed session is fenced', () => {
  it('cannot case.begin, step.check or lock.acquire (nor can its threads); the error says why; reads still answer', async () => {
    const h = fresh();
    const a = await quickSession(h);
    const group = await makeGroup(h);
    const first = await caseUnder(h, group, 'first');
    const second = await caseUnder(h, group, 'second');
    const asA = h.as({ CODESTRATOR_SESSION_ID: String(a) });
    await asA.ok('case.begin', { case_id: first });
    // The dispatcher has now checked (and cached) session a's identity.
    await asA.ok('lock.acquire', { scope_type: 'file', scope_path: 'a.txt' });
    await h.ok('session.close', { session_id: a, reason: 'done for today' });

    for (const [method, params] of [
      ['case.begin', { case_id: second }],
      ['step.check', { case_id: first, step_title: 'one', result: 'pass' }],
      ['lock.acquire', { scope_type: 'file', scope_path: 'b.txt' }],
    ] as const) {
      const error = await asA.fail(method, params);
      expect(error, method).toMatchObject({ code: 'PRECONDITION_FAILED', data: { reason: 'session_closed', session_id: a } });
      expect(error.message).toMatch(new RegExp(`Session ${a} is closed`));
      expect(error.hint).toMatch(/session\.open/);
    }
    const thread = rootThreadOf(h, a);
    const threadError = await h.fail('lock.acquire', { scope_type: 'file', scope_path: 'c.txt', thread_id: thread });
    expect(threadError).toMatchObject({ code: 'PRECONDITION_FAILED', data: { reason: 'session_closed' } });
    expect(threadError.message).toContain(`Thread ${thread} of session ${a}`);
    // Nothing it held or tried to take blocks anyone.
    expect((await h.ok('lock.list')).count).toBe(0);
    const b = await quickSession(h);
    await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'b.txt', session_id: b });
    // Reading stays allowed, and tells it that it cannot start work.
    const ref = await asA.ok('work.current_ref');
    expect(ref).toMatchObject({ source: 'session_closed', current_ref: null, successor_session_id: null });
    expect((await asA.ok('resume.next')).source).toBe('session_closed');
    expect((await asA.ok('task.get', { task_id: second })).task.status).toBe('todo');
  });
});

describe('a taken-over session is fenced', () => {
  it('cannot act, the error names the successor, its locks (and its threads’) moved to the successor', async () => {
    const h = fresh();
    const a = await quickSession(h, { heartbeat_timeout_seconds: 10 });
    const group = await makeGroup(h);
    const first = await caseUnder(h, group, 'first');
    const second = await caseUnder(h, group, 'second');
    const asA = h.as({ CODESTRATOR_SESSION_ID: String(a) });
    await asA.ok('case.begin', { case_id: first });
    const own = (await asA.ok('lock.acquire', { scope_type: 'file', scope_path: 'a.txt' })).lock.id;
    const thread = rootThreadOf(h, a);
    const threads = (await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: 'src', thread_id: thread })).lock.id;
    h.db()
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?')
      .run(Date.now() - 60_000, a);
    const b = (await h.ok('session.open', { intent: 'resume_work' })).session.id as number;
    const attached = await h.ok('resume.candidates.attach', { requester_session_id: b, target_session_id: a });
    expect(attached.locks_transferred).toBe(2);

    for (const [method, params] of [
      ['case.begin', { case_id: second }],
      ['step.check', { case_id: first, step_title: 'one', result: 'pass' }],
      ['lock.acquire', { scope_type: 'file', scope_path: 'b.txt' }],
    ] as const) {
      const error = await asA.fail(method, params);
      expect(error, method).toMatchObject({
        code: 'PRECONDITION_FAILED',
        data: { reason: 'session_taken_over', session_id: a, successor_session_id: b },
      });
      expect(error.message).toContain(`Session ${a} was taken over by session ${b}`);
      expect(error.hint).toContain(`act as session ${b}`);
    }
    expect((await h.fail('lock.acquire', { scope_type: 'file', scope_path: 'c.txt', thread_id: thread })).data).toMatchObject({
      reason: 'session_taken_over',
      successor_session_id: b,
    });
    const locks = (await h.ok('lock.list')).items as { id: number; owner_key: string }[];
    expect(locks.map((lock) => [lock.id, lock.owner_key])).toEqual([
      [own, `session:${b}`],
      [threads, `session:${b}`],
    ]);
    // The successor works on; the old session is told where its work went, not to start anew.
    await h.ok('step.check', { case_id: first, step_title: 'one', result: 'pass', session_id: b });
    const ref = await asA.ok('work.current_ref');
    expect(ref).toMatchObject({ source: 'session_taken_over', current_ref: null, successor_session_id: b });
    expect(ref.successor.current_ref.case.id).toBe(first);
    expect(ref.hint).not.toMatch(/resume\.next/);
    expect(await asA.ok('resume.next')).toMatchObject({ source: 'session_taken_over', case: null, successor_session_id: b });
  });
});

describe('lock.acquire owner_session (contract input)', () => {
  it('names the caller when nothing else does, and must match the caller otherwise', async () => {
    const h = fresh();
    const a = await quickSession(h);
    const b = await quickSession(h);
    expect((await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'one.txt', owner_session: a })).lock.owner_key).toBe(
      `session:${a}`,
    );
    expect((await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'two.txt', owner_session: `session:${b}` })).lock.owner_key).toBe(
      `session:${b}`,
    );
    expect((await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'six.txt', owner_session: String(b) })).lock.owner_key).toBe(
      `session:${b}`,
    );
    const asA = h.as({ CODESTRATOR_SESSION_ID: String(a) });
    expect((await asA.ok('lock.acquire', { scope_type: 'file', scope_path: 'three.txt', owner_session: a })).lock.owner_key).toBe(
      `session:${a}`,
    );
    const mismatch = await asA.fail('lock.acquire', { scope_type: 'file', scope_path: 'four.txt', owner_session: b });
    expect(mismatch).toMatchObject({ code: 'NOT_OWNER', field: 'owner_session', data: { owner_session: b, caller: `session:${a}` } });
    expect(mismatch.message).toContain(`session ${b}`);
    expect(mismatch.message).toContain(`session ${a}`);
    const byParams = await h.fail('lock.acquire', {
      scope_type: 'file',
      scope_path: 'five.txt',
      session_id: a,
      owner_session: `session:${b}`,
    });
    expect(byParams.code).toBe('NOT_OWNER');
    expect((await h.fail('lock.acquire', { scope_type: 'file', scope_path: 'x.txt', owner_session: 999 })).code).toBe('NOT_FOUND');
    expect((await h.fail('lock.acquire', { scope_type: 'file', scope_path: 'x.txt', owner_session: 'codex-root' })).code).toBe(
      'INVALID_ARGUMENT',
    );
    // A thread may name itself or its session; the lock is the thread's.
    const thread = rootThreadOf(h, a);
    const asThread = h.as({ CODESTRATOR_THREAD_ID: String(thread) });
    expect((await asThread.ok('lock.acquire', { scope_type: 'file', scope_path: 't1.txt', owner_session: a })).lock.owner_key).toBe(
      `thread:${thread}`,
    );
    expect(
      (await asThread.ok('lock.acquire', { scope_type: 'file', scope_path: 't2.txt', owner_session: `thread:${thread}` })).lock.owner_key,
    ).toBe(`thread:${thread}`);
    expect((await asThread.fail('lock.acquire', { scope_type: 'file', scope_path: 't3.txt', owner_session: b })).code).toBe('NOT_OWNER');
  });
});
