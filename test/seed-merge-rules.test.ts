import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { commitFiles, openWorkSession, writeConfig } from './helpers/git-plane.js';
import { git } from './helpers/repo.js';
import { privateTmux } from './helpers/tmux.js';

/**
 * Issue 10's merge rules, one test per rule: review dispatch runs under the main-merge lock;
 * merge.main.request dispatches the review of its merge request by default; an item with a merge
 * request lands only after an APPROVE; release_lock reports an item still waiting for its
 * reviewer; and every contract input of the merge methods is accepted with its meaning.
 */

const tmux = privateTmux();
const dir = mkdtempSync(join(tmpdir(), 'cs-seed-rules-'));
/** A `codex` that idles: the runner agents_sdk_codex_mcp selects, without a real Codex. */
const bin = join(dir, 'bin');
let h: Harness;

/** A reviewer that stays running (no verdict) until the tmux server goes. */
const IDLE_REVIEWER = { runner: 'command', command: [process.execPath, '-e', 'setTimeout(() => {}, 120000)'] };

beforeAll(() => {
  mkdirSync(bin);
  writeFileSync(join(bin, 'codex'), '#!/bin/sh\nsleep 120\n', { mode: 0o755 });
  h = openHarness({ ...tmux.env, PATH: `${bin}:${process.env.PATH}` });
  writeConfig(h, { reviewer: IDLE_REVIEWER });
});

afterAll(async () => {
  tmux.kill();
  // The reviewers' pane wrappers record their exit in the state directory as they go.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  h?.repo.cleanup();
});

/** A session with a committed change and a merge request for its feature. */
async function requested(name: string, extra: Record<string, unknown> = {}) {
  const s = await openWorkSession(h, name);
  const epic = (await h.ok('task.create', { level: 'epic', title: `${name} epic`, session_id: s.sessionId })).task.id;
  const feature = (await h.ok('task.create', { level: 'feature', title: name, parent_id: epic, session_id: s.sessionId })).task.id;
  commitFiles(s.path, { [`${name.replace(/\W/g, '-')}.txt`]: `${name}\n` }, name);
  const mr = (await h.ok('merge.request', { feature_task_id: feature, session_id: s.sessionId, ...extra })).merge_request;
  return { ...s, feature, mr };
}

const onMain = (path: string) => git(h.repo.path, 'ls-tree', '--name-only', 'main', '--', path).trim() === path;
const lockState = async () => (await h.ok('merge.main.next')).lock;
const jobsOf = (mergeRequestId: number) =>
  h.db().prepare('SELECT * FROM review_jobs WHERE merge_request_id = ? ORDER BY id').all(mergeRequestId) as Record<string, any>[];

describe('review dispatch runs under the main-merge lock', () => {
  it('refuses merge.review.request_auto when the caller does not hold the lock, naming the call to make first', async () => {
    const a = await requested('no lock');
    const refused = await h.fail('merge.review.request_auto', { merge_request_id: a.mr.id, session_id: a.sessionId });
    expect(refused).toMatchObject({ code: 'PRECONDITION_FAILED', field: 'session_id' });
    expect(refused.hint).toContain('merge.main.acquire_lock');
    // Someone else's lock is not the caller's.
    const b = await openWorkSession(h, 'lock holder');
    await h.ok('merge.main.acquire_lock', { session_id: b.sessionId });
    expect((await h.fail('merge.review.request_auto', { merge_request_id: a.mr.id, session_id: a.sessionId })).code).toBe(
      'PRECONDITION_FAILED',
    );
    await h.ok('merge.main.release_lock', { session_id: b.sessionId });
    expect(jobsOf(a.mr.id)).toEqual([]);
    expect(h.db().prepare("SELECT count(*) AS n FROM threads WHERE role = 'merge-reviewer'").get()).toEqual({ n: 0 });

    // With the lock: dispatched; asked again, the running reviewer's job comes back, not a second reviewer.
    await h.ok('merge.main.acquire_lock', { session_id: a.sessionId });
    const first = await h.ok('merge.review.request_auto', { merge_request_id: a.mr.id, session_id: a.sessionId });
    expect(first.review_job).toMatchObject({ merge_request_id: a.mr.id, state: 'running', reviewer_thread_id: first.thread.id });
    expect(first.attach_info.command).toContain('attach -r');
    expect(first.tmux).toBeTruthy();
    const again = await h.ok('merge.review.request_auto', { merge_request_id: a.mr.id, session_id: a.sessionId });
    expect(again).toMatchObject({ already_running: true, review_job: { id: first.review_job.id }, thread: { id: first.thread.id } });
    expect(jobsOf(a.mr.id)).toHaveLength(1);
    await h.ok('merge.main.release_lock', { session_id: a.sessionId });
  });
});

