import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoViewerName } from '../src/core/thread-viewer.js';
import { splitWords } from '../src/core/thread-inputs.js';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { openWorkSession, writeConfig } from './helpers/git-plane.js';
import { privateTmux } from './helpers/tmux.js';

/**
 * Issue 10, as an agent that follows the seed skill and method-contracts.md to the letter: every
 * contract input of thread.child.spawn / thread.root.ensure / thread.attach_info is accepted with
 * its meaning, children share a tiled window, the cap counts live children under the config
 * ceiling, interrupt_patch never kills a child that reads no input, and viewer names are per clone.
 */
const tmux = privateTmux();
const harnesses: Harness[] = [];
afterAll(() => {
  tmux.kill();
  for (const h of harnesses) h.repo.cleanup();
});

const tmuxOut = (...args: string[]) => execFileSync('tmux', ['-L', tmux.socket, ...args], { encoding: 'utf8' });
const forever = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function harness(): Harness {
  const h = openHarness(tmux.env);
  harnesses.push(h);
  return h;
}

describe('splitWords (launch_command / codex_command given as one string)', () => {
  it('honours quotes and backslashes and expands nothing', () => {
    expect(splitWords(`node -e "console.log('a b')" '$(rm -rf x)' $HOME \\; a\\ b "x\\"y" ''`)).toEqual([
      'node',
      '-e',
      "console.log('a b')",
      '$(rm -rf x)',
      '$HOME',
      ';',
      'a b',
      'x"y',
      '',
    ]);
    expect(() => splitWords(`codex 'unterminated`)).toThrow(/unterminated/);
  });
});

