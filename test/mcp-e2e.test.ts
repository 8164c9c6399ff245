import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './helpers/cli.js';
import { type McpHandle, connectMcp } from './helpers/mcp.js';
import { type TempRepo, git, makeRepo } from './helpers/repo.js';
import type { CallError as WireError } from './helpers/dispatch.js';

/**
 * The acceptance flow, over MCP against the built server: one agent opens a session, plans
 * epic → feature → test_group → case, runs the case step by step, reads its resume point in all
 * three sizes (with 10,000 other tasks in the ledger), completes it and mirrors the ledger to
 * Markdown; a second agent with its own identity cannot touch that work without force.
 */

type Json = Record<string, unknown>;

let repo: TempRepo;
let mcp: McpHandle;
let other: McpHandle | undefined;

/** A successful call's structuredContent. */
async function ok(handle: McpHandle, tool: string, method: string, params: unknown = {}): Promise<Json> {
  const { isError, data } = await handle.tool(tool, method, params);
  if (isError) throw new Error(`${method} failed: ${JSON.stringify(data)}`);
  expect(typeof data).toBe('object');
  return data;
}

/** A failed call's structured error. */
async function failure(handle: McpHandle, tool: string, method: string, params: unknown = {}): Promise<WireError> {
  const { isError, data } = await handle.tool(tool, method, params);
  expect(isError, `${method} should fail but returned ${JSON.stringify(data)}`).toBe(true);
  const error = (data as { error?: WireError }).error;
  expect(error).toBeDefined();
  return error!;
}

const LONG_CASE_TITLE =
  'Login redirects to /home after sign-in ' + 'and keeps the return URL intact '.repeat(60).slice(0, 1950).trimEnd() + '.';
const STEPS = ['write failing test', 'fix redirect', 'run the full suite'];
const REQUIRED_FILES = Array.from({ length: 50 }, (_, i) => `src/features/auth/module-${i}/deeply/nested/handler-${i}.ts`);
const FIXTURE_TASKS = 10_000;

// Filled in as the flow goes; each step builds on the previous one.
let dbPath: string;
let stateDir: string;
let sessionId: number;
let worktree: { path: string; branch: string; slug: string };
let epicId: number;
let featureId: number;
let groupId: number;
let caseId: number;
let lockId: number;
let otherSessionId: number;
let mirrorPath: string;

beforeAll(async () => {
  repo = makeRepo('e2e-repo');
  mcp = await connectMcp(repo.path);
});

afterAll(async () => {
  await other?.close();
  await mcp?.close();
  repo?.cleanup();
});