describe('a review job whose reviewer ends without a verdict', () => {
  it('is failed, with the reason, and a new request_auto starts a new reviewer', async () => {
    const a = await requested('silent reviewer');
    await h.ok('merge.main.acquire_lock', { session_id: a.sessionId });
    const quick = { runner: 'command', command: [process.execPath, '-e', ''] };
    const first = await h.ok('merge.review.request_auto', { merge_request_id: a.mr.id, agent_override: quick, session_id: a.sessionId });
    let status: Record<string, any> = {};
    for (let i = 0; i < 100 && status.review_job?.state !== 'failed'; i++) {
      status = await h.ok('merge.review.thread_status', { review_job_id: first.review_job.id, session_id: a.sessionId });
      if (status.review_job.state !== 'failed') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status.review_job.state).toBe('failed');
    expect(status.review_job.reason).toContain('without a verdict');
    const second = await h.ok('merge.review.request_auto', { merge_request_id: a.mr.id, session_id: a.sessionId });
    expect(second.already_running).toBe(false);
    expect(second.review_job.id).not.toBe(first.review_job.id);
    await h.ok('merge.main.release_lock', { session_id: a.sessionId });
  });
});

describe('merge.main.request dispatches the review of its merge request', () => {
  it('by default, under the lock taken for the dispatch; auto_review:false does not; another holder is reported', async () => {
    const a = await requested('auto review');
    const queued = await h.ok('merge.main.request', { merge_request_id: a.mr.id, session_id: a.sessionId });
    expect(queued.review_dispatch_error).toBeNull();
    expect(queued.review_dispatch.review_job).toMatchObject({
      merge_request_id: a.mr.id,
      state: 'running',
      reviewer_role: 'merge-reviewer',
    });
    expect(queued.review_dispatch.thread.role).toBe('merge-reviewer');
    // The lock was free: taken for the dispatch and released after.
    expect((await lockState()).held).toBe(false);

    const b = await requested('no auto review');
    const plain = await h.ok('merge.main.request', { merge_request_id: b.mr.id, auto_review: false, session_id: b.sessionId });
    expect(plain).toMatchObject({ review_dispatch: null, review_dispatch_error: null, main_merge_request: { state: 'queued' } });
    expect(jobsOf(b.mr.id)).toEqual([]);

    // The caller's own lock is used and kept.
    const c = await requested('held review');
    await h.ok('merge.main.acquire_lock', { session_id: c.sessionId });
    const held = await h.ok('merge.main.request', { merge_request_id: c.mr.id, session_id: c.sessionId });
    expect(held.review_dispatch.review_job.state).toBe('running');
    expect((await lockState()).holder).toBe(`session:${c.sessionId}`);

    // Another holder: queued, nothing dispatched, and the error says what to call.
    const d = await requested('blocked dispatch');
    const other = await h.ok('merge.main.request', { merge_request_id: d.mr.id, session_id: d.sessionId });
    expect(other.main_merge_request.state).toBe('queued');
    expect(other.review_dispatch).toBeNull();
    expect(other.review_dispatch_error).toMatchObject({ code: 'LOCKED' });
    expect(other.review_dispatch_error.hint).toContain('merge.main.acquire_lock');
    expect(other.review_dispatch_error.hint).toContain('merge.review.request_auto');
    expect(jobsOf(d.mr.id)).toEqual([]);
    await h.ok('merge.main.release_lock', { session_id: c.sessionId });

    // An already approved request needs no reviewer: nothing is dispatched, and that is no error.
    const e = await requested('already approved');
    await h.ok('merge.review.submit', { merge_request_id: e.mr.id, verdict: 'APPROVE', summary: 'reviewed by a person' });
    const approved = await h.ok('merge.main.request', { merge_request_id: e.mr.id, session_id: e.sessionId });
    expect(approved.review_dispatch_error).toBeNull();
    expect(approved.review_dispatch).toMatchObject({ review_job: null, notes: [expect.stringContaining('already approved')] });
    expect(jobsOf(e.mr.id)).toEqual([]);

    expect(await h.fail('merge.main.request', { auto_review: true, session_id: d.sessionId })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'auto_review',
    });
  });
});

