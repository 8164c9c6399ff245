import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, cli, cliAsync } from './helpers/cli.js';
import { git } from './helpers/repo.js';
import { privateTmux } from './helpers/tmux.js';

/**
 * `codestrator demo`, run as the built CLI on a private tmux server: a root and three scripted
 * agents (real MCP clients in tmux windows) in a fresh repository, landing through the queue.
 */
const tmux = privateTmux();
const base = realpathSync(mkdtempSync(join(tmpdir(), 'cs-demo-')));
afterAll(() => {
  tmux.kill();
  rmSync(base, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

const LANDED = ['Show prices with a currency symbol', 'Compute tax with a shared percentOf helper'];
const CONFLICTING = 'Discount codes';

describe('codestrator demo', () => {
  it('lands two agents through the gate, reports the third as a conflict, shows the lock wait, and leaves nothing behind', async () => {
    const dir = join(base, 'run');
    const started = Date.now();
    const run = await cliAsync(base, ['demo', '--json', '--no-serve', '--dir', dir], tmux.env);
    console.log(`codestrator demo --json took ${Date.now() - started} ms (its own duration_ms: ${(run.json as any)?.duration_ms})`);
    expect(run.code, run.stderr).toBe(0);
    const report = run.json as any;
    expect(report).toMatchObject({ repo: dir, kept: false, dashboard_url: null });
    expect(report.queue.map((q: any) => [q.name, q.state])).toEqual([
      ['worker-1', 'merged'],
      ['worker-2', 'merged'],
      ['worker-3', 'conflict'],
    ]);
    expect(report.merged).toEqual(LANDED);
    expect(report.conflicts).toEqual([{ item: report.queue[2].id, name: 'worker-3', paths: ['src/config.js'] }]);
    expect(report.threads.map((t: any) => [t.name, t.status])).toEqual([
      ['worker-1', 'completed'],
      ['worker-2', 'completed'],
      ['worker-3', 'completed'],
    ]);
    expect(new Set(report.threads.map((t: any) => t.tmux_session)).size).toBe(1);
    expect(report.main_log.join('\n')).not.toContain(CONFLICTING);
    // worker-2 was refused (LOCKED) while worker-1 held src/shared/, and got the lock only after its release.
    expect(report.lock_wait).toMatchObject({ scope: 'src/shared/', holder: 'worker-1', waiter: 'worker-2', refused_first: true });
    expect(report.lock_wait.waiter_acquired_at).toBeGreaterThanOrEqual(report.lock_wait.holder_released_at);
    expect(report.sessions).toHaveLength(1);
    expect(report.tmux_attach).toContain(tmux.socket);
    expect(existsSync(dir)).toBe(false);
    expect(tmux.sessions()).toEqual([]);
  }, 180_000);

  it('narrates each event and, with --keep, leaves the repository, ledger and branches to inspect', async () => {
    const dir = join(base, 'kept');
    const run = await cliAsync(base, ['demo', '--keep', '--no-serve', '--dir', dir], tmux.env);
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/worker-1 locks src\/shared\//);
    expect(out).toMatch(/worker-2 waits for lock src\/shared\/ held by worker-1/);
    expect(out).toMatch(/queue: item \d+ \(worker-3\) conflict in src\/config\.js/);
    expect(out).toMatch(/codestrator demo: done in \d+\.\ds/);
    expect(out).toContain(`cd ${dir}`);
    expect(out.indexOf('worker-2 waits for lock')).toBeLessThan(out.indexOf('worker-1 releases src/shared/'));

    const main = git(dir, 'log', '--format=%s', 'main');
    for (const subject of LANDED) expect(main).toContain(subject);
    expect(main).not.toContain(CONFLICTING);
    expect(git(dir, 'log', '--format=%s', 'codestrator/worker-3')).toContain(CONFLICTING);
    // main is what the gate passed: its tests run green in the updated main checkout.
    expect(execFileSync(process.execPath, ['check.js'], { cwd: dir, encoding: 'utf8' })).toContain('all 3 test files pass');

    const queue = cli(dir, ['queue', '--json']).json as any;
    expect(queue.items.map((q: any) => q.state)).toEqual(['merged', 'merged', 'conflict']);
    const cases = call<any>(dir, 'task.list', { level: 'case' }).items;
    expect(cases.map((c: any) => c.status)).toEqual(['done', 'done', 'done']);
    const waiter = cases.find((c: any) => c.title === LANDED[1]);
    const steps = call<any>(dir, 'task.get', { task_id: waiter.id }).steps;
    expect(steps.find((s: any) => s.title === 'take the src/shared/ lock').notes).toMatch(/^refused first \(.*held by thread:\d+/);
  }, 180_000);

  it('refuses a non-empty --dir with exit 1 and a clear message, touching nothing', () => {
    const dir = join(base, 'busy');
    mkdirSync(dir);
    writeFileSync(join(dir, 'mine.txt'), 'not yours\n');
    const run = cli(base, ['demo', '--no-serve', '--dir', dir], tmux.env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/failed at "prepare the directory": .*busy is not empty; give an empty or new directory/);
    expect(readdirSync(dir)).toEqual(['mine.txt']);
  });
});
