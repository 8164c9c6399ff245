import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type McpHandle, connectMcp } from './helpers/mcp.js';
import { type TempRepo, git, makeRepo } from './helpers/repo.js';
import { privateTmux } from './helpers/tmux.js';

/**
 * The skill's Minimal Call Sequence and §6 taken literally, over MCP against the built server,
 * with the contract's parameter names only: a session commits its work in its worktree, asks for
 * a merge, and after merge.main.request → acquire_lock → review.request_auto →
 * review.thread_status → release_lock the commit is on main (APPROVE) or main is unchanged and
 * the item is blocked_by_review (BLOCK). The reviewer is the config's `reviewer`: the built-in
 * scripted agent in tmux on a private socket.
 */

type Json = Record<string, any>;

const tmux = privateTmux();
const scripts = mkdtempSync(join(tmpdir(), 'cs-seed-merge-'));
/** A stand-in `codex` (the runner agents_sdk_codex_mcp selects) that idles, so no real Codex is needed. */
const bin = join(scripts, 'bin');
mkdirSync(bin);
writeFileSync(join(bin, 'codex'), '#!/bin/sh\nsleep 120\n', { mode: 0o755 });
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  tmux.kill();
});

async function ok(mcp: McpHandle, tool: string, method: string, params: unknown = {}): Promise<Json> {
  const { isError, data } = await mcp.tool(tool, method, params);
  if (isError) throw new Error(`${method} failed: ${JSON.stringify(data)}`);
  return data;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The reviewer's script: read the review context, then submit the verdict. */
function reviewerScript(name: string, mergeRequestId: number, verdict: 'APPROVE' | 'BLOCK'): string {
  const submit =
    verdict === 'APPROVE'
      ? { merge_request_id: mergeRequestId, verdict, summary: 'The change does what the case asks.' }
      : {
          merge_request_id: mergeRequestId,
          verdict,
          findings: [{ file: 'src/redirect.ts', line: 1, severity: 'major', text: 'Keep the return URL.' }],
        };
  const path = join(scripts, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      name,
      steps: [
        { call: 'merge.review_context', params: { merge_request_id: mergeRequestId }, save: 'context' },
        { call: 'merge.review.submit', params: submit },
        { report: { state: 'done', text: `verdict ${verdict}` } },
      ],
    }),
  );
  return path;
}

interface Flow {
  repo: TempRepo;
  mcp: McpHandle;
  sessionId: number;
  worktree: { id: number; path: string; branch: string };
  featureId: number;
  commit: string;
}

/** Minimal Call Sequence up to the merge: init, open, plan, run the case, commit in the session worktree. */
async function workedSession(name: string): Promise<Flow> {
  const repo = makeRepo(name);
  const mcp = await connectMcp(repo.path, { ...tmux.env, PATH: `${bin}:${process.env.PATH}` });
  cleanups.push(
    () => repo.cleanup(),
    () => mcp.close(),
  );
  await ok(mcp, 'orch_session', 'workspace.init');
  const opened = await ok(mcp, 'orch_session', 'session.open', {
    intent: 'new_work',
    always_branch: true,
    user_request: 'Keep the login return URL',
  });
  const sessionId = opened.session.id as number;
  const worktree = opened.worktree as Flow['worktree'];
  const epic = (await ok(mcp, 'orch_task', 'task.create', { level: 'epic', title: 'Login' })).task.id;
  const featureId = (await ok(mcp, 'orch_task', 'task.create', { level: 'feature', title: 'Return URL', parent_id: epic })).task.id;
  const group = (await ok(mcp, 'orch_task', 'task.create', { level: 'test_group', title: 'Redirects', parent_id: featureId })).task.id;
  const caseId = (await ok(mcp, 'orch_task', 'task.create', { level: 'case', title: 'keeps ?next', parent_id: group })).task.id;
  const childCase = (await ok(mcp, 'orch_task', 'task.create', { level: 'case', title: 'logs the redirect', parent_id: group })).task.id;
  const decision = await ok(mcp, 'orch_workspace', 'scheduler.decide_worktree', {
    changed_files: 2,
    estimate_minutes: 30,
    risk: 1,
    parallel_workers: 2,
    conflicting_paths: 0,
  });
  expect(['shared', 'worktree']).toContain(decision.mode);
  const child = await ok(mcp, 'orch_thread', 'thread.child.spawn', {
    session_id: sessionId,
    runner_kind: 'agents_sdk_codex_mcp',
    interaction_mode: 'view_only',
    role: 'main-worker',
    title: 'Log the redirect',
    objective: `Do case ${childCase}`,
  });
  expect(child.thread).toMatchObject({ runner: 'codex', role: 'main-worker' });
  expect(child.tmux.pane_id).toMatch(/^%\d+$/);
  // view_only: the command a person gets attaches read-only.
  expect(child.attach_info.command).toMatch(/attach(-session)? -r /);
  cleanups.push(async () => {
    await mcp.tool('orch_thread', 'thread.child.stop', { thread_id: child.thread.id, terminate_pane: true });
  });
  await ok(mcp, 'orch_task', 'case.begin', { case_id: caseId, session_id: sessionId });
  mkdirSync(join(worktree.path, 'src'), { recursive: true });
  writeFileSync(join(worktree.path, 'src', 'redirect.ts'), 'export const keepNext = true;\n');
  git(worktree.path, 'add', '--', 'src/redirect.ts');
  git(worktree.path, 'commit', '-q', '-m', 'Keep the return URL');
  await ok(mcp, 'orch_task', 'step.check', { case_id: caseId, session_id: sessionId, step_title: 'keep next', result: 'pass' });
  await ok(mcp, 'orch_task', 'case.complete', { case_id: caseId, session_id: sessionId, summary: 'next is kept', next_action: 'merge' });
  return { repo, mcp, sessionId, worktree, featureId, commit: git(worktree.path, 'rev-parse', 'HEAD').trim() };
}

