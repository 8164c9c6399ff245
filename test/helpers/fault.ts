import Database from 'better-sqlite3';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type CliResult, cli } from './cli.js';
import { git } from './repo.js';

/** Runs `codestrator call` in a fresh process that SIGKILLs itself at the fault point; checks it died there. */
export function callKilledAt(cwd: string, point: string, method: string, params: unknown, env: Record<string, string> = {}): CliResult {
  const result = cli(cwd, ['call', method, JSON.stringify(params)], { ...env, CODESTRATOR_FAULT: point });
  // spawnSync reports a process killed by a signal with status null (code -1 here).
  expect(result.code, `${method} should have been killed at ${point}; stderr: ${result.stderr}`).toBe(-1);
  return result;
}

/**
 * The next call, from a fresh process: it must succeed within 5 s (not wait for a dead holder's
 * lease). Starting node itself is not the call's time: on a loaded machine (the full suite on two
 * cores) that alone can take seconds, so the time of a bare `codestrator --version` is taken off.
 */
export function nextCallWithin5s<T = Record<string, any>>(
  cwd: string,
  method: string,
  params: unknown = {},
  env: Record<string, string> = {},
): T {
  const bare = Date.now();
  cli(cwd, ['--version']);
  const startup = Date.now() - bare;
  const started = Date.now();
  const result = cli(cwd, ['call', method, JSON.stringify(params)], env);
  const elapsed = Date.now() - started;
  expect(result.code, `${method} after the fault failed: ${result.stderr}`).toBe(0);
  expect(elapsed - startup, `${method} took ${elapsed} ms, starting node ${startup} ms`).toBeLessThan(5000);
  return result.json as T;
}

/** Whether the process named by a lease's key (`<machine>/<pid>/<start>`) runs on this machine (a zombie does not). */
export function running(key: string): boolean {
  const [, pid, start] = key.split('/');
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const stat = fields.slice(fields.lastIndexOf(')') + 2).split(' ');
    return stat[19] === start && stat[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * What must hold after any crash once the next call ran: no lease with a dead holder, nothing left
 * checking or creating, no temporary gate worktree, no half-created worktree, no MERGE_HEAD, and
 * an intact database.
 */
export function expectRecovered(repoPath: string): void {
  const db = new Database(join(repoPath, '.codestrator', 'state.db'), { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const leases = db.prepare('SELECT name, holder_key, holder_process FROM named_locks WHERE lease_until > ?').all(Date.now()) as {
      name: string;
      holder_process: string | null;
    }[];
    expect(leases.filter((lease) => lease.holder_process === null || !running(lease.holder_process))).toEqual([]);
    expect(db.prepare("SELECT id, processor FROM merge_queue WHERE state = 'checking'").all()).toEqual([]);
    expect(db.prepare("SELECT id, path FROM worktrees WHERE status = 'creating'").all()).toEqual([]);
    const active = new Set(
      (db.prepare("SELECT path FROM worktrees WHERE status IN ('active', 'merged')").all() as { path: string }[]).map((row) => row.path),
    );
    const listed = git(repoPath, 'worktree', 'list', '--porcelain')
      .split('\n')
      .filter((line) => line.startsWith('worktree '))
      .map((line) => line.slice('worktree '.length));
    expect(listed.filter((path) => path !== repoPath && !active.has(path))).toEqual([]);
    const tmp = join(repoPath, '.codestrator', 'tmp');
    expect(existsSync(tmp) ? readdirSync(tmp).filter((name) => name.startsWith('gate-')) : []).toEqual([]);
    expect(existsSync(join(repoPath, '.git', 'MERGE_HEAD'))).toBe(false);
  } finally {
    db.close();
  }
}
