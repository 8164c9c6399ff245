import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../src/app/services.js';
import { readResult } from '../src/registry/read.js';
import { startDashboard } from '../src/http/server.js';
import { cli } from './helpers/cli.js';
import { type Harness, openHarness, quickSession } from './helpers/dispatch.js';
import { commitFiles, openWorkSession, writeConfig } from './helpers/git-plane.js';

const harnesses: Harness[] = [];
afterAll(() => {
  for (const h of harnesses) h.repo.cleanup();
});
const fresh = () => {
  const h = openHarness();
  harnesses.push(h);
  return h;
};

describe('people watching do not change what they watch', () => {
  it('a silent session stays suspended while the CLI views and the dashboard read it', async () => {
    const h = fresh();
    const id = await quickSession(h, { heartbeat_timeout_seconds: 10 });
    h.db()
      .prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?')
      .run(Date.now() - 60_000, id);
    const live = () =>
      (cli(h.repo.path, ['status', '--json']).json as { sessions: { id: number; live: boolean }[] }).sessions.find((s) => s.id === id)!
        .live;
    expect(live()).toBe(false);
    // The threads view lists each session's children by naming the session.
    expect(cli(h.repo.path, ['threads', '--json']).code).toBe(0);
    const dashboard = await startDashboard({ cwd: h.repo.path, env: { PATH: process.env.PATH }, log: () => {} });
    try {
      const response = await fetch(`http://127.0.0.1:${dashboard.port}/api/snapshot`, {
        headers: { authorization: `Bearer ${dashboard.token}` },
      });
      expect(response.status).toBe(200);
      expect(JSON.stringify(await response.json())).toContain(`"id":${id}`);
    } finally {
      await dashboard.close();
    }
    expect(live()).toBe(false);
  });

  it('a second queue run started from the same process (a second click) does not run alongside the first', async () => {
    const h = fresh();
    const marker = join(h.repo.path, '..', 'gate-runs');
    writeFileSync(marker, '');
    writeConfig(h, {
      gate: {
        command: [process.execPath, '-e', `require('fs').appendFileSync(${JSON.stringify(marker)}, 'run\\n'); setTimeout(() => {}, 800)`],
      },
    });
    const s = await openWorkSession(h, 'double click');
    const child = (await h.ok('worktree.spawn', { name: 'slow', session_id: s.sessionId })).worktree;
    commitFiles(child.path, { 'src/slow.ts': 'export const slow = 1;\n' }, 'slow');
    await h.ok('merge.main.request', { from_worktree_id: child.id, session_id: s.sessionId });
    // One dispatcher without identity, as the dashboard has.
    const supervisor = createDispatcher(h.repo.path, { PATH: process.env.PATH });
    const [first, second] = await Promise.all([
      supervisor.call('merge.main.process', {}),
      new Promise((resolve) => setTimeout(resolve, 200)).then(() => supervisor.call('merge.main.process', {})),
    ]);
    expect(first.ok && (first.result.processed as { state: string }[]).map((item) => item.state)).toEqual(['merged']);
    expect(second.ok ? 'ok' : second.error.error.code).toBe('LOCKED');
    expect(readFileSync(marker, 'utf8')).toBe('run\n');
  });

  it('a queue run whose lease ran out during a long gate still reports its merge when another holder took the lock', async () => {
    const h = fresh();
    writeConfig(h, { merge_lock_ttl_seconds: 1, gate: { command: [process.execPath, '-e', 'setTimeout(() => {}, 2500)'] } });
    const s = await openWorkSession(h, 'long gate');
    const other = await quickSession(h);
    const child = (await h.ok('worktree.spawn', { name: 'long', session_id: s.sessionId })).worktree;
    commitFiles(child.path, { 'src/long.ts': 'export const long = 1;\n' }, 'long');
    await h.ok('merge.main.request', { from_worktree_id: child.id, session_id: s.sessionId });
    const run = h.ok('merge.main.process', { session_id: s.sessionId });
    await new Promise((resolve) => setTimeout(resolve, 1800)); // the 1 s lease has run out; the gate still runs
    await h.ok('merge.main.acquire_lock', { session_id: other, ttl_seconds: 60 });
    expect((await run).processed.map((item: { state: string }) => item.state)).toEqual(['merged']);
    // The other holder keeps the lock the finished run no longer had.
    expect(h.db().prepare("SELECT holder_key FROM named_locks WHERE name = 'main-merge'").get()).toEqual({
      holder_key: `session:${other}`,
    });
  });

  it("an observer read made as a thread leaves the thread's messages pending", async () => {
    const h = fresh();
    const sessionId = await quickSession(h);
    const thread = (await h.ok('session.list', {})).items.find((row: { id: number }) => row.id === sessionId).root_thread_id as number;
    await h.ok('inbox.send', { receiver_thread_id: thread, message: 'please rebase', session_id: await quickSession(h) });
    const child = createDispatcher(h.repo.path, { PATH: process.env.PATH, CODESTRATOR_THREAD_ID: String(thread) });
    expect(await readResult(child, 'thread.child.list')).not.toHaveProperty('inbox');
    const surfaced = await child.call('thread.child.list', {});
    expect(surfaced.ok && surfaced.result.inbox).toEqual([expect.objectContaining({ message: 'please rebase' })]);
  });
});
