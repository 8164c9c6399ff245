import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { openWorkSession, writeConfig } from './helpers/git-plane.js';
import { privateTmux } from './helpers/tmux.js';

// The children run on server A; the readers below run with another CODESTRATOR_TMUX_SOCKET.
const a = privateTmux();
const servers = [a];
let h: Harness;
afterAll(() => {
  for (const server of servers) server.kill();
  h?.repo.cleanup();
});

/** Another private tmux server, as a reader started without the children's socket would use. */
function otherServer() {
  const server = privateTmux();
  servers.push(server);
  return server;
}

const tmux = (socket: string, ...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
const paneNumber = (id: string) => Number(id.slice(1));

/**
 * Makes a pane with the child's pane id on another server, in a session of the given name (the
 * child's own name unless told), each pane running `cat`: typed text shows in it, and Ctrl-C ends it.
 */
function lookalike(socket: string, session: string, paneId: string, tag?: string): string[] {
  const ids = [tmux(socket, 'new-session', '-d', '-P', '-F', '#{pane_id}', '-s', session, 'cat').trim()];
  while (paneNumber(ids.at(-1)!) < paneNumber(paneId)) {
    ids.push(tmux(socket, 'new-window', '-d', '-P', '-F', '#{pane_id}', '-t', `=${session}:`, 'cat').trim());
  }
  expect(ids).toContain(paneId);
  if (tag) tmux(socket, 'set-option', '-t', `=${session}:`, '@codestrator_repo', tag);
  return ids;
}

/** Every pane of a server with what it shows. */
function screens(socket: string): { id: string; dead: boolean; text: string }[] {
  return tmux(socket, 'list-panes', '-a', '-F', '#{pane_id} #{pane_dead}')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', dead] = line.split(' ');
      return { id, dead: dead === '1', text: tmux(socket, 'capture-pane', '-p', '-J', '-t', id, '-S', '-200') };
    });
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A scripted child that says READY, prints INTERRUPTED on Ctrl-C (and goes on) and echoes typed lines
 * as `INPUT: <line>`: it reads typed input, so interrupt_patch reaches it (a plain command child
 * would get the directive queued instead).
 */
const ECHO_SCRIPT = join(mkdtempSync(join(tmpdir(), 'cs-socket-echo-')), 'echo.json');
writeFileSync(
  ECHO_SCRIPT,
  JSON.stringify({
    name: 'echo',
    check_inbox: false,
    steps: [{ print: 'READY' }, { sleep: 600_000 }, { sleep: 600_000 }],
  }),
);