describe('thread.child.spawn with the contract inputs (private tmux, base-index 1)', () => {
  let h: Harness;
  let sessionId: number;
  beforeAll(async () => {
    h = harness();
    sessionId = (await openWorkSession(h, 'contract inputs')).sessionId;
  });

  async function stopAll() {
    const listed = await h.ok('thread.child.list', { session_id: sessionId });
    for (const t of listed.items as { id: number; status: string }[])
      if (['starting', 'running', 'blocked'].includes(t.status)) await h.ok('thread.child.stop', { thread_id: t.id, terminate_pane: true });
  }

  it('runner_kind agents_sdk_codex_mcp with codex_command, a main-worker role, a guide, an override and the tmux names', async () => {
    mkdirSync(join(h.repo.path, 'docs'), { recursive: true });
    writeFileSync(join(h.repo.path, 'docs', 'guide.md'), '# Worker guide\n');
    const bin = mkdtempSync(join(tmpdir(), 'cs-fake-codex-'));
    const fake = join(bin, 'fake-codex.js');
    writeFileSync(fake, "console.log('FAKE CODEX ' + JSON.stringify(process.argv.slice(2))); setInterval(() => {}, 1000);\n");
    const withHome = h.as({ ...tmux.env, HOME: mkdtempSync(join(tmpdir(), 'cs-home-')) });
    const root = (await h.ok('session.context', { session_id: sessionId })).root_thread.id;
    const spawned = await withHome.ok('thread.child.spawn', {
      session_id: sessionId,
      parent_thread_id: root,
      runner_kind: 'agents_sdk_codex_mcp',
      interaction_mode: 'view_only',
      role: 'main-worker',
      title: 'contract child',
      objective: 'prove every input is taken',
      agent_guide_path: 'docs/guide.md',
      agent_override: JSON.stringify({ model: 'o-test', notes: 'kept' }),
      codex_command: `${process.execPath} ${fake}`,
      split_direction: 'horizontal',
      ensure_tmux: true,
      auto_install: false,
      tmux_session_name: 'contract-view',
      tmux_window_name: 'kids',
      launch_codex: true,
      max_concurrent_children: 6,
    });
    expect(spawned.thread).toMatchObject({ runner: 'codex', role: 'main-worker', parent_thread_id: root, status: 'running' });
    expect(spawned.tmux).toMatchObject({
      status: 'ready',
      session: 'contract-view',
      window: 'kids',
      pane_id: spawned.thread.pane_id,
      layout: 'even-horizontal',
    });
    expect(spawned.attach_info.command).toBe(`tmux -L ${tmux.socket} attach -r -t contract-view`);
    expect(spawned.notes.join('\n')).toMatch(/role: "main-worker" has no template .* worker template/);
    expect(spawned.notes.join('\n')).toMatch(/agent_override: .*notes/);
    expect(spawned.notes.join('\n')).toMatch(/codex_command: /);
    const row = h.db().prepare('SELECT prompt, runner_options FROM threads WHERE id = ?').get(spawned.thread.id) as {
      prompt: string;
      runner_options: string;
    };
    expect(row.prompt.startsWith(`AGENT GUIDE: read ${join(h.repo.path, 'docs', 'guide.md')} first`)).toBe(true);
    expect(row.prompt).toContain('CONTEXT: WORKER');
    expect(JSON.parse(row.runner_options)).toMatchObject({
      agent_override: JSON.stringify({ model: 'o-test', notes: 'kept' }),
      interaction_mode: 'view_only',
      runner_kind: 'agents_sdk_codex_mcp',
    });
    // The fake codex got codex's own arguments, with the override's model.
    const screen = await until('the fake codex', () => {
      const text = tmuxOut('capture-pane', '-p', '-J', '-t', spawned.thread.pane_id);
      return text.includes('FAKE CODEX') ? text : undefined;
    });
    expect(screen).toContain('--model=o-test');
    await stopAll();
  });

  it('launch_command as one line runs as the command runner, split into words with nothing expanded', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cs-launch-')), 'argv.json');
    const marker = join(tmpdir(), `cs-never-${process.pid}`);
    const line = `${process.execPath} -e "require('fs').writeFileSync(process.argv[1], JSON.stringify(process.argv.slice(2)))" ${out} '$(touch ${marker})' $HOME "two words"`;
    const spawned = await h.ok('thread.child.spawn', { session_id: sessionId, launch_command: line, title: 'line' });
    expect(spawned.thread.runner).toBe('command');
    expect(spawned.notes.join('\n')).toMatch(/launch_command: run directly as the command runner's argv .*no shell, no expansion/);
    await h.ok('thread.child.wait_status', { thread_ids: [spawned.thread.id], timeout_seconds: 30 });
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual([`$(touch ${marker})`, '$HOME', 'two words']);
    expect(existsSync(marker)).toBe(false);
    const refused = await h.fail('thread.child.spawn', { session_id: sessionId, launch_command: line, runner: 'script' });
    expect(refused.field).toBe('launch_command');
    // The skill's default runner_kind beside a launch_command: the command is what runs, and the answer says so.
    const withKind = await h.ok('thread.child.spawn', {
      session_id: sessionId,
      launch_command: [...forever],
      runner_kind: 'agents_sdk_codex_mcp',
      title: 'with kind',
    });
    expect(withKind.thread.runner).toBe('command');
    expect(withKind.notes.join('\n')).toMatch(/runner_kind: agents_sdk_codex_mcp was not used; launch_command is what runs/);
    await h.ok('thread.child.stop', { thread_id: withKind.thread.id, terminate_pane: true });
  });

  it('launch_codex false makes the thread without a pane; restart starts it', async () => {
    const held = await h.ok('thread.child.spawn', { session_id: sessionId, runner: 'command', command: forever, launch_codex: false });
    expect(held.thread).toMatchObject({ status: 'blocked', pane_id: null });
    expect(held.tmux.status).toBe('not_launched');
    expect(held.notes.join('\n')).toMatch(/launch_codex: false/);
    const started = await h.ok('thread.child.directive', { thread_id: held.thread.id, mode: 'restart', text: 'go now' });
    expect(started.thread.status).toBe('running');
    expect(started.thread.pane_id).toMatch(/^%\d+$/);
    await stopAll();
  });

  it('refuses what cannot be honoured, naming the input', async () => {
    expect((await h.fail('thread.child.spawn', { session_id: sessionId, runner_kind: 'agents_sdk_python' })).field).toBe('runner_kind');
    expect((await h.fail('thread.child.spawn', { session_id: sessionId, agent_guide_path: '/etc/passwd' })).field).toBe('agent_guide_path');
    expect((await h.fail('thread.child.spawn', { session_id: sessionId, agent_guide_path: 'docs/none.md' })).field).toBe(
      'agent_guide_path',
    );
    const codex = await h.fail('thread.child.spawn', { session_id: sessionId, runner: 'command', command: forever, codex_command: 'x' });
    expect(codex.field).toBe('codex_command');
    expect((await h.fail('thread.child.spawn', { session_id: sessionId, not_a_contract_name: 1 })).code).toBe('INVALID_ARGUMENT');
  });

  it('the cap counts only live children: one that exited unnoticed is not counted', async () => {
    const quick = await h.ok('thread.child.spawn', {
      session_id: sessionId,
      runner: 'command',
      command: [process.execPath, '-e', '0'],
      max_concurrent_children: 1,
    });
    await until('the child to exit', () => (existsSync(join(quick.thread.thread_dir, 'exit-1.json')) ? true : undefined));
    // Nothing has read the threads since: the row still says running.
    expect(h.db().prepare('SELECT status FROM threads WHERE id = ?').get(quick.thread.id)).toEqual({ status: 'running' });
    const next = await h.ok('thread.child.spawn', {
      session_id: sessionId,
      runner: 'command',
      command: forever,
      max_concurrent_children: 1,
    });
    expect(next.thread.status).toBe('running');
    expect(h.db().prepare('SELECT status FROM threads WHERE id = ?').get(quick.thread.id)).toEqual({ status: 'completed' });
    const refused = await h.fail('thread.child.spawn', {
      session_id: sessionId,
      runner: 'command',
      command: forever,
      max_concurrent_children: 1,
    });
    expect(refused).toMatchObject({ code: 'CONFLICT', field: 'max_concurrent_children' });
    await stopAll();
  });

  it('the repository ceiling (config max_concurrent_children) caps a call that asks for more, and says so', async () => {
    writeConfig(h, { max_concurrent_children: 1 });
    try {
      const first = await h.ok('thread.child.spawn', {
        session_id: sessionId,
        runner: 'command',
        command: forever,
        max_concurrent_children: 5,
      });
      expect(first.notes.join('\n')).toMatch(/max_concurrent_children: 5 asked, but the repository ceiling is 1/);
      const refused = await h.fail('thread.child.spawn', {
        session_id: sessionId,
        runner: 'command',
        command: forever,
        max_concurrent_children: 5,
      });
      expect(refused).toMatchObject({ code: 'CONFLICT', field: 'max_concurrent_children' });
      expect(refused.message).toContain('max_concurrent_children=1');
    } finally {
      writeConfig(h, {});
      await stopAll();
    }
  });

  it('children share one tiled window (four panes a window, then another), and closing one keeps the others', async () => {
    const own = await openWorkSession(h, 'tiled view');
    const kids: Record<string, any>[] = [];
    for (let i = 0; i < 5; i++)
      kids.push(await h.ok('thread.child.spawn', { session_id: own.sessionId, runner: 'command', command: forever, title: `kid ${i}` }));
    const [k0, k1, , , k4] = kids as [Record<string, any>, Record<string, any>, unknown, unknown, Record<string, any>];
    const first = k0.thread;
    expect(new Set(kids.slice(0, 4).map((k) => k.thread.tmux_window_id))).toEqual(new Set([first.tmux_window_id]));
    expect(k0.tmux).toMatchObject({ window: 'children', layout: 'tiled' });
    expect(k4.tmux.window).toBe('children-2');
    expect(k4.thread.tmux_window_id).not.toBe(first.tmux_window_id);
    const panes = () => tmuxOut('list-panes', '-t', first.tmux_window_id, '-F', '#{pane_id} #{pane_title}').trim().split('\n');
    expect(panes()).toHaveLength(4);
    expect(panes()[0]).toMatch(/^%\d+ t\d+ worker: kid \d$/);
    expect(tmuxOut('list-windows', '-t', `=${first.tmux_session}`).trim().split('\n')).toHaveLength(2);
    await h.ok('thread.child.stop', { thread_id: k1.thread.id, terminate_pane: true });
    expect(panes()).toHaveLength(3);
    const status = await h.ok('thread.child.status', { thread_id: k0.thread.id });
    expect(status.thread.status).toBe('running');
    expect(status.attach_info.select_window).toBe(`tmux -L ${tmux.socket} select-window -t ${first.tmux_window_id}`);
    await h.ok('session.cleanup', { session_id: own.sessionId });
  });

  it('interrupt_patch on a command child falls back to queue, says so, and leaves it running', async () => {
    const child = (await h.ok('thread.child.spawn', { session_id: sessionId, runner: 'command', command: forever, title: 'plain' })).thread;
    const directed = await h.ok('thread.child.directive', { thread_id: child.id, text: 'change of plan' });
    expect(directed).toMatchObject({ mode: 'queue', requested_mode: 'interrupt_patch' });
    expect(directed.notes[0]).toMatch(/reads no typed input .* queued instead/);
    await sleep(500);
    expect((await h.ok('thread.child.status', { thread_id: child.id })).thread.status).toBe('running');
    expect(tmux.panes().some((line) => line.includes(` ${child.pane_id} 0`))).toBe(true);
    const pending = h.db().prepare('SELECT status, message FROM inbox_messages WHERE id = ?').get(directed.inbox_message_id);
    expect(pending).toEqual({ status: 'pending', message: 'change of plan' });
    await stopAll();
  });

  it('thread.attach_info {session_id} alone is complete: the viewer, no empty target', async () => {
    const fresh = await openWorkSession(h, 'attach only');
    const before = await h.ok('thread.attach_info', { session_id: fresh.sessionId });
    expect(before.attach_info).toMatchObject({ available: false, read_only: true });
    expect(before.hint).toContain('created with the first child');
    const child = (await h.ok('thread.child.spawn', { session_id: fresh.sessionId, runner: 'command', command: forever })).thread;
    const after = await h.ok('thread.attach_info', { session_id: fresh.sessionId });
    expect(after.attach_info).toMatchObject({ available: true, tmux_session: child.tmux_session });
    expect(after.attach_info.command).toBe(`tmux -L ${tmux.socket} attach -r -t ${child.tmux_session}`);
    for (const value of Object.values(after.attach_info)) if (typeof value === 'string') expect(value).not.toContain("''");
    const root = (await h.ok('session.context', { session_id: fresh.sessionId })).root_thread.id;
    const viaRoot = await h.ok('thread.attach_info', { session_id: fresh.sessionId, thread_id: root });
    expect(viaRoot.attach_info.tmux_session).toBe(child.tmux_session);
    const viaChild = await h.ok('thread.attach_info', { thread_id: child.id });
    expect(viaChild.attach_info.select_pane).toBe(`tmux -L ${tmux.socket} select-pane -t ${child.pane_id}`);
    expect((await h.fail('thread.attach_info', { session_id: sessionId, thread_id: child.id })).field).toBe('thread_id');
    await h.ok('session.cleanup', { session_id: fresh.sessionId });
  });

  it('thread.root.ensure accepts every contract input and says what the calling-CLI root did instead', async () => {
    const fresh = await openWorkSession(h, 'root inputs');
    const root = await h.ok('thread.root.ensure', {
      session_id: fresh.sessionId,
      role: 'orchestrator',
      title: 'root of the seed run',
      objective: 'plan and dispatch',
      ensure_tmux: true,
      auto_install: true,
      tmux_session_name: 'root-pane',
      tmux_window_name: 'root',
      initial_prompt: 'you are the root',
      launch_command: 'codex --no-alt-screen',
      codex_command: ['codex'],
      launch_codex: true,
      force_launch: true,
      child_session_name: 'seed-kids',
    });
    expect(root.session.id).toBe(fresh.sessionId);
    expect(root.root_thread).toMatchObject({ title: 'root of the seed run', objective: 'plan and dispatch', role: 'session-root' });
    expect(root.tmux).toMatchObject({ status: 'ready', available: true });
    expect(root.child_tmux_session).toBe('seed-kids');
    expect(root.child_attach_hint).toContain(`attach -r -t seed-kids`);
    expect(root.attach_info).toMatchObject({ tmux_session: 'seed-kids', available: false });
    for (const input of [
      'tmux_session_name',
      'tmux_window_name',
      'initial_prompt',
      'launch_command',
      'codex_command',
      'launch_codex',
      'force_launch',
      'role',
    ])
      expect(
        root.notes.some((note: string) => note.startsWith(`${input}:`)),
        input,
      ).toBe(true);
    const child = (await h.ok('thread.child.spawn', { session_id: fresh.sessionId, runner: 'command', command: forever })).thread;
    expect(child.tmux_session).toBe('seed-kids');
    await h.ok('session.cleanup', { session_id: fresh.sessionId });
  });
});

