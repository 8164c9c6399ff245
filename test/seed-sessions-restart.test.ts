import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type McpHandle, connectMcp } from './helpers/mcp.js';
import { type TempRepo, makeRepo } from './helpers/repo.js';

/**
 * Issue 10, resume after a restart: a new MCP server (no CODESTRATOR_SESSION_ID, no session
 * opened by it) finds the restarted agent's session and case in at most two calls; where it
 * cannot tell, it lists the candidates with the exact call; session.open again never strands a case.
 */

type Json = Record<string, any>;

const repos: TempRepo[] = [];
const handles: McpHandle[] = [];
afterAll(async () => {
  await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
  repos.forEach((repo) => repo.cleanup());
});

/** A terminal the test controls: the servers would otherwise all share the test runner's. */
const terminal = (pane: string) => ({ TMUX: '/tmp/cs-test-tmux,1,0', TMUX_PANE: pane });

async function start(cwd: string, env: Record<string, string> = {}): Promise<McpHandle> {
  // No identity and no terminal of the test runner's own.
  const handle = await connectMcp(cwd, { TMUX: '', TMUX_PANE: '', ...env });
  handles.push(handle);
  return handle;
}

async function ok(handle: McpHandle, tool: string, method: string, params: unknown = {}): Promise<Json> {
  const { isError, data } = await handle.tool(tool, method, params);
  if (isError) throw new Error(`${method} failed: ${JSON.stringify(data)}`);
  return data;
}

const db = (repo: TempRepo) => new Database(join(repo.path, '.codestrator', 'state.db'), { readonly: true });

