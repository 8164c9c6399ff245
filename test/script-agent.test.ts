import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, ScriptError, parseScript, pathProblem, resolvePlaceholders } from '../src/runners/script-format.js';
import { BIN, ROOT, call, cleanEnv } from './helpers/cli.js';
import { type TempRepo, git, makeRepo } from './helpers/repo.js';

/**
 * The built-in scripted agent, run as its own OS process against the built server: it starts
 * `codestrator mcp` itself over stdio (the SDK client), acts as a session's root thread in that
 * session's worktree, and prints one line per step.
 */

const AGENT = join(ROOT, 'dist', 'runners', 'script-agent.js');
const SCRIPTS = join(ROOT, 'test', 'fixtures', 'scripts');

type J = Record<string, any>;

let repo: TempRepo;
let scratch: string;
let sessionId: number;
let threadId: number;
let otherSessionId: number;
let worktree: string;
let groupId: number;
let scriptCount = 0;

const GIT_ENV = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Agent',
  GIT_AUTHOR_EMAIL: 'agent@example.com',
  GIT_COMMITTER_NAME: 'Agent',
  GIT_COMMITTER_EMAIL: 'agent@example.com',
};

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

interface AgentRun {
  child: ChildProcessWithoutNullStreams;
  /** Resolves once stdout has a line matching re (rejects after ms). */
  waitForLine(re: RegExp, ms?: number): Promise<string>;
  done: Promise<Finished>;
}

/** Starts the agent on a fixture file name or an inline script (written to a temp file outside the worktree). */
interface Identity {
  sessionId: number;
  threadId: number;
  worktree: string;
}

/** Another session of its own (worktree and root thread), for a script that reports done: that ends its thread. */
function openAgentSession(request: string): Identity {
  const opened = call<J>(repo.path, 'session.open', { intent: 'new_work', user_request: request });
  return { sessionId: opened.session.id, threadId: opened.root_thread.id, worktree: opened.worktree.path };
}

/** Starts the agent (as the shared session's root thread unless `as` says otherwise) on a fixture name or an inline script. */
function startAgent(script: string | object, env: Record<string, string> = {}, as?: Identity): AgentRun {
  const who = as ?? { sessionId, threadId, worktree };
  let path: string;
  if (typeof script === 'string') path = isAbsolute(script) ? script : join(SCRIPTS, script);
  else {
    path = join(scratch, `script-${++scriptCount}.json`);
    writeFileSync(path, JSON.stringify(script, null, 2));
  }
  const child = spawn(process.execPath, [AGENT, path], {
    cwd: who.worktree,
    env: cleanEnv({
      ...GIT_ENV,
      CODESTRATOR_SESSION_ID: String(who.sessionId),
      CODESTRATOR_THREAD_ID: String(who.threadId),
      CODESTRATOR_REPO: repo.path,
      ...env,
    }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const line = stdout.split('\n').find((l) => waiter.re.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    check();
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, lines: stdout.split('\n').filter(Boolean) }));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void done.then(() => clearTimeout(timer));
  return {
    child,
    done,
    waitForLine: (re, ms = 45_000) =>
      new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)), ms);
        waiters.push({
          re,
          resolve: (line) => {
            clearTimeout(t);
            resolve(line);
          },
        });
        check();
      }),
  };
}

const runAgent = (script: string | object, env: Record<string, string> = {}, as?: Identity) => startAgent(script, env, as).done;

/** A fresh case under the shared test group, with planned steps. */
function newCase(title: string, steps: string[] = ['write', 'commit']): number {
  return call<J>(repo.path, 'task.create', { level: 'case', title, parent_id: groupId, steps }).task.id;
}

const lineIndex = (lines: string[], re: RegExp) => lines.findIndex((line) => re.test(line));

beforeAll(() => {
  repo = makeRepo('script-repo');
  scratch = mkdtempSync(join(tmpdir(), 'cs-scripts-'));
  call(repo.path, 'workspace.init');
  const opened = call<J>(repo.path, 'session.open', { intent: 'new_work', user_request: 'scripted agent run' });
  sessionId = opened.session.id;
  threadId = opened.root_thread.id;
  worktree = opened.worktree.path;
  otherSessionId = call<J>(repo.path, 'session.open', { intent: 'new_work', user_request: 'the other agent' }).session.id;
  const epic = call<J>(repo.path, 'task.create', { level: 'epic', title: 'Scripted work' }).task.id;
  const feature = call<J>(repo.path, 'task.create', { level: 'feature', title: 'Agent stand-in', parent_id: epic }).task.id;
  groupId = call<J>(repo.path, 'task.create', { level: 'test_group', title: 'Scripts', parent_id: feature }).task.id;
});

