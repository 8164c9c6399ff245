import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, makeGroup, openHarness } from './helpers/dispatch.js';
import { openWorkSession, writeConfig } from './helpers/git-plane.js';
import { git } from './helpers/repo.js';
import { privateTmux } from './helpers/tmux.js';

const tmux = privateTmux();
const scripts = mkdtempSync(join(tmpdir(), 'cs-scripts-'));
let h: Harness;
afterAll(() => {
  tmux.kill();
  h?.repo.cleanup();
});

const worker = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'scripts', 'worker.json'), 'utf8'));
const listener = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'scripts', 'listener.json'), 'utf8'));

function script(name: string, body: unknown): string {
  const path = join(scripts, `${name}.json`);
  writeFileSync(path, JSON.stringify(body));
  return path;
}

const nodeArgv = (code: string) => [process.execPath, '-e', code];

describe('child agents in tmux (script runner, private socket, base-index 1)', () => {
  let session: Awaited<ReturnType<typeof openWorkSession>>;
  let cases: number[];
  beforeAll(async () => {
    h = openHarness(tmux.env);
    session = await openWorkSession(h, 'six workers');
    const group = await makeGroup(h);
    cases = [];
    for (let i = 1; i <= 6; i++) {
      cases.push((await h.ok('task.create', { level: 'case', title: `case ${i}`, parent_id: group, steps: ['write', 'commit'] })).task.id);
    }
  });

  it('runs 6 children in one detached session, refuses a 7th, and lands their work through the queue', async () => {
    const spawned = [];
    for (const [i, caseId] of cases.entries()) {
      // Each worker holds until told to go, so all six are running when the seventh is tried.
      const steps = [{ wait_directive: { contains: 'go', timeout_ms: 60_000 } }, ...worker.steps];
      const path = script(`worker-${i}`, { ...worker, name: `worker-${i}`, steps, vars: { case_id: caseId, file: `src/worker-${i}.ts` } });
      spawned.push(
        (
          await h.ok('thread.child.spawn', {
            runner: 'script',
            script_path: path,
            task_id: caseId,
            title: `worker ${i}`,
            session_id: session.sessionId,
          })
        ).thread,
      );
    }
    expect(new Set(spawned.map((t) => t.tmux_session)).size).toBe(1);
    expect(new Set(spawned.map((t) => t.worktree_id)).size).toBe(6);
    expect(new Set(spawned.map((t) => t.pane_id)).size).toBe(6);
    const refused = await h.fail('thread.child.spawn', {
      runner: 'command',
      command: nodeArgv('0'),
      title: 'seventh',
      session_id: session.sessionId,
    });
    expect(refused).toMatchObject({ code: 'CONFLICT', field: 'max_concurrent_children' });
    const ids = spawned.map((t) => t.id);
    for (const id of ids) await h.ok('thread.child.directive', { thread_id: id, mode: 'queue', text: 'go' });
    const waited = await h.ok('thread.child.wait_status', { thread_ids: ids, timeout_seconds: 120 });
    expect(waited.reached).toBe(true);
    expect(waited.threads.map((t: { status: string }) => t.status)).toEqual(Array(6).fill('completed'));
    for (const caseId of cases) expect((await h.ok('task.get', { task_id: caseId })).task.status).toBe('done');
    const seventh = await h.ok('thread.child.spawn', {
      runner: 'command',
      command: nodeArgv('0'),
      title: 'seventh',
      session_id: session.sessionId,
    });
    expect(seventh.thread.status).toBe('running');
    for (const thread of spawned) await h.ok('merge.main.request', { from_worktree_id: thread.worktree_id, session_id: session.sessionId });
    const landed = await h.ok('merge.main.process');
    expect(landed.processed.map((item: { state: string }) => item.state)).toEqual(Array(6).fill('merged'));
    for (let i = 0; i < 6; i++) expect(readFileSync(join(h.repo.path, `src/worker-${i}.ts`), 'utf8')).toContain('caseId');
    expect(git(h.repo.path, 'log', '--merges', '--oneline', 'main').trim().split('\n')).toHaveLength(6);
  }, 180_000);

  it('delivers directives: queue after the current step, interrupt_patch interrupts first, restart respawns in the same worktree', async () => {
    const queued = (
      await h.ok('thread.child.spawn', {
        runner: 'script',
        script_path: script('listen-queue', listener),
        title: 'queue listener',
        session_id: session.sessionId,
      })
    ).thread;
    await h.ok('thread.child.directive', { thread_id: queued.id, mode: 'queue', text: 'also cover logout' });
    const afterQueue = await h.ok('thread.child.wait_status', { thread_ids: [queued.id], timeout_seconds: 60 });
    expect(afterQueue.threads[0]).toMatchObject({ status: 'completed', last_report: 'received also cover logout' });

    // The interrupt ends the step in progress (the first wait); the patch typed after it reaches the second.
    const patchListener = {
      name: 'patch-listener',
      steps: [
        { print: 'listening' },
        { wait_directive: { timeout_ms: 60000 } },
        { wait_directive: { contains: 'plan B', timeout_ms: 60000 }, save: 'directive' },
        { report: { state: 'done', text: 'received ${directive.text}' } },
      ],
    };
    const patched = (
      await h.ok('thread.child.spawn', {
        runner: 'script',
        script_path: script('listen-patch', patchListener),
        title: 'patch listener',
        session_id: session.sessionId,
      })
    ).thread;
    await waitForOutput(patched.id, 'listening');
    await h.ok('thread.child.directive', { thread_id: patched.id, mode: 'interrupt_patch', text: 'switch to plan B' });
    const afterPatch = await h.ok('thread.child.wait_status', { thread_ids: [patched.id], timeout_seconds: 60 });
    expect(afterPatch.threads[0].last_report).toBe('received switch to plan B');
    const output = (await h.ok('thread.child.status', { thread_id: patched.id, output_lines: 50 })).last_output as string | null;
    if (output !== null) expect(output.indexOf('INTERRUPTED')).toBeLessThan(output.indexOf('switch to plan B'));

    const restarted = (
      await h.ok('thread.child.spawn', {
        runner: 'script',
        script_path: script('listen-restart', listener),
        title: 'restart listener',
        scope_case_ids: [cases[0]],
        session_id: session.sessionId,
      })
    ).thread;
    const again = await h.ok('thread.child.directive', { thread_id: restarted.id, mode: 'restart', text: 'start over with tests first' });
    expect(again.generation).toBe(2);
    expect(again.thread).toMatchObject({
      worktree_id: restarted.worktree_id,
      runner: 'script',
      scope_case_ids: [cases[0]],
      status: 'running',
    });
    const prompt = h.db().prepare('SELECT prompt FROM threads WHERE id = ?').get(restarted.id) as { prompt: string };
    expect(prompt.prompt).toContain('start over with tests first');
    await waitForOutput(restarted.id, 'listening');
    await h.ok('thread.child.stop', { thread_id: restarted.id, terminate_pane: true });
    expect((await h.fail('thread.child.directive', { thread_id: restarted.id, mode: 'shout', text: 'x' })).field).toBe('mode');
  }, 120_000);

  it('marks a child killed from outside as failed with its exit status on the next read', async () => {
    const victim = (
      await h.ok('thread.child.spawn', {
        runner: 'command',
        command: nodeArgv('setInterval(() => {}, 1000)'),
        title: 'victim',
        session_id: session.sessionId,
      })
    ).thread;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const child = execFileSync('pgrep', ['-P', String(victim.pane_pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')[0]!;
    execFileSync('kill', ['-9', child]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const status = (await h.ok('thread.child.status', { thread_id: victim.id })).thread;
    expect(status).toMatchObject({ status: 'failed', exit_signal: 'SIGKILL', status_reason: 'killed by SIGKILL' });
    const vanished = (
      await h.ok('thread.child.spawn', {
        runner: 'command',
        command: nodeArgv('setInterval(() => {}, 1000)'),
        title: 'vanished',
        session_id: session.sessionId,
      })
    ).thread;
    execFileSync('tmux', ['-L', tmux.socket, 'kill-pane', '-t', vanished.pane_id]);
    const gone = (await h.ok('thread.child.list', { session_id: session.sessionId })).items.find(
      (t: { id: number }) => t.id === vanished.id,
    );
    expect(gone.status).toBe('failed');
  });

  it('dispatches a reviewer child whose verdict moves the merge request, leaving the main-merge lock as it was', async () => {
    const feature = (await h.ok('task.get', { task_id: (await h.ok('task.get', { task_id: cases[0] })).task.parent_id })).task.parent_id;
    const mr = (await h.ok('merge.request', { feature_task_id: feature, session_id: session.sessionId })).merge_request;
    await h.ok('merge.main.acquire_lock', { session_id: session.sessionId });
    const before = (await h.ok('merge.main.next')).lock;
    const failed = await h.fail('merge.review.request_auto', { merge_request_id: mr.id, runner: 'script', session_id: session.sessionId });
    expect(failed.field).toBe('script_path');
    expect((await h.ok('merge.main.next')).lock).toEqual(before);
    const reviewer = {
      name: 'reviewer',
      steps: [
        { call: 'merge.review_context', params: { merge_request_id: mr.id }, save: 'context' },
        {
          call: 'merge.review.submit',
          params: { merge_request_id: mr.id, verdict: 'APPROVE', summary: 'reviewed ${context.merge_request.id}' },
        },
        { report: { state: 'done', text: 'approved' } },
      ],
    };
    const dispatched = await h.ok('merge.review.request_auto', {
      merge_request_id: mr.id,
      runner: 'script',
      script_path: script('reviewer', reviewer),
      session_id: session.sessionId,
    });
    expect(dispatched.thread.role).toBe('merge-reviewer');
    await h.ok('thread.child.wait_status', { thread_ids: [dispatched.thread.id], timeout_seconds: 60 });
    const status = await h.ok('merge.review.thread_status', { merge_request_id: mr.id });
    expect(status.merge_request.status).toBe('approved');
    expect(status.latest_review).toMatchObject({ verdict: 'APPROVE', reviewer_key: `thread:${dispatched.thread.id}` });
    expect(status.reviewer_threads[0].status).toBe('completed');
    const prompt = h.db().prepare('SELECT prompt FROM threads WHERE id = ?').get(dispatched.thread.id) as { prompt: string };
    expect(prompt.prompt).toContain(`"merge_request_id": ${mr.id}`);
    expect((await h.ok('merge.main.next')).lock).toEqual(before);
  }, 90_000);

  it('reads a headless runner’s event stream: completion, last message and token usage', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'cs-fake-codex-'));
    const stream = join(import.meta.dirname, 'fixtures', 'runners', 'codex-exec-success.jsonl');
    writeFileSync(join(bin, 'codex'), `#!/bin/sh\ncat '${stream}'\n`, { mode: 0o755 });
    const withFake = h.as({ ...tmux.env, PATH: `${bin}:${process.env.PATH}`, HOME: mkdtempSync(join(tmpdir(), 'cs-home-')) });
    const spawned = (await withFake.ok('thread.child.spawn', { runner: 'codex_exec', title: 'headless', session_id: session.sessionId }))
      .thread;
    const done = await withFake.ok('thread.child.wait_status', { thread_ids: [spawned.id], timeout_seconds: 30 });
    expect(done.threads[0].status, JSON.stringify(done.threads[0])).toBe('completed');
    expect(done.threads[0].usage.output_tokens).toBeGreaterThan(0);
    expect(done.threads[0].last_output).toBeTruthy();
  });

  it('wait_status over MCP does not block other calls of the same server', async () => {
    const { connectMcp } = await import('./helpers/mcp.js');
    const mcp = await connectMcp(h.repo.path, { ...tmux.env, CODESTRATOR_SESSION_ID: String(session.sessionId) });
    try {
      const sleeper = (
        await mcp.tool('orch_thread', 'thread.child.spawn', {
          runner: 'command',
          command: nodeArgv('setInterval(() => {}, 1000)'),
          title: 'sleeper',
        })
      ).data;
      const thread = (sleeper.thread as { id: number }).id;
      const started = Date.now();
      let waitedUntil = 0;
      const waiting = mcp.tool('orch_thread', 'thread.child.wait_status', { thread_ids: [thread], timeout_seconds: 3 }).then((r) => {
        waitedUntil = Date.now();
        return r;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const listed = await mcp.tool('orch_task', 'task.list', { limit: 1 });
      const listedAt = Date.now();
      expect(listed.isError).toBe(false);
      const waited = await waiting;
      expect(waited.data).toMatchObject({ reached: false, timed_out: true });
      expect(listedAt - started).toBeLessThan(2500);
      expect(waitedUntil).toBeGreaterThan(listedAt);
      await mcp.tool('orch_thread', 'thread.child.stop', { thread_id: thread, terminate_pane: true });
    } finally {
      await mcp.close();
    }
  });

  it('builds the prompt from the role template, which a repository can override', async () => {
    const { mkdirSync } = await import('node:fs');
    const first = (
      await h.ok('thread.child.spawn', {
        runner: 'command',
        command: nodeArgv('0'),
        title: 'shipped',
        context_pack: { goal: 'ship it', constraints: ['no new deps'] },
        session_id: session.sessionId,
      })
    ).thread;
    const shipped = (h.db().prepare('SELECT prompt FROM threads WHERE id = ?').get(first.id) as { prompt: string }).prompt;
    expect(shipped).toContain('CONTEXT: WORKER');
    expect(shipped).toContain(`thread ${first.id} of session ${session.sessionId}`);
    expect(shipped).toContain('Goal: ship it');
    expect(shipped).toContain('- no new deps');
    mkdirSync(join(h.repo.path, '.codestrator', 'templates'), { recursive: true });
    writeFileSync(join(h.repo.path, '.codestrator', 'templates', 'worker.md'), 'OUR HOUSE RULES for thread {{thread_id}}\n');
    const second = (
      await h.ok('thread.child.spawn', { runner: 'command', command: nodeArgv('0'), title: 'overridden', session_id: session.sessionId })
    ).thread;
    const overridden = (h.db().prepare('SELECT prompt FROM threads WHERE id = ?').get(second.id) as { prompt: string }).prompt;
    expect(overridden.startsWith(`OUR HOUSE RULES for thread ${second.id}`)).toBe(true);
  });

  it('types pending messages into an idle child’s pane, once', async () => {
    writeConfig(h, { idle_delivery_seconds: 1 });
    // Asleep (no calls, no inbox polling): only typing into its pane can reach it.
    const quiet = {
      name: 'quiet',
      check_inbox: false,
      steps: [
        { print: 'idle now' },
        { sleep: 5000 },
        { wait_directive: { timeout_ms: 1000 }, save: 'got' },
        { report: { state: 'done', text: '${got.text} (${got.source})' } },
      ],
    };
    const child = (
      await h.ok('thread.child.spawn', {
        runner: 'script',
        script_path: script('quiet', quiet),
        title: 'quiet',
        session_id: session.sessionId,
      })
    ).thread;
    const root = (await h.ok('session.context', { session_id: session.sessionId })).root_thread.id;
    const sent = (await h.ok('inbox.send', { receiver_thread_id: child.id, message: 'please rebase', sender_thread_id: root })).message;
    const done = await h.ok('thread.child.wait_status', { thread_ids: [child.id], timeout_seconds: 60 });
    expect(done.threads[0]).toMatchObject({
      status: 'completed',
      last_report: `[codestrator] message from thread ${root}: please rebase (input)`,
    });
    const row = h.db().prepare('SELECT status FROM inbox_messages WHERE id = ?').get(sent.id);
    expect(row).toEqual({ status: 'delivered' });
    writeConfig(h, {});
  }, 90_000);

  it('never borrows a person’s tmux session that happens to have the viewer name', async () => {
    execFileSync('tmux', ['-L', tmux.socket, 'new-session', '-d', '-s', 'repo-person-owned', 'sleep', '600']);
    const other = await openWorkSession(h, 'person owned');
    const child = (
      await h.ok('thread.child.spawn', {
        runner: 'command',
        command: nodeArgv('setInterval(() => {}, 1000)'),
        title: 'guest',
        session_id: other.sessionId,
      })
    ).thread;
    expect(child.tmux_session).toMatch(/^repo-person-owned-[0-9a-f]{6}$/);
    const windows = execFileSync('tmux', ['-L', tmux.socket, 'list-windows', '-t', '=repo-person-owned'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(windows).toHaveLength(1);
    await h.ok('session.cleanup', { session_id: other.sessionId });
    expect(tmux.sessions()).toEqual(['repo-person-owned']);
    execFileSync('tmux', ['-L', tmux.socket, 'kill-session', '-t', '=repo-person-owned']);
  });

  it('session.cleanup stops the children and leaves no pane, lock or tmux session of that session', async () => {
    await h.ok('thread.child.spawn', {
      runner: 'command',
      command: nodeArgv('setInterval(() => {}, 1000)'),
      title: 'leftover',
      session_id: session.sessionId,
    });
    await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: 'src', session_id: session.sessionId });
    await h.ok('merge.main.acquire_lock', { session_id: session.sessionId });
    const cleaned = await h.ok('session.cleanup', { session_id: session.sessionId });
    expect(cleaned.items[0]).toMatchObject({ session_id: session.sessionId, named_locks_released: 1 });
    expect(tmux.sessions()).toEqual([]);
    expect(tmux.panes()).toEqual([]);
    expect((await h.ok('lock.list')).count).toBe(0);
    expect((await h.ok('merge.main.next')).lock.held).toBe(false);
    const running = h
      .db()
      .prepare("SELECT count(*) AS n FROM threads WHERE session_id = ? AND status IN ('starting', 'running', 'blocked')")
      .get(session.sessionId);
    expect(running).toEqual({ n: 0 });
  });
});

async function waitForOutput(threadId: number, text: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const output = (await h.ok('thread.child.status', { thread_id: threadId, output_lines: 50 })).last_output as string | null;
    if (output?.includes(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`thread ${threadId} never printed ${text}`);
}