describe('an item with a merge request lands only after an APPROVE', () => {
  it('is held as blocked_by_review by merge.main.process even with review_required false, and lands after APPROVE', async () => {
    const a = await requested('needs approve');
    // Its reviewer (dispatched by default) never answers.
    const item = (await h.ok('merge.main.request', { merge_request_id: a.mr.id, session_id: a.sessionId })).main_merge_request;
    await h.ok('merge.main.process');
    const held = (await h.ok('merge.main.status', { request_id: item.id })).main_merge_request;
    expect(held.state).toBe('blocked_by_review');
    expect(held.reason).toContain('APPROVE');
    expect(onMain('needs-approve.txt')).toBe(false);
    await h.ok('merge.review.submit', { merge_request_id: a.mr.id, verdict: 'APPROVE', summary: 'ok' });
    await h.ok('merge.main.process');
    expect((await h.ok('merge.main.status', { request_id: item.id })).main_merge_request.state).toBe('merged');
    expect(onMain('needs-approve.txt')).toBe(true);
  });

  it('release_lock lands approved items, leaves one still waiting for its reviewer queued, and says so', async () => {
    const a = await requested('waiting reviewer');
    const item = (await h.ok('merge.main.request', { merge_request_id: a.mr.id, session_id: a.sessionId })).main_merge_request;
    await h.ok('merge.main.acquire_lock', { session_id: a.sessionId });
    const status = await h.ok('merge.review.thread_status', { merge_request_id: a.mr.id, session_id: a.sessionId });
    expect(status).toMatchObject({ verdict: null, items: [], review_job: { state: 'running' } });
    const tip = git(h.repo.path, 'rev-parse', 'main').trim();
    const released = await h.ok('merge.main.release_lock', { session_id: a.sessionId });
    expect(released.released).toBe(true);
    expect(released.items).toEqual([
      expect.objectContaining({
        request_id: item.id,
        state: 'queued',
        waiting_for_review: true,
        reason: expect.stringContaining('no verdict yet'),
      }),
    ]);
    expect(released.hint).toContain('merge.review.thread_status');
    expect((await h.ok('merge.main.status', { request_id: item.id })).main_merge_request).toMatchObject({
      state: 'queued',
      reason: expect.stringContaining(`reviewer thread ${status.review_job.reviewer_thread_id} is running`),
    });
    expect(git(h.repo.path, 'rev-parse', 'main').trim()).toBe(tip);

    // The verdict arrives later: thread_status under the lock lands it, release_lock reports it.
    await h.ok('merge.review.submit', { merge_request_id: a.mr.id, verdict: 'APPROVE', summary: 'fine' });
    await h.ok('merge.main.acquire_lock', { session_id: a.sessionId });
    const landed = await h.ok('merge.review.thread_status', { review_job_id: status.review_job.id, session_id: a.sessionId });
    expect(landed).toMatchObject({ verdict: 'APPROVE', review_job: { state: 'completed' } });
    expect(landed.items).toEqual([expect.objectContaining({ request_id: item.id, state: 'merged' })]);
    const after = await h.ok('merge.main.release_lock', { session_id: a.sessionId });
    expect(after.items).toEqual([expect.objectContaining({ request_id: item.id, state: 'merged' })]);
    expect(git(h.repo.path, 'show', `main:waiting-reviewer.txt`)).toBe('waiting reviewer\n');
  });
});