afterAll(() => {
  repo?.cleanup();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('script format', () => {
  const bad = (raw: unknown) => {
    try {
      parseScript(raw);
    } catch (err) {
      expect(err).toBeInstanceOf(ScriptError);
      return (err as Error).message;
    }
    throw new Error(`accepted: ${JSON.stringify(raw)}`);
  };

  it('accepts every kind of step and fills defaults', () => {
    const script = parseScript(
      {
        steps: [
          { call: 'case.begin', params: { case_id: 4 }, save: 'begin', expect_error: 'CONFLICT' },
          { write: { path: 'src/a.ts', content: 'x' } },
          { append: { path: 'notes.md', content: 'y' } },
          { commit: { message: 'add a', paths: ['src/a.ts'] }, expect_error: 'hook' },
          { sleep: 5 },
          { call: 'step.check', params: { case_id: '${begin.case.id}', step_title: 'a', result: 'pass' } },
          { wait_for: { call: 'lock.acquire', params: {}, until: 'ok', timeout_ms: 100, interval_ms: 10 } },
          { wait_for: { call: 'lock.get', until_error: 'NOT_FOUND' } },
          { wait_directive: { contains: 'go' }, save: 'd' },
          { report: { state: 'done', text: '${d.text}' } },
          { print: '${agent.name} ${env.HOME} ${vars.x}' },
          { exit: 3, comment: 'stop here' },
        ],
      },
      'fallback-name',
    );
    expect(script.name).toBe('fallback-name');
    expect(script.onInterrupt).toBe('continue');
    expect(script.checkInbox).toBe(true);
    expect(script.steps.map((s) => s.kind)).toEqual([
      'call',
      'write',
      'append',
      'commit',
      'sleep',
      'call',
      'wait_for',
      'wait_for',
      'wait_directive',
      'report',
      'print',
      'exit',
    ]);
    expect(script.steps[7]).toMatchObject({ untilError: 'NOT_FOUND', timeoutMs: 10_000, intervalMs: 200 });
    expect(script.steps[7]).not.toHaveProperty('until');
  });

  it('names the bad step and what is wrong with it', () => {
    expect(bad([])).toMatch(/^script: must be a JSON object/);
    expect(bad({ steps: [] })).toMatch(/steps must be a non-empty array/);
    expect(bad({ steps: [{ print: 'x' }], extra: 1 })).toMatch(/unknown field "extra"/);
    expect(bad({ steps: [{ print: 'x' }, { call: 'task.list', write: {} }] })).toMatch(/^step 2: has both "call" and "write"/);
    expect(bad({ steps: [{ print: 'x' }, {}] })).toMatch(/^step 2: does nothing/);
    expect(bad({ steps: [{ call: 'not a method' }] })).toMatch(/^step 1 \(call\): call must be a method name/);
    expect(bad({ steps: [{ call: 'task.list', params: [] }] })).toMatch(/^step 1 \(call\): params must be a JSON object/);
    expect(bad({ steps: [{ sleep: -1 }] })).toMatch(/^step 1 \(sleep\)/);
    expect(bad({ steps: [{ print: 'x', save: 'y' }] })).toMatch(/^step 1 \(print\): unknown field "save"/);
    expect(bad({ steps: [{ call: 'task.list', save: 'env' }] })).toMatch(/reserved/);
    expect(bad({ steps: [{ write: { path: '../out.txt', content: '' } }] })).toMatch(
      /^step 1 \(write\): write.path "..\/out.txt" leaves the worktree/,
    );
    expect(bad({ steps: [{ write: { path: '/etc/passwd', content: '' } }] })).toMatch(/is absolute/);
    expect(bad({ steps: [{ commit: { message: 'm', paths: ['a/../../b'] } }] })).toMatch(/leaves the worktree/);
    expect(bad({ steps: [{ print: '${later.id}' }, { call: 'task.list', save: 'later' }] })).toMatch(
      /^step 1 \(print\): placeholder \$\{later.id\} names "later", which no earlier step saves/,
    );
    expect(bad({ steps: [{ print: 'x ${oops' }] })).toMatch(/unterminated placeholder/);
    expect(bad({ steps: [{ wait_for: { call: 'lock.get', until: 'ok', until_error: 'X' } }] })).toMatch(/not both/);
    expect(bad({ steps: [{ exit: 256 }] })).toMatch(/^step 1 \(exit\)/);
    expect(bad({ steps: [{ report: { text: 'x' } }] })).toMatch(/report.state/);
  });

  it('resolves placeholders, keeping the type of a whole-string placeholder', () => {
    const scope: Record<string, Json> = { begin: { case: { id: 7, tags: ['a', 'b'], meta: { ok: true } } }, vars: { n: 2 } };
    const params = {
      id: '${begin.case.id}',
      tag: '${begin.case.tags.1}',
      text: 'case ${begin.case.id} of ${vars.n}',
      meta: '${begin.case.meta}',
    };
    expect(resolvePlaceholders(params, scope)).toEqual({ id: 7, tag: 'b', text: 'case 7 of 2', meta: { ok: true } });
    expect(resolvePlaceholders('m=${begin.case.meta} $${literal}', scope)).toBe('m={"ok":true} ${literal}');
    expect(() => resolvePlaceholders('${begin.case.nope}', scope)).toThrow(/begin.case has no "nope"/);
    expect(pathProblem('a/./b/../c')).toBeUndefined();
    expect(pathProblem('a/..')).toMatch(/worktree itself/);
  });
});

describe('the scripted agent', () => {
  it('does a whole case as a real MCP client: begin, write, commit, check two steps, complete', async () => {
    const caseId = newCase('Scripted worker case');
    const worker = openAgentSession('worker');
    const run = await runAgent(
      'worker.json',
      {
        CODESTRATOR_SCRIPT_VARS: JSON.stringify({ case_id: caseId, file: 'src/scripted.ts' }),
        CODESTRATOR_SERVER_COMMAND: JSON.stringify([process.execPath, BIN, 'mcp']),
      },
      worker,
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.lines).toContain('step 1/8 call case.begin ok');
    expect(run.lines).toContain('step 2/8 write src/scripted.ts ok (25 bytes)');
    expect(run.lines).toContain(`step 8/8 print worker finished case ${caseId}: done`);
    // On a server without thread.report the step is skipped with a warning.
    expect(run.lines.some((line) => /^step 7\/8 report done (ok|skipped)/.test(line))).toBe(true);
    expect(run.lines.at(-1)).toBe('script-agent worker: done (8 steps)');

    const log = git(worker.worktree, 'log', '-1', '--format=%H %s', '--name-only').trim().split('\n');
    const [sha, ...subject] = log[0]!.split(' ');
    expect(subject.join(' ')).toBe(`case ${caseId}: Scripted worker case`);
    expect(log).toContain('src/scripted.ts');
    expect(git(worker.worktree, 'status', '--porcelain')).toBe('');
    expect(git(repo.path, 'log', '--format=%s', 'main')).not.toContain('Scripted worker case');

    const view = call<J>(repo.path, 'task.get', { task_id: caseId });
    expect(view.task.status).toBe('done');
    expect(view.steps.map((s: J) => [s.title, s.result])).toEqual([
      ['write', 'pass'],
      ['commit', 'pass'],
    ]);
    // Placeholders: the commit's sha from the commit step reached the step's notes.
    expect(view.steps[1].notes).toBe(sha);
    expect(view.latest_checkpoint.summary).toBe('wrote and committed src/scripted.ts');
  });
  it('treats an expected error as success and saves it', async () => {
    const caseId = newCase('Held by the other session');
    call(repo.path, 'case.begin', { case_id: caseId, session_id: otherSessionId });
    const run = await runAgent({
      name: 'conflicted',
      steps: [
        { call: 'case.begin', params: { case_id: caseId }, save: 'refused', expect_error: 'CONFLICT' },
        { print: 'refused with ${refused.error.code}' },
      ],
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.lines).toContain('step 1/2 call case.begin CONFLICT (expected)');
    expect(run.lines).toContain('step 2/2 print refused with CONFLICT');
    expect(call<J>(repo.path, 'task.get', { task_id: caseId }).task.owner_key).toBe(`session:${otherSessionId}`);
  });

  it('exits 2 on a bad script, naming the step, before starting anything', async () => {
    const fixture = await runAgent('bad-two-actions.json');
    expect(fixture.code).toBe(2);
    expect(fixture.stderr).toMatch(/bad script: step 2: has both "call" and "write"/);
    expect(fixture.stdout).not.toMatch(/never runs/);
    const placeholder = await runAgent({ steps: [{ call: 'task.get', params: { task_id: '${missing.id}' } }] });
    expect(placeholder.code).toBe(2);
    expect(placeholder.stderr).toMatch(/step 1 \(call\): placeholder \$\{missing.id\}/);
    const notJson = join(scratch, 'broken.json');
    writeFileSync(notJson, '{"steps": [');
    const broken = await runAgent(notJson);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/broken.json is not valid JSON/);
  });

  it('exits 1 on an unexpected error or an unexpected success, and stops there', async () => {
    const failing = await runAgent({
      name: 'failing',
      steps: [{ print: 'before' }, { call: 'task.get', params: { task_id: 999_999 } }, { print: 'after' }],
    });
    expect(failing.code).toBe(1);
    expect(failing.lines).toContain('step 1/3 print before');
    expect(failing.lines.find((l) => l.startsWith('step 2/3'))).toMatch(
      /^step 2\/3 call task.get FAILED NOT_FOUND: Task 999999 does not exist/,
    );
    expect(failing.stdout).not.toMatch(/after/);
    expect(failing.stderr).toMatch(/step 2 \(call task.get\) failed: NOT_FOUND/);
    expect(failing.lines.at(-1)).toBe('script-agent failing: failed at step 2/3');

    const surprising = await runAgent({ steps: [{ call: 'task.list', params: { limit: 1 }, expect_error: 'NOT_FOUND' }] });
    expect(surprising.code).toBe(1);
    expect(surprising.lines).toContain('step 1/1 call task.list FAILED expected NOT_FOUND, but it succeeded.');
  });

  it('prints an inbox message to its thread as a DIRECTIVE at the next step boundary and marks it delivered', async () => {
    const before = call<J>(repo.path, 'inbox.send', {
      receiver_thread_id: threadId,
      sender_thread_id: threadId,
      message: 'read the spec first',
    });
    const agent = startAgent({
      name: 'directed',
      steps: [{ print: 'working' }, { sleep: 2500 }, { print: 'next' }],
    });
    await agent.waitForLine(/^step 1\/3 print working$/);
    const during = call<J>(repo.path, 'inbox.send', {
      receiver_thread_id: threadId,
      sender_thread_id: threadId,
      message: 'rebase on main\nthen continue',
    });
    const run = await agent.done;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const lines = run.lines;
    // Sent before the run: taken before step 1. Sent during the sleep: taken after it, before step 3.
    expect(lineIndex(lines, /^DIRECTIVE: read the spec first$/)).toBeLessThan(lineIndex(lines, /^step 1\/3/));
    const directive = lineIndex(lines, /^DIRECTIVE: rebase on main$/);
    expect(directive).toBeGreaterThan(lineIndex(lines, /^step 2\/3 sleep 2500 ok$/));
    expect(directive).toBeLessThan(lineIndex(lines, /^step 3\/3 print next$/));
    expect(lines[directive + 1]).toBe('  then continue');

    expect(call<J>(repo.path, 'inbox.pending', { receiver_thread_id: threadId }).count).toBe(0);
    const messages = call<J>(repo.path, 'inbox.list', { thread_id: threadId }).items as J[];
    for (const id of [before.message.id, during.message.id]) {
      const message = messages.find((m) => m.id === id)!;
      expect(message.status).toBe('delivered');
      expect(message.delivered_at).toBeGreaterThan(0);
    }
  });

  it('prints messages the server hands over in a tool result at the next step boundary', async () => {
    const agent = startAgent({
      name: 'surfaced',
      check_inbox: false,
      steps: [{ print: 'working' }, { sleep: 2500 }, { call: 'work.current_ref', params: {} }, { print: 'next' }],
    });
    await agent.waitForLine(/^step 1\/4 print working$/);
    const sent = call<J>(repo.path, 'inbox.send', { receiver_thread_id: threadId, sender_thread_id: threadId, message: 'use the new API' });
    const run = await agent.done;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const directive = lineIndex(run.lines, /^DIRECTIVE: use the new API$/);
    expect(directive).toBeGreaterThan(lineIndex(run.lines, /^step 3\/4 call work.current_ref ok$/));
    expect(directive).toBeLessThan(lineIndex(run.lines, /^step 4\/4 print next$/));
    const message = (call<J>(repo.path, 'inbox.list', { thread_id: threadId }).items as J[]).find((m) => m.id === sent.message.id)!;
    expect(message.status).toBe('delivered');
  });

  it('waits for a directive or typed input with wait_directive', async () => {
    const listener = openAgentSession('listener');
    const agent = startAgent('listener.json', {}, listener);
    await agent.waitForLine(/^step 1\/4 print listening$/);
    agent.child.stdin.write('use the fast path\n');
    const run = await agent.done;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.lines).toContain('INPUT: use the fast path');
    expect(run.lines).toContain('step 2/4 wait_directive ok (input)');
    expect(run.lines).toContain('step 3/4 print received: use the fast path (from input)');
  });

  it('Ctrl-C prints INTERRUPTED, cuts the sleep short and goes on; on_interrupt exit stops', async () => {
    const steps = [
      { print: 'start' },
      { sleep: 20_000 },
      { call: 'task.get', params: { task_id: groupId }, save: 'g' },
      { print: 'after ${g.task.level}' },
    ];
    const started = Date.now();
    const agent = startAgent({ name: 'interruptible', steps });
    await agent.waitForLine(/^step 1\/4 print start$/);
    await new Promise((r) => setTimeout(r, 300));
    agent.child.kill('SIGINT');
    const run = await agent.done;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.lines).toContain('INTERRUPTED');
    expect(run.lines).toContain('step 2/4 sleep 20000 interrupted');
    // The MCP server survived the interrupt: the next call still works.
    expect(run.lines).toContain('step 3/4 call task.get ok');
    expect(run.lines).toContain('step 4/4 print after test_group');

    const exiting = startAgent({ name: 'quitter', on_interrupt: 'exit', steps });
    await exiting.waitForLine(/^step 1\/4 print start$/);
    await new Promise((r) => setTimeout(r, 300));
    exiting.child.kill('SIGINT');
    const stopped = await exiting.done;
    expect(stopped.code).toBe(130);
    expect(stopped.lines).toContain('INTERRUPTED');
    expect(stopped.stdout).not.toMatch(/step 3\/4/);
  });

  it('commits with hooks on: a commit of a file another owner locked is refused; wait_for gets the lock once released', async () => {
    const held = call<J>(repo.path, 'lock.acquire', { scope_type: 'file', scope_path: 'src/shared.ts', session_id: otherSessionId }).lock;
    const agent = startAgent({
      name: 'locker',
      steps: [
        { write: { path: 'src/shared.ts', content: 'export const shared = 1;\n' } },
        { commit: { message: 'touch shared', paths: ['src/shared.ts'] }, expect_error: 'hook', save: 'refused' },
        { print: 'waiting for the lock' },
        {
          wait_for: {
            call: 'lock.acquire',
            params: { scope_type: 'file', scope_path: 'src/shared.ts' },
            timeout_ms: 20_000,
            interval_ms: 100,
          },
          save: 'lock',
        },
        { commit: { message: 'touch shared', paths: ['src/shared.ts'] } },
        { call: 'lock.release', params: { lock_id: '${lock.lock.id}' } },
        { wait_for: { call: 'task.get', params: { task_id: 999_999 }, timeout_ms: 300, interval_ms: 50 }, expect_error: 'TIMEOUT' },
        { commit: { message: 'nothing new' }, expect_error: 'empty' },
      ],
    });
    await agent.waitForLine(/^step 3\/8 print waiting for the lock$/);
    call(repo.path, 'lock.release', { lock_id: held.id, session_id: otherSessionId });
    const run = await agent.done;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.lines).toContain('step 2/8 commit "touch shared" hook (expected)');
    expect(run.stderr).toMatch(/src\/shared.ts is locked by session:/);
    expect(run.lines.find((l) => l.startsWith('step 4/8'))).toMatch(/^step 4\/8 wait_for lock.acquire ok after \d+ tries$/);
    expect(run.lines.find((l) => l.startsWith('step 5/8'))).toMatch(/^step 5\/8 commit "touch shared" ok [0-9a-f]{12}$/);
    expect(run.lines).toContain('step 7/8 wait_for task.get TIMEOUT (expected)');
    expect(run.lines).toContain('step 8/8 commit "nothing new" empty (expected)');
    expect(git(worktree, 'log', '-1', '--format=%s')).toBe('touch shared\n');
    expect(call<J>(repo.path, 'lock.list', {}).items).toEqual([]);
  });
});