function withDb<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describe('MCP acceptance flow', () => {
  it('workspace.init creates the state directory and keeps it out of git', async () => {
    const init = await ok(mcp, 'orch_session', 'workspace.init');
    stateDir = init.state_dir as string;
    dbPath = init.db_path as string;
    expect(init.repo_path).toBe(repo.path);
    expect(stateDir).toBe(join(repo.path, '.codestrator'));
    expect(init.main_branch).toBe('main');
    expect(statSync(stateDir).isDirectory()).toBe(true);
    expect(existsSync(dbPath)).toBe(true);
    const exclude = readFileSync(join(repo.path, '.git', 'info', 'exclude'), 'utf8');
    expect(exclude.split('\n')).toContain('/.codestrator/');
    // Idempotent: a second init neither fails nor duplicates the exclude entry.
    await ok(mcp, 'orch_session', 'workspace.init');
    const again = readFileSync(join(repo.path, '.git', 'info', 'exclude'), 'utf8');
    expect(again.split('\n').filter((line) => line === '/.codestrator/')).toHaveLength(1);
  });

  it('session.open creates a worktree on a new branch and leaves the main checkout clean', async () => {
    const opened = await ok(mcp, 'orch_session', 'session.open', {
      intent: 'new_work',
      user_request: 'Fix the login redirect loop on Safari',
    });
    const session = opened.session as Json;
    sessionId = session.id as number;
    expect(sessionId).toBeGreaterThan(0);
    expect(session.status).toBe('active');
    const wt = opened.worktree as Json;
    worktree = { path: wt.path as string, branch: wt.branch as string, slug: opened.worktree_slug as string };
    expect(worktree.slug).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(worktree.branch).toBe(`codestrator/${worktree.slug}`);
    expect(worktree.path).toBe(join(stateDir, 'worktrees', worktree.slug));

    // On disk: the directory is a checkout of the new branch, and git knows the branch and worktree.
    expect(statSync(worktree.path).isDirectory()).toBe(true);
    expect(readFileSync(join(worktree.path, 'README.md'), 'utf8')).toBe('# test repo\n');
    expect(git(repo.path, 'branch', '--list', worktree.branch).trim()).toContain(worktree.branch);
    expect(git(worktree.path, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe(worktree.branch);
    expect(git(repo.path, 'worktree', 'list', '--porcelain')).toContain(`worktree ${worktree.path}\n`);
    expect(git(worktree.path, 'rev-parse', 'HEAD').trim()).toBe(git(repo.path, 'rev-parse', 'main').trim());

    // The main checkout is untouched: still on main, nothing untracked (the state dir is excluded).
    expect(git(repo.path, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('main');
    expect(git(repo.path, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(repo.path, '.git', 'info', 'exclude'), 'utf8').split('\n')).toContain('/.codestrator/');
  });

  it('plans epic → feature → test_group → case with planned steps', async () => {
    const epic = (await ok(mcp, 'orch_task', 'task.create', { level: 'epic', title: 'Reliable login' })).task as Json;
    epicId = epic.id as number;
    const feature = (await ok(mcp, 'orch_task', 'task.create', { level: 'feature', title: 'Redirects', parent_id: epicId })).task as Json;
    featureId = feature.id as number;
    const group = (await ok(mcp, 'orch_task', 'task.create', { level: 'test_group', title: 'Safari redirects', parent_id: featureId }))
      .task as Json;
    groupId = group.id as number;
    const created = (
      await ok(mcp, 'orch_task', 'task.create', { level: 'case', title: LONG_CASE_TITLE, parent_id: groupId, steps: STEPS, priority: 5 })
    ).task as Json;
    caseId = created.id as number;
    expect(created).toMatchObject({ level: 'case', parent_id: groupId, status: 'todo', steps: STEPS, title: LONG_CASE_TITLE });

    const view = await ok(mcp, 'orch_task', 'task.get', { task_id: caseId });
    expect((view.task as Json).steps).toEqual(STEPS);
    expect(view.steps).toEqual([]);
    const groupView = await ok(mcp, 'orch_task', 'task.get', { task_id: groupId });
    expect(groupView.children).toEqual({ count: 1, by_status: { todo: 1 } });
  });

  it('fixture: 10,000 other tasks written straight into the SQLite file', () => {
    const now = Date.now();
    const filler = 'lorem ipsum dolor sit amet consectetur '.repeat(40);
    const manyPlanned = JSON.stringify(Array.from({ length: 300 }, (_, i) => `fixture step ${i} ${filler.slice(0, 200)}`));
    withDb((db) => {
      const insertTask = db.prepare(
        `INSERT INTO tasks (level, parent_id, title, description, status, priority, steps_planned, required_files, completed_at, created_at, updated_at)
         VALUES ('case', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insertStep = db.prepare(
        `INSERT INTO steps (case_id, order_no, title, result, notes, artifacts, owner_key, created_at) VALUES (?, ?, ?, ?, ?, '[]', 'session:999', ?)`,
      );
      db.transaction(() => {
        for (let i = 0; i < FIXTURE_TASKS; i++) {
          const many = i % 500 === 0;
          const status = i % 7 === 0 ? 'done' : i % 11 === 0 ? 'blocked' : 'todo';
          const id = insertTask.run(
            groupId,
            `Fixture case ${i}: ${filler.slice(0, 400 + (i % 300))}`,
            `fixture description ${i}`,
            status,
            i % 13,
            many ? manyPlanned : JSON.stringify(['a', 'b']),
            JSON.stringify(Array.from({ length: many ? 200 : 2 }, (_, f) => `src/fixture/${i}/${f}.ts`)),
            status === 'done' ? now : null,
            now,
            now,
          ).lastInsertRowid;
          if (many) {
            for (let s = 1; s <= 300; s++) insertStep.run(id, s, `fixture step ${s}`, s % 5 === 0 ? 'fail' : 'pass', `note ${s}`, now);
          }
        }
      })();
      const { n } = db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number };
      expect(n).toBe(FIXTURE_TASKS + 4);
    });
  });

  it('case.begin claims the case (long title, 50 required files)', async () => {
    const begun = await ok(mcp, 'orch_task', 'case.begin', {
      case_id: caseId,
      input_contract: { endpoint: '/login', browser: 'safari' },
      required_files: REQUIRED_FILES,
    });
    expect(begun.case).toMatchObject({ id: caseId, status: 'in_progress', owner_key: `session:${sessionId}` });
    expect((begun.case as Json).required_files).toEqual(REQUIRED_FILES);
    expect(begun.resumed).toBe(false);
    const ref = begun.current_ref as Json;
    expect(Buffer.byteLength(JSON.stringify(ref))).toBeLessThan(1024);
    expect(ref.next_step).toEqual({ title: STEPS[0], last_result: null });
  });

  it('step.check records real results; a failed step stays failed and stays next', async () => {
    const failed = await ok(mcp, 'orch_task', 'step.check', {
      case_id: caseId,
      step_title: STEPS[0],
      result: 'fail',
      notes: 'expected 302, got 200',
    });
    expect(failed.step).toMatchObject({ order_no: 1, title: STEPS[0], result: 'fail', notes: 'expected 302, got 200' });
    expect(failed.next_step).toEqual({ title: STEPS[0], last_result: 'fail' });

    const passed = await ok(mcp, 'orch_task', 'step.check', { case_id: caseId, step_title: STEPS[1], result: 'pass' });
    expect(passed.step).toMatchObject({ order_no: 2, title: STEPS[1], result: 'pass' });
    // Passing a later step does not paper over the failed one.
    expect(passed.next_step).toEqual({ title: STEPS[0], last_result: 'fail' });
    expect(passed.step_counts).toEqual({ pass: 1, fail: 1, skip: 0 });

    const view = await ok(mcp, 'orch_task', 'task.get', { task_id: caseId });
    const steps = view.steps as Json[];
    expect(steps.map((s) => [s.order_no, s.title, s.result])).toEqual([
      [1, STEPS[0], 'fail'],
      [2, STEPS[1], 'pass'],
    ]);
    expect(steps[0]!.notes).toBe('expected 302, got 200');
    expect(view.latest_checkpoint).toMatchObject({ event: 'step.check' });
  });

  it('work.current_ref compact stays under 1 KB with 10,000 other tasks and reports truncation', async () => {
    const started = Date.now();
    const compact = await ok(mcp, 'orch_lifecycle', 'work.current_ref', { mode: 'compact' });
    const elapsed = Date.now() - started;
    expect(compact).toMatchObject({ source: 'current_refs', owner: `session:${sessionId}`, mode: 'compact' });
    // compact carries nothing beyond the ref itself.
    for (const key of ['case_detail', 'summary', 'parents', 'dependencies', 'locks_held', 'worktree', 'recent_checkpoints']) {
      expect(compact).not.toHaveProperty(key);
    }
    const ref = compact.current_ref as Json;
    const bytes = Buffer.byteLength(JSON.stringify(ref));
    expect(bytes).toBeLessThan(1024);
    expect(ref.truncated).toBe(true);
    expect(ref.status).toBe('active');
    const refCase = ref.case as Json;
    expect(refCase.id).toBe(caseId);
    expect(refCase.status).toBe('in_progress');
    // The title is clipped (never the id), and what is kept is the start of the real title.
    const shown = refCase.title as string;
    expect(shown.length).toBeLessThan(LONG_CASE_TITLE.length);
    expect(shown.endsWith('…')).toBe(true);
    expect(LONG_CASE_TITLE.startsWith(shown.slice(0, -1))).toBe(true);
    const files = ref.required_files as string[];
    expect(files.length).toBeLessThan(REQUIRED_FILES.length);
    expect(ref.next_step).toMatchObject({ last_result: 'fail' });
    expect(STEPS[0]!.startsWith(((ref.next_step as Json).title as string).replace(/…$/, ''))).toBe(true);
    expect(ref.last_checkpoint).toMatchObject({ event: 'step.check' });
    expect(elapsed).toBeLessThan(5_000);
  });

  it('work.current_ref resume adds the steps, planned steps and input contract', async () => {
    const resume = await ok(mcp, 'orch_lifecycle', 'work.current_ref', { mode: 'resume' });
    expect(resume.mode).toBe('resume');
    expect(Buffer.byteLength(JSON.stringify(resume.current_ref))).toBeLessThan(1024);
    expect(resume.summary).toBe(`step 2 ${STEPS[1]}: pass`);
    const detail = resume.case_detail as Json;
    expect((detail.steps as Json[]).map((s) => [s.order_no, s.title, s.result])).toEqual([
      [1, STEPS[0], 'fail'],
      [2, STEPS[1], 'pass'],
    ]);
    expect(detail.planned_steps).toEqual(STEPS);
    expect(detail.input_contract).toEqual({ endpoint: '/login', browser: 'safari' });
    expect(detail.fixtures).toEqual([]);
    for (const key of ['parents', 'dependencies', 'locks_held', 'worktree', 'recent_checkpoints']) expect(resume).not.toHaveProperty(key);
  });

  it('work.current_ref handoff adds parents, dependencies, locks and the worktree', async () => {
    const lock = await ok(mcp, 'orch_workspace', 'lock.acquire', { scope_type: 'file', scope_path: 'src/auth/login.ts' });
    lockId = (lock.lock as Json | undefined)?.id as number;
    expect(lockId).toBeGreaterThan(0);
    const handoff = await ok(mcp, 'orch_lifecycle', 'work.current_ref', { mode: 'handoff' });
    expect(handoff.mode).toBe('handoff');
    expect(handoff.case_detail).toBeDefined();
    const parents = handoff.parents as Json[];
    expect(new Map(parents.map((p) => [p.id, p.level]))).toEqual(
      new Map<unknown, unknown>([
        [groupId, 'test_group'],
        [featureId, 'feature'],
        [epicId, 'epic'],
      ]),
    );
    expect(handoff.dependencies).toEqual([]);
    const locks = handoff.locks_held as Json[];
    expect(locks.map((l) => [l.id, l.scope_path, l.state])).toEqual([[lockId, 'src/auth/login.ts', 'active']]);
    expect(handoff.worktree).toMatchObject({ path: worktree.path, branch: worktree.branch });
    const checkpoints = handoff.recent_checkpoints as Json[];
    expect(checkpoints.map((c) => c.event)).toEqual(['step.check', 'step.check', 'case.begin']);
  });

  it('a second client with CODESTRATOR_SESSION_ID acts as itself: NOT_OWNER unless force with a reason (audited)', async () => {
    const opened = call<{ session: { id: number } }>(repo.path, 'session.open', { intent: 'new_work', user_request: 'review queue' });
    otherSessionId = opened.session.id;
    expect(otherSessionId).not.toBe(sessionId);
    other = await connectMcp(repo.path, { CODESTRATOR_SESSION_ID: String(otherSessionId) });

    const mine = await ok(other, 'orch_lifecycle', 'work.current_ref', {});
    expect(mine).toMatchObject({ source: 'none', owner: `session:${otherSessionId}`, current_ref: null });

    const auditCount = () => withDb((db) => (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n);
    expect(auditCount()).toBe(0);

    const stepError = await failure(other, 'orch_task', 'step.check', { case_id: caseId, step_title: STEPS[2], result: 'pass' });
    expect(stepError.code).toBe('NOT_OWNER');
    expect(stepError.data).toEqual({ owner: `session:${sessionId}` });
    const completeError = await failure(other, 'orch_task', 'case.complete', { case_id: caseId, summary: 'mine now', next_action: 'none' });
    expect(completeError.code).toBe('NOT_OWNER');
    const beginError = await failure(other, 'orch_task', 'case.begin', { case_id: caseId });
    expect(beginError.code).toBe('CONFLICT');
    const noReason = await failure(other, 'orch_task', 'step.check', {
      case_id: caseId,
      step_title: STEPS[2],
      result: 'pass',
      force: true,
    });
    expect(noReason).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'reason' });
    expect(auditCount()).toBe(0);
    // The refusals wrote nothing.
    expect(((await ok(mcp, 'orch_task', 'task.get', { task_id: caseId })).steps as Json[]).length).toBe(2);

    const forced = await ok(other, 'orch_task', 'step.check', {
      case_id: caseId,
      step_title: STEPS[2],
      result: 'pass',
      notes: 'suite green on CI',
      force: true,
      reason: 'pairing: recorded the CI run for session 1',
    });
    expect(forced.step).toMatchObject({ order_no: 3, title: STEPS[2], result: 'pass' });
    const audit = withDb((db) => db.prepare('SELECT method, actor_key, target, reason FROM audit_events ORDER BY id').all());
    expect(audit).toEqual([
      {
        method: 'step.check',
        actor_key: `session:${otherSessionId}`,
        target: `case ${caseId}`,
        reason: 'pairing: recorded the CI run for session 1',
      },
    ]);
    // Force recorded a step; it did not move the case to the other session.
    const view = await ok(mcp, 'orch_task', 'task.get', { task_id: caseId });
    expect(view.task).toMatchObject({ status: 'in_progress', owner_key: `session:${sessionId}` });
  });

  it('case.complete finishes the case and closes the current ref', async () => {
    const done = await ok(mcp, 'orch_task', 'case.complete', {
      case_id: caseId,
      summary: 'Redirect fixed; Safari test passes',
      next_action: 'merge to main',
    });
    expect(done.case).toMatchObject({ id: caseId, status: 'done', summary: 'Redirect fixed; Safari test passes' });
    expect(done.step_counts).toEqual({ pass: 2, fail: 1, skip: 0 });
    // The failed first step was never re-checked: completing says so instead of hiding it.
    expect(done.unchecked_step).toEqual({ title: STEPS[0], last_result: 'fail' });
    expect(typeof done.warning).toBe('string');
    const after = await ok(mcp, 'orch_lifecycle', 'work.current_ref', { mode: 'compact' });
    expect(after).toMatchObject({ source: 'none', current_ref: null });
    const steps = (await ok(mcp, 'orch_task', 'task.get', { task_id: caseId })).steps as Json[];
    expect(steps.map((s) => s.result)).toEqual(['fail', 'pass', 'pass']);
  });

  it("the second client can force-complete the first session's case, and that is audited too", async () => {
    const second = (
      await ok(mcp, 'orch_task', 'task.create', {
        level: 'case',
        title: 'Redirect keeps query string',
        parent_id: groupId,
        steps: ['check'],
      })
    ).task as Json;
    await ok(mcp, 'orch_task', 'case.begin', { case_id: second.id });
    expect((await failure(other!, 'orch_task', 'case.complete', { case_id: second.id, summary: 's', next_action: 'n' })).code).toBe(
      'NOT_OWNER',
    );
    const forced = await ok(other!, 'orch_task', 'case.complete', {
      case_id: second.id,
      summary: 'closed for an absent owner',
      next_action: 'none',
      force: true,
      reason: 'session 1 asked to close it',
    });
    expect(forced.case).toMatchObject({ id: second.id, status: 'done' });
    const audit = withDb((db) =>
      db.prepare("SELECT method, actor_key, target, reason FROM audit_events WHERE method = 'case.complete'").all(),
    );
    expect(audit).toEqual([
      {
        method: 'case.complete',
        actor_key: `session:${otherSessionId}`,
        target: `case ${second.id}`,
        reason: 'session 1 asked to close it',
      },
    ]);
  });

  it('mirror.refresh writes the ledger as Markdown with checkboxes and step results', async () => {
    const refused = await failure(mcp, 'orch_system', 'mirror.refresh', { requester_role: 'agent' });
    expect(refused).toMatchObject({ code: 'PRECONDITION_FAILED', field: 'requester_role' });

    const refreshed = await ok(mcp, 'orch_system', 'mirror.refresh', { requester_role: 'doc-mirror-manager' });
    mirrorPath = refreshed.path as string;
    expect(mirrorPath).toBe(join(stateDir, 'mirror', 'status.md'));
    expect(refreshed.mirror_status).toMatchObject({ outdated: false });
    const markdown = readFileSync(mirrorPath, 'utf8');
    expect(Buffer.byteLength(markdown)).toBe(refreshed.bytes);
    const lines = markdown.split('\n');

    // Rolled up from their cases: some are done, most are still to do.
    expect(lines).toContain(`- [~] epic #${epicId}: Reliable login (in_progress)`);
    expect(lines).toContain(`  - [~] feature #${featureId}: Redirects (in_progress)`);
    expect(lines).toContain(`    - [~] test_group #${groupId}: Safari redirects (in_progress)`);
    expect(lines).toContain(`      - [x] case #${caseId}: ${LONG_CASE_TITLE} (done)`);
    expect(lines).toContain(`        - [!] step 1: ${STEPS[0]} — fail: expected 302, got 200`);
    expect(lines).toContain(`        - [x] step 2: ${STEPS[1]} — pass`);
    expect(lines).toContain(`        - [x] step 3: ${STEPS[2]} — pass: suite green on CI`);
    // The failed step line comes right after its case line, in order.
    const caseLine = lines.indexOf(`      - [x] case #${caseId}: ${LONG_CASE_TITLE} (done)`);
    expect(lines[caseLine + 1]).toMatch(/^ {8}- \[!\] step 1: /);
    // Every case of the ledger is in the mirror, the fixture ones included.
    expect(lines.filter((line) => /^ {6}- \[.\] case #\d+: /.test(line))).toHaveLength(FIXTURE_TASKS + 2);
  });

  it('mirror.status: outdated false after refresh; heartbeats keep it current, task.create outdates it', async () => {
    const fresh = await ok(mcp, 'orch_system', 'mirror.status');
    expect(fresh).toMatchObject({ outdated: false, md_path: mirrorPath });
    expect(fresh.md_version).toBe(fresh.ledger_version);

    const beat = await ok(mcp, 'orch_session', 'session.heartbeat', { session_id: sessionId });
    expect((beat.session as Json).id).toBe(sessionId);
    await ok(other!, 'orch_session', 'session.heartbeat', { session_id: otherSessionId });
    await ok(mcp, 'orch_workspace', 'lock.heartbeat', { lock_id: lockId });
    const afterBeat = await ok(mcp, 'orch_system', 'mirror.status');
    expect(afterBeat).toMatchObject({ outdated: false, ledger_version: fresh.ledger_version });

    await ok(mcp, 'orch_task', 'task.create', { level: 'epic', title: 'Something new' });
    const afterCreate = await ok(mcp, 'orch_system', 'mirror.status');
    expect(afterCreate.outdated).toBe(true);
    expect(afterCreate.ledger_version as number).toBeGreaterThan(fresh.ledger_version as number);
    expect(afterCreate.md_version).toBe(fresh.md_version);
  });
});