describe('contract inputs of the merge methods', () => {
  it('merge.request takes notes_json (a JSON string or a value) and shows it to the reviewer', async () => {
    const fromString = await requested('notes string', { notes: 'see json', notes_json: '{"risk": "low", "files": 1}' });
    expect(fromString.mr.notes_json).toEqual({ risk: 'low', files: 1 });
    const fromValue = await requested('notes value', { notes_json: { risk: 'high' } });
    expect(fromValue.mr.notes_json).toEqual({ risk: 'high' });
    const context = await h.ok('merge.review_context', { merge_request_id: fromValue.mr.id });
    expect(context.merge_request).toMatchObject({ notes_json: { risk: 'high' } });
    await h.ok('merge.main.acquire_lock', { session_id: fromString.sessionId });
    const review = await h.ok('merge.review.request_auto', { merge_request_id: fromString.mr.id, session_id: fromString.sessionId });
    await h.ok('merge.main.release_lock', { session_id: fromString.sessionId });
    const prompt = (h.db().prepare('SELECT prompt FROM threads WHERE id = ?').get(review.thread.id) as { prompt: string }).prompt;
    expect(prompt).toContain('"notes": "see json"');
    expect(prompt).toContain('"risk": "low"');
    const s = await openWorkSession(h, 'bad notes');
    const feature = fromValue.feature;
    expect(await h.fail('merge.request', { feature_task_id: feature, notes_json: '{nope', session_id: s.sessionId })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'notes_json',
    });
  });

  it('merge.review.request_auto takes session_id, reviewer_role, agent_guide_path, agent_override, ensure_tmux, auto_install, runner_kind', async () => {
    // A guide must live in the repository (or the session worktree): a child is only pointed at project files.
    const guide = join(h.repo.path, 'review-guide.md');
    writeFileSync(guide, '# How we review\n');
    const a = await requested('all inputs');
    await h.ok('merge.main.acquire_lock', { session_id: a.sessionId });
    const override = { runner: 'command', command: [process.execPath, '-e', 'setTimeout(() => {}, 120000)'] };
    const dispatched = await h.ok('merge.review.request_auto', {
      session_id: a.sessionId,
      merge_request_id: a.mr.id,
      reviewer_role: 'code-reviewer',
      agent_guide_path: guide,
      agent_override: JSON.stringify(override),
      ensure_tmux: true,
      auto_install: false,
    });
    expect(dispatched.review_job).toMatchObject({
      id: expect.any(Number),
      reviewer_role: 'code-reviewer',
      agent_guide_path: guide,
      agent_override: JSON.stringify(override),
      agent: override,
      session_id: a.sessionId,
    });
    expect(dispatched.thread).toMatchObject({ role: 'code-reviewer', runner: 'command' });
    // The override names an agent, so the only note is the spawn's about a role with no template of its own.
    expect(dispatched.notes).toEqual([expect.stringMatching(/^role: "code-reviewer" has no template of its own/)]);
    for (const key of ['review_job', 'thread', 'tmux', 'attach_info']) expect(dispatched[key], key).toBeTruthy();
    await h.ok('merge.main.release_lock', { session_id: a.sessionId });

    // runner_kind agents_sdk_codex_mcp is the codex runner; an override naming no agent is stored and reported.
    const b = await requested('codex kind');
    await h.ok('merge.main.acquire_lock', { session_id: b.sessionId });
    const codex = await h.ok('merge.review.request_auto', {
      session_id: b.sessionId,
      merge_request_id: b.mr.id,
      runner_kind: 'agents_sdk_codex_mcp',
      agent_override: { temperature: 0 },
    });
    expect(codex.thread.runner).toBe('codex');
    expect(codex.review_job.agent_override).toBe('{"temperature":0}');
    expect(codex.notes[0]).toMatch(/^agent_override: stored on review job \d+/);
    await h.ok('merge.main.release_lock', { session_id: b.sessionId });

    // With no runner named, the config's reviewer runs.
    const c = await requested('config reviewer');
    await h.ok('merge.main.acquire_lock', { session_id: c.sessionId });
    const fromConfig = await h.ok('merge.review.request_auto', { session_id: c.sessionId, merge_request_id: c.mr.id });
    expect(fromConfig.review_job.agent).toEqual(IDLE_REVIEWER);
    expect(fromConfig.thread.runner).toBe('command');
    // A bad agent choice is refused before anything starts.
    await h.ok('merge.main.release_lock', { session_id: c.sessionId });
    const d = await requested('bad override');
    await h.ok('merge.main.acquire_lock', { session_id: d.sessionId });
    for (const agent_override of [{ runner: 'nope' }, '{"runner": "command", "colour": 1}', '{broken']) {
      expect(
        await h.fail('merge.review.request_auto', { session_id: d.sessionId, merge_request_id: d.mr.id, agent_override }),
      ).toMatchObject({
        code: 'INVALID_ARGUMENT',
        field: 'agent_override',
      });
    }
    expect(jobsOf(d.mr.id)).toEqual([]);
    await h.ok('merge.main.release_lock', { session_id: d.sessionId });
  });

  it('merge.review.thread_status takes review_job_id or merge_request_id, one of them required', async () => {
    const a = await requested('status inputs');
    const queued = await h.ok('merge.main.request', { merge_request_id: a.mr.id, session_id: a.sessionId });
    const job = queued.review_dispatch.review_job;
    const byJob = await h.ok('merge.review.thread_status', { review_job_id: job.id });
    const byRequest = await h.ok('merge.review.thread_status', { merge_request_id: a.mr.id });
    for (const status of [byJob, byRequest]) {
      expect(status).toMatchObject({ review_job: { id: job.id, state: 'running' }, thread: { id: job.reviewer_thread_id }, verdict: null });
      expect(status.attach_info).toBeTruthy();
    }
    expect(await h.fail('merge.review.thread_status', {})).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'review_job_id' });
    expect(await h.fail('merge.review.thread_status', { review_job_id: 99_999 })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'review_job_id',
    });
  });

  it('merge.main.request takes session_id, auto_review, reviewer_role and agent_guide_path; the lock methods take session_id', async () => {
    const guide = join(h.repo.path, 'main-guide.md');
    writeFileSync(guide, '# Main guide\n');
    const a = await requested('main inputs');
    const queued = await h.ok('merge.main.request', {
      session_id: a.sessionId,
      from_worktree_id: a.worktreeId,
      merge_request_id: a.mr.id,
      auto_review: true,
      reviewer_role: 'code-reviewer',
      agent_guide_path: guide,
    });
    expect(queued.review_dispatch.review_job).toMatchObject({ reviewer_role: 'code-reviewer', agent_guide_path: guide });
    expect(queued.review_dispatch.thread.role).toBe('code-reviewer');
    expect((await h.ok('merge.main.acquire_lock', { session_id: a.sessionId, ttl_seconds: 60 })).lock.holder).toBe(
      `session:${a.sessionId}`,
    );
    expect((await h.ok('merge.main.release_lock', { session_id: a.sessionId })).released).toBe(true);
    expect(readFileSync(guide, 'utf8')).toBe('# Main guide\n');
  });
});
