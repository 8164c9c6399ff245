import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { openWorkSession } from './helpers/git-plane.js';
import { privateTmux } from './helpers/tmux.js';

const tmux = privateTmux();
const harnesses: Harness[] = [];
afterAll(() => {
  tmux.kill();
  for (const h of harnesses) h.repo.cleanup();
});

/** A child (runner command) that writes its argv and one variable of its environment to a file. */
function recorder(out: string, args: string[]) {
  const program = `require('node:fs').writeFileSync(process.argv[1], JSON.stringify({ args: process.argv.slice(2), socket: process.env.CODESTRATOR_TMUX_SOCKET ?? null }))`;
  return { runner: 'command', command: [process.execPath, '-e', program, out, ...args] };
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return readFileSync(path, 'utf8');
}

describe('what reaches a child through tmux', () => {
  it('passes arguments ending in ";" (tmux reads those as command separators) and other hostile text untouched', async () => {
    const h = openHarness(tmux.env);
    harnesses.push(h);
    const s = await openWorkSession(h, 'argv');
    const out = join(s.path, '..', 'argv.json');
    const args = ['Fix the bug;', ';', 'a\\;', 'x\\\\;', '$(touch pwned)', '--help', 'it\'s "quoted"', 'ünïcödé ;', ''];
    await h.ok('thread.child.spawn', { ...recorder(out, args), title: 'argv', session_id: s.sessionId });
    const seen = JSON.parse(await waitForFile(out));
    expect(seen.args).toEqual(args);
    // The child runs on the same private tmux server as its siblings, so its own thread reads look there.
    expect(seen.socket).toBe(tmux.socket);
    expect(existsSync(join(s.path, 'pwned'))).toBe(false);
  });

  it('puts children spawned at the same moment into one tmux session', async () => {
    const h = openHarness(tmux.env);
    harnesses.push(h);
    const s = await openWorkSession(h, 'together');
    const spawned = await Promise.all(
      [1, 2, 3].map((n) =>
        h.ok('thread.child.spawn', {
          runner: 'command',
          command: [process.execPath, '-e', 'setTimeout(() => {}, 20000)'],
          title: `together ${n}`,
          session_id: s.sessionId,
        }),
      ),
    );
    const sessions = new Set(spawned.map((r) => r.thread.tmux_session));
    expect(sessions.size).toBe(1);
    for (const r of spawned) await h.ok('thread.child.stop', { thread_id: r.thread.id, terminate_pane: true });
  });
});
