import { afterAll, describe, expect, it } from 'vitest';
import { cliAsync } from './helpers/cli.js';
import { openHarness } from './helpers/dispatch.js';
import { openWorkSession } from './helpers/git-plane.js';
import { git } from './helpers/repo.js';

const h = openHarness();
afterAll(() => h.repo.cleanup());

describe('worktrees created at the same moment by separate processes', () => {
  it('all succeed: `git worktree add` takes turns instead of racing on .git/worktrees', async () => {
    const s = await openWorkSession(h, 'race');
    const names = Array.from({ length: 8 }, (_, i) => `racer ${i + 1}`);
    // Half from this process at once, half from separate OS processes.
    const spawn = (name: string) =>
      h.ok('worktree.spawn', { name, session_id: s.sessionId }).then(
        (result) => ({ ok: true as const, path: result.worktree.path as string }),
        (err: Error) => ({ ok: false as const, error: err.message }),
      );
    const inProcess = Promise.all(names.slice(0, 4).map(spawn));
    const processes = Promise.all(
      names.slice(4).map((name) => cliAsync(h.repo.path, ['call', 'worktree.spawn', JSON.stringify({ name, session_id: s.sessionId })])),
    );
    const [own, others] = await Promise.all([inProcess, processes]);
    expect(own.filter((o) => !o.ok)).toEqual([]);
    expect(others.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    const paths = [...own.map((o) => (o.ok ? o.path : '')), ...others.map((r) => (r.json as { worktree: { path: string } }).worktree.path)];
    const listed = git(h.repo.path, 'worktree', 'list', '--porcelain');
    for (const path of paths) expect(listed).toContain(path);
  });
});