/** §6 from merge.request on, with `verdict` from the stand-in reviewer; returns what release_lock said. */
async function section6(flow: Flow, verdict: 'APPROVE' | 'BLOCK') {
  const { mcp, sessionId } = flow;
  const mr = (await ok(mcp, 'orch_merge', 'merge.request', { feature_task_id: flow.featureId })).merge_request;
  writeFileSync(
    join(flow.repo.path, '.codestrator', 'config.json'),
    JSON.stringify({ reviewer: { runner: 'script', script_path: reviewerScript(`review-${verdict}`, mr.id, verdict) } }),
  );
  const requested = await ok(mcp, 'orch_merge', 'merge.main.request', {
    session_id: sessionId,
    from_worktree_id: flow.worktree.id,
    merge_request_id: mr.id,
  });
  expect(requested.main_merge_request.state).toBe('queued');
  expect(requested.review_dispatch_error, JSON.stringify(requested.review_dispatch_error)).toBeNull();
  await ok(mcp, 'orch_merge', 'merge.main.acquire_lock', { session_id: sessionId });
  const dispatched = await ok(mcp, 'orch_merge', 'merge.review.request_auto', { session_id: sessionId, merge_request_id: mr.id });
  // The review merge.main.request dispatched is the one followed: no second reviewer.
  expect(dispatched.review_job.id).toBe(requested.review_dispatch.review_job.id);
  let status: Json = {};
  for (let i = 0; i < 120 && !status.verdict; i++) {
    status = await ok(mcp, 'orch_merge', 'merge.review.thread_status', { review_job_id: dispatched.review_job.id });
    if (!status.verdict) await sleep(500);
  }
  expect(status.verdict, JSON.stringify(status)).toBe(verdict);
  expect(status.review_job).toMatchObject({ id: dispatched.review_job.id, state: 'completed' });
  const released = await ok(mcp, 'orch_merge', 'merge.main.release_lock', { session_id: sessionId });
  expect(released.released).toBe(true);
  return { released, item: requested.main_merge_request.id as number };
}

describe('skill §6 over MCP, literally', () => {
  it('lands the commit on main after an APPROVE', async () => {
    const flow = await workedSession('seed-approve');
    const mainBefore = git(flow.repo.path, 'rev-parse', 'main').trim();
    const { released, item } = await section6(flow, 'APPROVE');
    expect(released.items).toEqual([expect.objectContaining({ request_id: item, state: 'merged' })]);
    const mainAfter = git(flow.repo.path, 'rev-parse', 'main').trim();
    expect(mainAfter).not.toBe(mainBefore);
    // The session's commit is on main.
    git(flow.repo.path, 'merge-base', '--is-ancestor', flow.commit, 'main');
    expect(git(flow.repo.path, 'show', 'main:src/redirect.ts')).toBe('export const keepNext = true;\n');
  }, 120_000);

  it('leaves main unchanged after a BLOCK, and release_lock reports blocked_by_review', async () => {
    const flow = await workedSession('seed-block');
    const mainBefore = git(flow.repo.path, 'rev-parse', 'main').trim();
    const { released, item } = await section6(flow, 'BLOCK');
    expect(released.items).toEqual([
      expect.objectContaining({ request_id: item, state: 'blocked_by_review', reason: expect.stringContaining('Keep the return URL') }),
    ]);
    expect(git(flow.repo.path, 'rev-parse', 'main').trim()).toBe(mainBefore);
  }, 120_000);
});