/** Closes a client and waits until its server process is gone, as after a restart. */
async function stop(handle: McpHandle): Promise<void> {
  const pid = (handle.client.transport as { pid?: number | null } | undefined)?.pid;
  await handle.close();
  for (let i = 0; pid && i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** An agent's first steps: open a session, plan one case and begin it. */
async function openWithCase(handle: McpHandle, open: Json): Promise<{ session: number; caseId: number; worktree: string | null }> {
  const opened = await ok(handle, 'orch_session', 'session.open', open);
  const epic = await ok(handle, 'orch_task', 'task.create', { level: 'epic', title: 'E' });
  const feature = await ok(handle, 'orch_task', 'task.create', { level: 'feature', title: 'F', parent_id: epic.task.id });
  const group = await ok(handle, 'orch_task', 'task.create', { level: 'test_group', title: 'G', parent_id: feature.task.id });
  const created = await ok(handle, 'orch_task', 'task.create', {
    level: 'case',
    title: `case of ${opened.session.id}`,
    parent_id: group.task.id,
    steps: ['one', 'two'],
  });
  await ok(handle, 'orch_task', 'case.begin', { case_id: created.task.id });
  await ok(handle, 'orch_task', 'step.check', { case_id: created.task.id, step_title: 'one', result: 'pass' });
  return { session: opened.session.id, caseId: created.task.id, worktree: opened.worktree?.path ?? null };
}

describe('resume after a restart (a fresh server, no environment)', () => {
  it('started in the session worktree, answers work.current_ref {} and resume.next {} with that session and its case', async () => {
    const repo = makeRepo();
    repos.push(repo);
    const first = await start(repo.path, terminal('%71'));
    await ok(first, 'orch_session', 'workspace.init');
    const { session, caseId, worktree } = await openWithCase(first, { intent: 'new_work', user_request: 'fix the login loop' });
    await stop(first);

    // Codex/Claude restart in the worktree the skill told them to work in; a new terminal.
    const again = await start(worktree!, terminal('%72'));
    const ref = await ok(again, 'orch_lifecycle', 'work.current_ref', {});
    expect(ref).toMatchObject({
      source: 'current_refs',
      owner: `session:${session}`,
      resumed_session: { id: session, matched_by: ['worktree'] },
    });
    expect(ref.current_ref.case.id).toBe(caseId);
    expect(ref.current_ref.next_step.title).toBe('two');
    expect(ref.notes[0]).toContain(`this server now acts as session ${session}`);
    const next = await ok(again, 'orch_task', 'resume.next', {});
    expect(next).toMatchObject({ source: 'own_active_case', case: { id: caseId } });
    // The server adopted the session: the next change is made as it.
    await ok(again, 'orch_task', 'step.check', { case_id: caseId, step_title: 'two', result: 'pass' });
    const recorded = db(repo).prepare('SELECT terminal, server_process FROM sessions WHERE id = ?').get(session) as Json;
    expect(recorded.terminal).toBe('tmux:/tmp/cs-test-tmux:%72');
    await stop(again);

    // resume.next alone works too, from the same terminal in the main checkout.
    const third = await start(repo.path, terminal('%72'));
    const alone = await ok(third, 'orch_task', 'resume.next', {});
    expect(alone).toMatchObject({
      source: 'own_active_case',
      case: { id: caseId },
      resumed_session: { id: session, matched_by: ['terminal'] },
    });
  });

  it('when it cannot tell, lists the candidates with the exact attach call, which continues the chosen session', async () => {
    const repo = makeRepo();
    repos.push(repo);
    // Two agents opened in the same terminal pane one after the other, both in the main checkout.
    const one = await start(repo.path, terminal('%5'));
    await ok(one, 'orch_session', 'workspace.init');
    const a = await openWithCase(one, { always_branch: false, user_request: 'a', terminal_fingerprint: 'fp-a' });
    const two = await start(repo.path, terminal('%5'));
    const b = await openWithCase(two, { always_branch: false, user_request: 'b', terminal_fingerprint: 'fp-b' });
    expect(b.session).not.toBe(a.session);
    await stop(one);
    await stop(two);

    const fresh = await start(repo.path, terminal('%5'));
    const unknown = await ok(fresh, 'orch_lifecycle', 'work.current_ref', {});
    expect(unknown).toMatchObject({ source: 'unidentified', current_ref: null });
    const candidates = unknown.candidates as Json[];
    expect(candidates.map((c) => c.session_id).sort()).toEqual([a.session, b.session].sort());
    const candidateB = candidates.find((c) => c.session_id === b.session)!;
    expect(candidateB).toMatchObject({ matched_by: ['terminal'], current_ref: { case: { id: b.caseId } } });
    expect(candidateB.attach).toEqual({ tool: 'orch_task', method: 'resume.candidates.attach', params: { target_session_id: b.session } });
    const unrecorded = await ok(fresh, 'orch_lifecycle', 'work.current_ref', { next_action: 'carry on' });
    expect(unrecorded).toMatchObject({ source: 'unidentified', notes: [expect.stringContaining('not recorded')] });
    const listed = await ok(fresh, 'orch_task', 'resume.next', {});
    expect((listed.candidates as Json[]).length).toBe(2);

    const attached = await ok(fresh, candidateB.attach.tool, candidateB.attach.method, candidateB.attach.params);
    expect(attached).toMatchObject({ continued: true, session: { id: b.session } });
    const mine = await ok(fresh, 'orch_lifecycle', 'work.current_ref', {});
    expect(mine).toMatchObject({ source: 'current_refs', owner: `session:${b.session}`, current_ref: { case: { id: b.caseId } } });
    await stop(fresh);

    // The terminal_fingerprint a session was opened with settles it in one call.
    const byPrint = await start(repo.path, terminal('%5'));
    const found = await ok(byPrint, 'orch_lifecycle', 'work.current_ref', { terminal_fingerprint: 'fp-a' });
    expect(found).toMatchObject({ resumed_session: { id: a.session }, current_ref: { case: { id: a.caseId } } });
  });
});

describe('session.open again', () => {
  it('returns the session that holds the case, from the same server and after a restart, instead of stranding it', async () => {
    const repo = makeRepo();
    repos.push(repo);
    const agent = await start(repo.path, terminal('%9'));
    await ok(agent, 'orch_session', 'workspace.init');
    const { session, caseId } = await openWithCase(agent, { intent: 'new_work', user_request: 'payment refactor' });
    const twice = await ok(agent, 'orch_session', 'session.open', { intent: 'new_work', user_request: 'payment refactor' });
    expect(twice).toMatchObject({ reused: true, session: { id: session }, current_ref: { case: { id: caseId } } });
    expect(twice.notes[0]).toContain(`still holds case ${caseId}`);
    await ok(agent, 'orch_task', 'step.check', { case_id: caseId, step_title: 'two', result: 'pass' });
    await stop(agent);

    // Restarted, following the skill from the top: workspace.init, session.open.
    const restarted = await start(repo.path, terminal('%9'));
    await ok(restarted, 'orch_session', 'workspace.init');
    const reopened = await ok(restarted, 'orch_session', 'session.open', { intent: 'new_work', user_request: 'payment refactor' });
    expect(reopened).toMatchObject({ reused: true, session: { id: session } });
    await ok(restarted, 'orch_task', 'case.complete', { case_id: caseId, summary: 'done', next_action: 'merge' });
    const sessions = db(repo).prepare('SELECT count(*) AS n FROM sessions').get() as Json;
    expect(sessions.n).toBe(1);
    // With the case done, session.open opens a new session as before.
    const next = await ok(restarted, 'orch_session', 'session.open', { intent: 'new_work', user_request: 'next thing' });
    expect(next.reused).toBeUndefined();
    expect(next.session.id).not.toBe(session);
  });
});
