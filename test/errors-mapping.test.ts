import Database from 'better-sqlite3';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CodestratorError, toCodestratorError } from '../src/core/errors.js';
import { CommandError } from '../src/git/run-git.js';
import { type Dashboard, startDashboard } from '../src/http/server.js';
import { BusyError } from '../src/store/retry.js';
import { SchemaTooNewError } from '../src/store/database.js';
import { TmuxError } from '../src/tmux/run-tmux.js';
import { cleanEnv } from './helpers/cli.js';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { openWorkSession } from './helpers/git-plane.js';
import { connectMcp } from './helpers/mcp.js';
import { type TempRepo, git, makeRepo } from './helpers/repo.js';

/**
 * Every adapter failure reaches a client under its own code, mapped by class (not by a name
 * string a class may forget to set): BUSY (retryable, HTTP 503), PRECONDITION_FAILED for a
 * database newer than this code, EXTERNAL for git and tmux.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Holds the database's write lock from this process, as a stuck writer in another process would. */
function holdWriteLock(dbPath: string): () => void {
  const db = new Database(dbPath);
  db.exec('BEGIN IMMEDIATE');
  return () => {
    db.exec('ROLLBACK');
    db.close();
  };
}

function post(port: number, token: string, body: unknown): Promise<{ status: number; headers: Record<string, unknown>; json: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/api/call',
        method: 'POST',
        headers: { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no reply within 30 s')));
    req.end(JSON.stringify(body));
  });
}

describe('adapter errors are typed', () => {
  it('each adapter error class is a CodestratorError with its code, whatever its name says', () => {
    const cases: [Error, string][] = [
      [new BusyError(new Error('SQLITE_BUSY')), 'BUSY'],
      [new SchemaTooNewError('too new'), 'PRECONDITION_FAILED'],
      [new CommandError('git', ['status'], 128, 'fatal: not a git repository'), 'EXTERNAL'],
      [new TmuxError(['new-session'], 1, 'no server running'), 'EXTERNAL'],
    ];
    for (const [err, code] of cases) {
      // A renamed or minified class keeps its code: the mapping is by class, never by name.
      err.name = 'Error';
      expect(err).toBeInstanceOf(CodestratorError);
      expect(toCodestratorError(err).code).toBe(code);
    }
    expect(new BusyError(null).retryable).toBe(true);
    expect(toCodestratorError(new Error('boom')).code).toBe('INTERNAL');
  });
});

describe('BUSY', () => {
  it('reaches an MCP client as a retryable BUSY error, not INTERNAL, and the server stays up', async () => {
    const repo: TempRepo = makeRepo('busy-mcp');
    cleanups.push(() => repo.cleanup());
    const mcp = await connectMcp(repo.path);
    cleanups.push(() => mcp.close());
    const init = await mcp.tool('orch_session', 'workspace.init');
    expect(init.isError).toBe(false);
    const release = holdWriteLock(init.data.db_path as string);
    let busy;
    try {
      busy = await mcp.tool('orch_task', 'task.create', { level: 'epic', title: 'blocked by a stuck writer' });
    } finally {
      release();
    }
    expect(busy.isError).toBe(true);
    expect(busy.data.error).toMatchObject({
      code: 'BUSY',
      message: expect.stringContaining('locked'),
      hint: expect.stringContaining('Retry'),
    });
    // Once the writer lets go the same call succeeds.
    const again = await mcp.tool('orch_task', 'task.create', { level: 'epic', title: 'after the writer' });
    expect(again.isError).toBe(false);
  }, 40_000);

  it("answers the dashboard's /api/call with 503 and Retry-After, not 500", async () => {
    const h: Harness = openHarness();
    cleanups.push(() => h.repo.cleanup());
    await h.ok('workspace.init');
    const dashboard: Dashboard = await startDashboard({ cwd: h.repo.path, env: cleanEnv() });
    cleanups.push(() => dashboard.close());
    // The first call opens the dashboard's services (and its database connection) before the lock is taken.
    const idle = await post(dashboard.port, dashboard.token, { method: 'merge.main.process', params: {} });
    expect(idle.status, JSON.stringify(idle.json)).toBe(200);
    const release = holdWriteLock(join(h.repo.path, '.codestrator', 'state.db'));
    let reply;
    try {
      reply = await post(dashboard.port, dashboard.token, { method: 'merge.main.process', params: {} });
    } finally {
      release();
    }
    expect(reply.status, JSON.stringify(reply.json)).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.json.error).toMatchObject({ code: 'BUSY' });
  }, 40_000);
});

describe('PRECONDITION_FAILED', () => {
  it('a database written by a newer codestrator is refused with PRECONDITION_FAILED, over MCP', async () => {
    const repo = makeRepo('too-new');
    cleanups.push(() => repo.cleanup());
    const first = await connectMcp(repo.path);
    const init = await first.tool('orch_session', 'workspace.init');
    await first.close();
    const raw = new Database(init.data.db_path as string);
    raw.pragma('user_version = 999');
    raw.close();
    const mcp = await connectMcp(repo.path);
    cleanups.push(() => mcp.close());
    const refused = await mcp.tool('orch_task', 'task.list', {});
    expect(refused.isError).toBe(true);
    expect(refused.data.error).toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining('schema version 999'),
      hint: expect.stringContaining('newer'),
    });
  }, 40_000);
});

describe('EXTERNAL', () => {
  it('a git command that fails reaches the caller as EXTERNAL with its stderr', async () => {
    const h = openHarness();
    cleanups.push(() => h.repo.cleanup());
    await h.ok('workspace.init');
    // A repository extension this git does not know makes every git command in it fail.
    git(h.repo.path, 'config', 'core.repositoryformatversion', '1');
    git(h.repo.path, 'config', 'extensions.nosuchextension', 'true');
    const error = await h.fail('session.open', { user_request: 'needs git' });
    expect(error).toMatchObject({ code: 'EXTERNAL', message: expect.stringContaining('git') });
  }, 40_000);

  it('a tmux command that fails reaches the caller as EXTERNAL', async () => {
    // A socket path under a regular file: tmux cannot start a server there.
    const h = openHarness({ CODESTRATOR_TMUX_SOCKET: '/dev/null/codestrator-no-socket' });
    cleanups.push(() => h.repo.cleanup());
    const session = (await openWorkSession(h, 'tmux fails')).sessionId;
    const error = await h.fail('thread.child.spawn', {
      runner: 'command',
      command: [process.execPath, '-e', 'setTimeout(() => {}, 1000)'],
      title: 'never starts',
      session_id: session,
    });
    expect(error, JSON.stringify(error)).toMatchObject({ code: 'EXTERNAL', message: expect.stringContaining('tmux') });
  }, 40_000);
});
