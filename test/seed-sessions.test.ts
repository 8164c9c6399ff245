import { afterAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../src/app/services.js';
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
    // Closing is the one change a closed session may repeat: it answers that it is already closed.
    expect(await asA.ok('session.close', { session_id: a })).toMatchObject({ already_closed: true, locks_released: 0 });
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

describe('contract inputs of the session, case and lock methods', () => {
  it('accepts every input method-contracts.md lists, with its meaning', async () => {
    const h = fresh();
    // An agent's own MCP server: after session.open, calls without session_id act as that session.
    const agent = createDispatcher(h.repo.path, { PATH: process.env.PATH, HOME: process.env.HOME }, { adoptSessions: true });
    const calls: string[] = [];
    const call = async (method: string, params: Record<string, unknown>): Promise<Record<string, any>> => {
      calls.push(method);
      const outcome = await agent.call(method, params);
      if (!outcome.ok) throw new Error(`${method} failed: ${JSON.stringify(outcome.error)}`);
      return outcome.result;
    };
    const opened = await call('session.open', {
      agent_role: 'codex',
      owner: 'alice',
      terminal_fingerprint: 'term-1',
      intent: 'new_work',
      heartbeat_timeout_seconds: 60,
      user_request: 'contract check',
      worktree_name: 'contract check',
      always_branch: true,
    });
    const s = opened.session.id as number;
    expect(opened.session).toMatchObject({
      agent_role: 'codex',
      owner: 'alice',
      terminal_fingerprint: 'term-1',
      heartbeat_timeout_seconds: 60,
    });
    expect(opened.worktree_slug).toBe('contract-check');
    await call('session.heartbeat', { session_id: s });
    expect((await call('session.context', { session_id: s })).session.id).toBe(s);
    const epic = (await call('task.create', { level: 'epic', title: 'E', priority: 3, assignee_session: s })).task;
    expect(epic).toMatchObject({ priority: 3, assignee_session_id: s });
    const feature = (await call('task.create', { level: 'feature', title: 'F', parent_id: epic.id })).task;
    const group = (await call('task.create', { level: 'test_group', title: 'G', parent_id: feature.id })).task;
    const one = (await call('task.create', { level: 'case', title: 'C1', parent_id: group.id })).task;
    const two = (await call('task.create', { level: 'case', title: 'C2', parent_id: group.id })).task;
    expect((await call('task.list', { level: 'case', status: 'todo', parent_id: group.id })).count).toBe(2);
    expect((await call('task.get', { task_id: one.id })).task.id).toBe(one.id);
    await call('scheduler.decide_worktree', { changed_files: 3, estimate_minutes: 30, risk: 2, parallel_workers: 2, conflicting_paths: 1 });
    const begun = await call('case.begin', {
      case_id: one.id,
      session_id: s,
      input_contract: { endpoint: '/login' },
      fixtures: ['fixtures/user.json'],
      required_files: ['src/a.ts'],
    });
    expect(begun.task ?? begun.case).toBeDefined();
    await call('step.check', {
      case_id: one.id,
      session_id: s,
      step_title: 'write the test',
      result: 'pass',
      artifacts: ['logs/test.txt'],
      required_files: ['src/a.ts'],
    });
    const ref = await call('work.current_ref', { session_id: s, mode: 'resume', required_files: ['src/a.ts'] });
    await call('work.current_ref.ack', { session_id: s, ref_id: ref.current_ref.ref_id });
    const lock = (await call('lock.acquire', { scope_type: 'file', scope_path: 'src/a.ts', owner_session: s, ttl_seconds: 60 })).lock;
    await call('lock.heartbeat', { lock_id: lock.id, ttl_seconds: 120 });
    await call('lock.release', { lock_id: lock.id });
    await call('case.complete', {
      case_id: one.id,
      session_id: s,
      summary: 'done',
      next_action: 'next case',
      required_files: ['src/a.ts'],
    });
    // input_contract is typed json: its JSON text is the object.
    const asText = await call('case.begin', { case_id: two.id, session_id: s, input_contract: '{"endpoint": "/logout"}', fixtures: [] });
    expect(asText.notes).toBeUndefined();
    const stored = h.db().prepare('SELECT input_contract FROM tasks WHERE id = ?').get(two.id) as { input_contract: string };
    expect(JSON.parse(stored.input_contract)).toEqual({ endpoint: '/logout' });
    expect((await call('resume.next', {})).source).toBeDefined();
    await call('resume.candidates.list', { requester_session_id: s, heartbeat_timeout_seconds: 30 });
    const other = await quickSession(h);
    h.db()
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?')
      .run(Date.now() - 120_000, s);
    const attached = await call('resume.candidates.attach', { requester_session_id: other, target_session_id: s });
    expect(attached.taken_over).toBe(s);
    await call('session.close', { session_id: other });
    expect(new Set(calls).size).toBe(19);
  });
});
