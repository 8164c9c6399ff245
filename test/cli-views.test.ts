import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { type Harness, makeGroup, openHarness } from './helpers/dispatch.js';
import { commitFiles, openWorkSession } from './helpers/git-plane.js';
import { privateTmux } from './helpers/tmux.js';

const tmux = privateTmux();
let h: Harness;
const ids: Record<string, number> = {};

/** A fixed ledger: tasks, a lock, a stopped child, a queued merge and two conflicting branches. */
beforeAll(async () => {
  h = openHarness(tmux.env);
  const s = await openWorkSession(h, 'views fixture');
  ids.session = s.sessionId;
  const group = await makeGroup(h);
  ids.case = (await h.ok('task.create', { level: 'case', title: 'Render the table', parent_id: group })).task.id;
  await h.ok('case.begin', { case_id: ids.case, session_id: s.sessionId });
  ids.lock = (
    await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: 'src/views', ttl_seconds: 3600, session_id: s.sessionId })
  ).lock.id;
  const child = await h.ok('thread.child.spawn', {
    runner: 'command',
    command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    title: 'viewer child',
    session_id: s.sessionId,
  });
  ids.thread = child.thread.id;
  await h.ok('thread.child.stop', { thread_id: ids.thread, terminate_pane: true });
  const left = (await h.ok('worktree.spawn', { name: 'left', session_id: s.sessionId })).worktree;
  const right = (await h.ok('worktree.spawn', { name: 'right', session_id: s.sessionId })).worktree;
  commitFiles(left.path, { 'README.md': 'left\n' });
  commitFiles(right.path, { 'README.md': 'right\n' });
  ids.queue = (await h.ok('merge.main.request', { from_worktree_id: left.id, session_id: s.sessionId })).main_merge_request.id;
});
afterAll(() => {
  tmux.kill();
  h.repo.cleanup();
});

const view = (name: string, json: boolean) => cli(h.repo.path, json ? [name, '--json'] : [name], tmux.env);

describe('CLI views', () => {
  it('tasks', () => {
    const json = view('tasks', true).json as { items: { id: number; status: string; owner_key: string }[]; count: number };
    expect(json.count).toBe(4);
    expect(json.items.find((t) => t.id === ids.case)).toMatchObject({ status: 'in_progress', owner_key: `session:${ids.session}` });
    const out = view('tasks', false).stdout.split('\n');
    expect(out[0]).toMatch(/^ID\s+LEVEL\s+STATUS\s+PARENT\s+OWNER\s+TITLE$/);
    expect(out.find((line) => line.includes('Render the table'))).toMatch(
      new RegExp(`^${ids.case}\\s+case\\s+in_progress\\s+\\d+\\s+session:${ids.session}\\s+Render the table$`),
    );
  });

  it('locks', () => {
    const json = view('locks', true).json as { items: { id: number; scope_path: string }[] };
    expect(json.items.map((l) => [l.id, l.scope_path])).toEqual([[ids.lock, 'src/views']]);
    const out = view('locks', false).stdout;
    expect(out).toMatch(
      new RegExp(
        `^ID\\s+SCOPE\\s+OWNER\\s+FENCE\\s+EXPIRES\\n${ids.lock}\\s+prefix src/views\\s+session:${ids.session}\\s+\\d+\\s+in 3[56]\\d\\ds\\n$`,
      ),
    );
  });

  it('threads', () => {
    const json = view('threads', true).json as { items: { id: number; status: string; runner: string }[] };
    expect(json.items).toEqual([expect.objectContaining({ id: ids.thread, status: 'stopped', runner: 'command' })]);
    const out = view('threads', false).stdout.split('\n');
    expect(out[0]).toMatch(/^ID\s+SESSION\s+RUNNER\s+STATUS\s+REASON\s+TITLE$/);
    expect(out[1]).toMatch(new RegExp(`^${ids.thread}\\s+${ids.session}\\s+command\\s+stopped\\s+stopped: by the root .*viewer child$`));
  });

  it('queue', () => {
    const json = view('queue', true).json as { items: { id: number; state: string }[] };
    expect(json.items.map((q) => [q.id, q.state])).toEqual([[ids.queue, 'queued']]);
    const out = view('queue', false).stdout.split('\n');
    expect(out[0]).toMatch(/^ID\s+STATE\s+SOURCE\s+TARGET\s+REASON$/);
    expect(out[1]).toMatch(new RegExp(`^${ids.queue}\\s+queued\\s+codestrator/left\\s+main\\s+waiting for its turn$`));
  });

  it('conflicts', () => {
    const json = view('conflicts', true).json as { items: { between: string; kind: string; files: string[] }[] };
    expect(json.items).toEqual([{ between: 'codestrator/left ↔ codestrator/right', kind: 'conflict', files: ['README.md'] }]);
    expect(view('conflicts', false).stdout).toMatch(
      /^BETWEEN\s+KIND\s+FILES\ncodestrator\/left ↔ codestrator\/right\s+conflict\s+README\.md\n$/,
    );
  });

  it('says so when a view is empty, and fails with the structured error outside a repository', () => {
    const emptyState = { ...tmux.env, CODESTRATOR_STATE_DIR: `${h.repo.path}/../empty-state` };
    expect(cli(h.repo.path, ['init'], emptyState).code).toBe(0);
    const empty = cli(h.repo.path, ['queue'], emptyState);
    expect(empty.stdout).toBe('No queue.\n');
    const outside = cli('/', ['tasks', '--json']);
    expect(outside.code).toBe(1);
    expect(outside.json).toMatchObject({ error: { code: 'PRECONDITION_FAILED' } });
  });
});
