import Database from 'better-sqlite3';
import { join } from 'node:path';
import { createDispatcher } from '../../src/app/services.js';
import { makeRepo, type TempRepo } from './repo.js';

export interface CallError {
  code: string;
  message: string;
  field?: string;
  hint?: string;
  data?: Record<string, unknown>;
}

/** An in-process dispatcher over a real temp repository and a real SQLite file. */
export interface Harness {
  repo: TempRepo;
  /** Calls a method; throws with the structured error when it fails. */
  ok<T = Record<string, any>>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Calls a method that must fail; returns the structured error. */
  fail(method: string, params?: Record<string, unknown>): Promise<CallError>;
  /** Another dispatcher on the same repository, as a process with this environment would be. */
  as(env: Record<string, string>): Harness;
  /** Direct access to the database file, for fixtures and assertions. */
  db(): Database.Database;
}

function harnessFor(repo: TempRepo, env: Record<string, string>): Harness {
  const dispatcher = createDispatcher(repo.path, { PATH: process.env.PATH, HOME: process.env.HOME, ...env });
  let database: Database.Database | undefined;
  const self: Harness = {
    repo,
    async ok(method, params = {}) {
      const outcome = await dispatcher.call(method, params);
      if (!outcome.ok) throw new Error(`${method} failed: ${JSON.stringify(outcome.error)}`);
      return outcome.result as never;
    },
    async fail(method, params = {}) {
      const outcome = await dispatcher.call(method, params);
      if (outcome.ok) throw new Error(`${method} unexpectedly succeeded: ${JSON.stringify(outcome.result)}`);
      return outcome.error.error as CallError;
    },
    as: (other) => harnessFor(repo, other),
    db() {
      database ??= new Database(join(repo.path, '.codestrator', 'state.db'));
      return database;
    },
  };
  return self;
}

export function openHarness(env: Record<string, string> = {}): Harness {
  return harnessFor(makeRepo(), env);
}

/** Creates epic → feature → test_group and returns the test_group id. */
export async function makeGroup(h: Harness, sessionId?: number): Promise<number> {
  const who = sessionId ? { session_id: sessionId } : {};
  const epic = await h.ok('task.create', { level: 'epic', title: 'Epic', ...who });
  const feature = await h.ok('task.create', { level: 'feature', title: 'Feature', parent_id: epic.task.id, ...who });
  const group = await h.ok('task.create', { level: 'test_group', title: 'Group', parent_id: feature.task.id, ...who });
  return group.task.id as number;
}

/** Opens a session without a worktree (fast) and returns its id. */
export async function quickSession(h: Harness, extra: Record<string, unknown> = {}): Promise<number> {
  const result = await h.ok('session.open', { always_branch: false, user_request: 'test', ...extra });
  return result.session.id as number;
}