describe('viewer sessions are per repository', () => {
  it('two clones with the same directory name never advertise or share each other’s viewer', async () => {
    const a = harness();
    const b = harness();
    expect(a.repo.path.split('/').at(-1)).toBe(b.repo.path.split('/').at(-1));
    expect(repoViewerName({ repoName: 'repo', repoPath: a.repo.path }, 'same')).not.toBe(
      repoViewerName({ repoName: 'repo', repoPath: b.repo.path }, 'same'),
    );
    const inA = await a.ok('session.open', { user_request: 'same work', worktree_name: 'same work' });
    const inB = await b.ok('session.open', { user_request: 'same work', worktree_name: 'same work' });
    const childA = (await a.ok('thread.child.spawn', { session_id: inA.session.id, runner: 'command', command: forever })).thread;
    const advertisedB = await b.ok('thread.root.ensure', { session_id: inB.session.id });
    expect(advertisedB.child_tmux_session).not.toBe(childA.tmux_session);
    expect((await b.ok('thread.attach_info', { session_id: inB.session.id })).attach_info.tmux_session).toBe(
      advertisedB.child_tmux_session,
    );
    const childB = (await b.ok('thread.child.spawn', { session_id: inB.session.id, runner: 'command', command: forever })).thread;
    expect(childB.tmux_session).toBe(advertisedB.child_tmux_session);
    expect(tmuxOut('show-options', '-v', '-t', `=${childB.tmux_session}:`, '@codestrator_repo').trim()).toBe(b.repo.path);
    await a.ok('session.cleanup', { session_id: inA.session.id });
    await b.ok('session.cleanup', { session_id: inB.session.id });
  });
});
