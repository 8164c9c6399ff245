import { spawn, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeProcesses } from '../src/app/processes.js';
import { call, cli } from './helpers/cli.js';
import { openHarness, quickSession } from './helpers/dispatch.js';
import { callKilledAt, expectRecovered } from './helpers/fault.js';
import { git } from './helpers/repo.js';

const h = openHarness();
afterAll(() => h.repo.cleanup());

const processes = nodeProcesses({});
const FAR = Date.now() + 3_600_000;

/** A process key of this machine whose process has exited. */
function deadKey(): string {
  const child = spawnSync(process.execPath, ['-e', '']);
  return `${processes.self.split('/')[0]}/${child.pid}/1`;
}

function holdMainMerge(holder: string, holderProcess: string) {
  h.db()
    .prepare('INSERT OR REPLACE INTO named_locks (name, holder_key, holder_process, lease_until, acquired_at) VALUES (?, ?, ?, ?, ?)')
    .run('main-merge', holder, holderProcess, FAR, Date.now());
}

describe('named locks know whether their holder is alive', () => {
  it('a lease whose holder process is gone is taken over at once, and the takeover is recorded', async () => {
    const session = await quickSession(h);
    holdMainMerge('process:run-dead', deadKey());
    const taken = await h.ok('merge.main.acquire_lock', { session_id: session });
    expect(taken.lock.holder).toBe(`session:${session}`);
    const audit = h.db().prepare("SELECT actor_key, target, reason FROM audit_events WHERE method = 'named_lock.takeover'").all();
    expect(audit).toEqual([
      expect.objectContaining({
        target: 'main-merge',
        actor_key: `process:${processes.self}`,
        reason: expect.stringContaining('process:run-dead'),
      }),
    ]);
    await h.ok('merge.main.release_lock', { session_id: session });
  });

  it('a holder whose process lives keeps its lease until the process ends', async () => {
    const session = await quickSession(h);
    const child = spawn('sleep', ['30']);
    await new Promise((resolve) => child.on('spawn', resolve));
    holdMainMerge('process:run-live', processes.keyOf(child.pid!)!);
    expect((await h.fail('merge.main.acquire_lock', { session_id: session })).code).toBe('LOCKED');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    expect((await h.ok('merge.main.acquire_lock', { session_id: session })).lock.holder).toBe(`session:${session}`);
    await h.ok('merge.main.release_lock', { session_id: session });
  });

  it('the main-merge lock a session takes with acquire_lock outlives the call that took it', async () => {
    const [first, second] = [await quickSession(h), await quickSession(h)];
    call(h.repo.path, 'merge.main.acquire_lock', { session_id: first });
    expect((await h.fail('merge.main.acquire_lock', { session_id: second })).code).toBe('LOCKED');
    await h.ok('merge.main.release_lock', { session_id: first });
  });
});

describe('codestrator doctor', () => {
  it('shows what a killed session.open left (dry run changes nothing), repairs it with --apply', async () => {
    callKilledAt(h.repo.path, 'worktree.add.after', 'session.open', { user_request: 'crash' });
    const dry = cli(h.repo.path, ['doctor', '--json']);
    expect(dry.code).toBe(0);
    const findings = (dry.json as { findings: { kind: string }[]; applied: boolean }).findings.map((f) => f.kind).sort();
    expect(findings).toEqual(['creating_worktree', 'named_lock']);
    expect(h.db().prepare("SELECT count(*) AS n FROM worktrees WHERE status = 'creating'").get()).toEqual({ n: 1 });
    const text = cli(h.repo.path, ['doctor']);
    expect(text.stdout).toContain('dry run: pass --apply to repair 2 findings');
    const applied = cli(h.repo.path, ['doctor', '--apply', '--json']);
    expect((applied.json as { applied: boolean; findings: unknown[] }).findings).toHaveLength(2);
    expectRecovered(h.repo.path);
    expect(cli(h.repo.path, ['doctor']).stdout).toContain('nothing to repair');
  });
});

describe('worktree.gc', () => {
  it('sees a temporary gate worktree nobody runs, and removes it with apply', async () => {
    const dir = `${h.repo.path}/.codestrator/tmp/gate-99-1`;
    git(h.repo.path, 'worktree', 'add', '--quiet', '--detach', dir, 'main');
    const dry = await h.ok('worktree.gc', {});
    expect(dry.interrupted).toEqual([expect.objectContaining({ kind: 'gate_worktree', target: dir })]);
    expect(git(h.repo.path, 'worktree', 'list')).toContain(dir);
    const applied = await h.ok('worktree.gc', { apply: true });
    expect(applied.interrupted).toHaveLength(1);
    expect(git(h.repo.path, 'worktree', 'list')).not.toContain(dir);
  });
});