describe('operations on a child use the tmux server it was launched on', () => {
  let sessionId: number;
  beforeAll(async () => {
    h = openHarness(a.env);
    sessionId = (await openWorkSession(h, 'sockets')).sessionId;
  });

  async function spawnEcho(title: string, session = sessionId) {
    const spawned = await h.ok('thread.child.spawn', { runner: 'script', script_path: ECHO_SCRIPT, title, session_id: session });
    await until('READY', () => (tmux(a.socket, 'capture-pane', '-p', '-t', spawned.thread.pane_id).includes('READY') ? true : undefined));
    return spawned.thread as { id: number; pane_id: string; tmux_session: string; tmux_window_id: string };
  }

  it('lists, waits on, reads, directs and stops it from a process on another server with the same pane id and session name', async () => {
    const child = await spawnEcho('echo');
    const recorded = h
      .db()
      .prepare("SELECT json_extract(runner_options, '$.tmux_socket') AS socket FROM threads WHERE id = ?")
      .get(child.id);
    expect(recorded).toEqual({ socket: a.socket });
    const b = otherServer();
    const decoys = lookalike(b.socket, child.tmux_session, child.pane_id);
    const hB = h.as(b.env);

    const listed = (await hB.ok('thread.child.list', { session_id: sessionId })).items.find((t: { id: number }) => t.id === child.id);
    expect(listed).toMatchObject({ status: 'running', pane_id: child.pane_id });
    const waited = await hB.ok('thread.child.wait_status', { thread_ids: [child.id], timeout_seconds: 1 });
    expect(waited).toMatchObject({ reached: false, timed_out: true });
    expect(waited.threads[0].status).toBe('running');
    const status = await hB.ok('thread.child.status', { thread_id: child.id });
    expect(status.thread.status).toBe('running');
    expect(status.last_output).toContain('READY');
    expect(status.attach_info.argv).toEqual(['tmux', '-L', a.socket, 'attach', '-r', '-t', child.tmux_session]);

    const directed = await hB.ok('thread.child.directive', { thread_id: child.id, mode: 'interrupt_patch', text: 'hello from B' });
    expect(directed.delivery).toBe('interrupted and typed');
    await until('the typed line on A', () =>
      tmux(a.socket, 'capture-pane', '-p', '-t', child.pane_id).includes('INPUT: hello from B') ? true : undefined,
    );
    expect(tmux(a.socket, 'capture-pane', '-p', '-t', child.pane_id)).toContain('INTERRUPTED');
    const onB = screens(b.socket);
    // Nothing typed on B, and no Ctrl-C either: every cat there still runs.
    expect(onB.map((pane) => pane.id)).toEqual(expect.arrayContaining(decoys));
    expect(onB.filter((pane) => pane.dead || pane.text.includes('hello'))).toEqual([]);

    const stopped = await hB.ok('thread.child.stop', { thread_id: child.id, terminate_pane: true });
    expect(stopped).toMatchObject({ how: 'terminated (SIGTERM)', pane_removed: true, thread: { status: 'stopped' } });
    expect(a.panes().some((line) => line.includes(child.pane_id))).toBe(false);
    expect(screens(b.socket).filter((pane) => decoys.includes(pane.id) && !pane.dead)).toHaveLength(decoys.length);
  }, 60_000);

  it('types pending messages into an idle child’s pane on its server when a reader on another server notices', async () => {
    writeConfig(h, { idle_delivery_seconds: 1 });
    const scripts = mkdtempSync(join(tmpdir(), 'cs-socket-scripts-'));
    // Asleep (no calls, no inbox polling): only typing into its pane can reach it.
    writeFileSync(
      join(scripts, 'quiet.json'),
      JSON.stringify({
        name: 'quiet',
        check_inbox: false,
        steps: [
          { print: 'idle now' },
          { sleep: 4000 },
          { wait_directive: { timeout_ms: 1000 }, save: 'got' },
          { report: { state: 'done', text: '${got.text} (${got.source})' } },
        ],
      }),
    );
    const child = (
      await h.ok('thread.child.spawn', {
        runner: 'script',
        script_path: join(scripts, 'quiet.json'),
        title: 'quiet',
        session_id: sessionId,
      })
    ).thread;
    const b = otherServer();
    const decoys = lookalike(b.socket, child.tmux_session, child.pane_id);
    const hB = h.as(b.env);
    const root = (await h.ok('session.context', { session_id: sessionId })).root_thread.id;
    await hB.ok('inbox.send', { receiver_thread_id: child.id, message: 'please rebase', sender_thread_id: root });
    const done = await hB.ok('thread.child.wait_status', { thread_ids: [child.id], timeout_seconds: 60 });
    expect(done.threads[0]).toMatchObject({
      status: 'completed',
      last_report: `[codestrator] message from thread ${root}: please rebase (input)`,
    });
    const onB = screens(b.socket).filter((pane) => decoys.includes(pane.id));
    expect(onB).toHaveLength(decoys.length);
    expect(onB.filter((pane) => pane.dead || pane.text.includes('rebase'))).toEqual([]);
    writeConfig(h, {});
  }, 90_000);

  it('never types into a pane that only has the thread’s pane id (a thread launched before sockets were recorded)', async () => {
    const child = await spawnEcho('legacy');
    h.db().prepare("UPDATE threads SET runner_options = json_remove(runner_options, '$.tmux_socket') WHERE id = ?").run(child.id);
    // Read from the children's own server, such a thread works as before.
    expect((await h.ok('thread.child.status', { thread_id: child.id })).thread.status).toBe('running');
    const c = otherServer();
    const decoys = lookalike(c.socket, 'person', child.pane_id);
    const refused = await h.as(c.env).fail('thread.child.directive', { thread_id: child.id, mode: 'interrupt_patch', text: 'not for you' });
    expect(refused).toMatchObject({ code: 'PRECONDITION_FAILED', field: 'mode' });
    const onC = screens(c.socket).filter((pane) => decoys.includes(pane.id));
    expect(onC).toHaveLength(decoys.length);
    expect(onC.filter((pane) => pane.dead || pane.text.includes('not for you'))).toEqual([]);
    expect((await h.ok('thread.child.stop', { thread_id: child.id, terminate_pane: true })).how).toBe('terminated (SIGTERM)');
  }, 60_000);

  it('session.cleanup from another server closes the children’s tmux session on theirs, not a tagged namesake', async () => {
    // A session of its own: the legacy thread above would still be looked for on the reader's server.
    const own = (await openWorkSession(h, 'cleanup')).sessionId;
    const child = await spawnEcho('leftover', own);
    const b = otherServer();
    lookalike(b.socket, child.tmux_session, child.pane_id, h.repo.path);
    const cleaned = await h.as(b.env).ok('session.cleanup', { session_id: own });
    expect(cleaned.items[0]).toMatchObject({ session_id: own });
    expect(h.db().prepare('SELECT status FROM threads WHERE id = ?').get(child.id)).toEqual({ status: 'stopped' });
    expect(a.sessions()).toEqual([]);
    expect(b.sessions()).toEqual([child.tmux_session]);
    expect(b.panes().every((line) => line.endsWith(' 0'))).toBe(true);
  }, 60_000);
});
