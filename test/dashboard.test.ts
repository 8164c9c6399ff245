import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { type IncomingHttpHeaders, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveFeed } from '../src/http/live.js';
import { type Dashboard, startDashboard } from '../src/http/server.js';
import { BIN, cleanEnv, cliAsync } from './helpers/cli.js';
import { type Harness, makeGroup, openHarness } from './helpers/dispatch.js';
import { commitFiles, openWorkSession } from './helpers/git-plane.js';
import { privateTmux } from './helpers/tmux.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
}

/** One HTTP request with full control over the headers (fetch would not let a test set Host). */
function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; host?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: options.host ?? '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: { Host: `127.0.0.1:${port}`, ...options.headers },
        // A fresh connection each time: a pooled keep-alive socket would hide what the server does now.
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    // A request the server wrongly accepts as a stream must fail the test, not hang it.
    req.setTimeout(10_000, () => req.destroy(new Error(`no complete reply to ${path} within 10 s`)));
    req.end(options.body);
  });
}

/** An SSE client: collects `snapshot` events until closed. */
function subscribe(port: number, token: string) {
  const events: any[] = [];
  let heartbeats = 0;
  let raw = '';
  let status = 0;
  let ended = false;
  const req = httpRequest(
    { host: '127.0.0.1', port, path: `/api/events?token=${token}`, headers: { Accept: 'text/event-stream' }, agent: false },
    (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        let cut: number;
        while ((cut = raw.indexOf('\n\n')) !== -1) {
          const block = raw.slice(0, cut);
          raw = raw.slice(cut + 2);
          const lines = block.split('\n');
          if (lines.includes(': heartbeat')) heartbeats += 1;
          if (!lines.includes('event: snapshot')) continue;
          const data = lines.find((line) => line.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)));
        }
      });
      res.on('end', () => (ended = true));
    },
  );
  req.on('error', () => (ended = true));
  req.end();
  return {
    events,
    heartbeats: () => heartbeats,
    status: () => status,
    ended: () => ended,
    close: () => req.destroy(),
    /** Resolves with the first event (from now on, or already received) that matches. */
    async waitFor(match: (message: any) => boolean, timeoutMs = 15_000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const hit = events.find(match);
        if (hit) return hit;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no matching snapshot within ${timeoutMs} ms (got ${events.length} events)`);
    },
  };
}

const tmux = privateTmux();
let h: Harness;
let dashboard: Dashboard;
const ids: Record<string, number> = {};
const bearer = () => ({ Authorization: `Bearer ${dashboard.token}` });
const post = (body: unknown, headers: Record<string, string> = {}) =>
  request(dashboard.port, '/api/call', {
    method: 'POST',
    headers: { ...bearer(), 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** A small ledger: a session with a worktree, epic → feature → group → two cases (one done), a lock, two queued branches. */
beforeAll(async () => {
  h = openHarness(tmux.env);
  const s = await openWorkSession(h, 'dashboard fixture');
  ids.session = s.sessionId;
  const group = await makeGroup(h);
  const first = (await h.ok('task.create', { level: 'case', title: 'Draw the page', parent_id: group })).task.id;
  await h.ok('task.create', { level: 'case', title: 'Stream updates', parent_id: group });
  await h.ok('case.begin', { case_id: first, session_id: s.sessionId });
  await h.ok('case.complete', { case_id: first, session_id: s.sessionId, summary: 'drawn', next_action: 'none' });
  await h.ok('lock.acquire', { scope_type: 'prefix', scope_path: 'web', ttl_seconds: 3600, session_id: s.sessionId });
  const left = (await h.ok('worktree.spawn', { name: 'left', session_id: s.sessionId })).worktree;
  commitFiles(left.path, { 'README.md': 'left\n' });
  ids.queued = (await h.ok('merge.main.request', { from_worktree_id: left.id, session_id: s.sessionId })).main_merge_request.id;
  const child = await h.ok('thread.child.spawn', {
    runner: 'command',
    command: [process.execPath, '-e', "console.log('child is up'); setInterval(() => {}, 1000)"],
    title: 'dashboard child',
    session_id: s.sessionId,
  });
  ids.thread = child.thread.id;
  dashboard = await startDashboard({ cwd: h.repo.path, env: cleanEnv(tmux.env) });
});

afterAll(async () => {
  await dashboard?.close();
  tmux.kill();
  h?.repo.cleanup();
});

describe('dashboard access', () => {
  it('listens on 127.0.0.1 only and prints a URL with a long random token', async () => {
    expect(dashboard.url).toBe(`http://127.0.0.1:${dashboard.port}/?token=${dashboard.token}`);
    expect(dashboard.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal);
    if (external) await expect(request(dashboard.port, '/', { host: external.address })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('refuses page, assets, API and stream without the right token', async () => {
    const port = dashboard.port;
    const wrong = `${dashboard.token.slice(0, -1)}${dashboard.token.endsWith('A') ? 'B' : 'A'}`;
    const attempts = [
      request(port, '/'),
      request(port, `/?token=${wrong}`),
      request(port, '/?token='),
      request(port, '/app.js'),
      request(port, '/api/snapshot'),
      request(port, '/api/snapshot', { headers: { Authorization: `Bearer ${wrong}` } }),
      request(port, `/api/snapshot?token=${dashboard.token}`, { headers: { Authorization: 'Bearer nope' } }),
      request(port, '/api/events'),
      request(port, `/api/events?token=${wrong}`),
      request(port, '/api/call', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"method":"merge.main.process"}',
      }),
    ];
    for (const reply of await Promise.all(attempts)) {
      expect(reply.status).toBe(401);
      expect(reply.json).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('token') } });
    }
  });

  it('serves the page and its assets with the token, and security headers on every response', async () => {
    const page = await request(dashboard.port, `/?token=${dashboard.token}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain(`app.js?token=${dashboard.token}`);
    expect(page.body).not.toContain('__TOKEN__');
    const script = await request(dashboard.port, `/app.js?token=${dashboard.token}`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    // Module imports are requests too: they carry the token.
    expect(script.body).toContain(`./dom.js?token=${dashboard.token}`);
    expect(script.body).not.toContain('__TOKEN__');
    const missing = await request(dashboard.port, `/../package.json?token=${dashboard.token}`);
    expect(missing.status).toBe(404);
    for (const reply of [page, script, missing, await request(dashboard.port, '/')]) {
      expect(reply.headers['content-security-policy']).toMatch(/default-src 'none'.*script-src 'self'/);
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['referrer-policy']).toBe('no-referrer');
      expect(reply.headers['cache-control']).toBe('no-store');
    }
  });

  it('refuses a foreign Host (DNS rebinding) even with the token, and accepts localhost', async () => {
    const evil = await request(dashboard.port, `/api/snapshot?token=${dashboard.token}`, {
      headers: { Host: `evil.example:${dashboard.port}` },
    });
    expect(evil.status).toBe(403);
    expect(evil.json.error.code).toBe('FORBIDDEN');
    const otherPort = await request(dashboard.port, '/api/snapshot', { headers: { ...bearer(), Host: `127.0.0.1:${dashboard.port + 1}` } });
    expect(otherPort.status).toBe(403);
    const local = await request(dashboard.port, '/api/snapshot', { headers: { ...bearer(), Host: `localhost:${dashboard.port}` } });
    expect(local.status).toBe(200);
  });

  it('sends no CORS headers, not even to a preflight, and refuses a POST from another origin', async () => {
    const origin = { Origin: 'http://evil.example' };
    const replies = [
      await request(dashboard.port, '/api/snapshot', { headers: { ...bearer(), ...origin } }),
      await request(dashboard.port, '/api/call', {
        method: 'OPTIONS',
        headers: { ...origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' },
      }),
      await post({ method: 'merge.main.process', params: {} }, origin),
    ];
    for (const reply of replies) {
      expect(Object.keys(reply.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    }
    expect(replies[1]!.status).toBe(401);
    expect(replies[2]!.status).toBe(403);
    expect(replies[2]!.json.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/origin/i) });
  });
});

describe('dashboard data', () => {
  it('the snapshot has the sessions, the task tree with progress, the locks and the queue', async () => {
    const reply = await request(dashboard.port, '/api/snapshot', { headers: bearer() });
    expect(reply.status).toBe(200);
    const { snapshot, hash, server_now } = reply.json;
    expect(typeof hash).toBe('string');
    expect(Math.abs(server_now - Date.now())).toBeLessThan(5000);
    expect(snapshot.repo.path).toBe(h.repo.path);
    expect(snapshot.sessions).toEqual([
      expect.objectContaining({
        id: ids.session,
        status: 'active',
        live: true,
        user_request: 'dashboard fixture',
        branch: expect.stringMatching(/^codestrator\//),
      }),
    ]);
    expect(snapshot.tasks.epics).toHaveLength(1);
    expect(snapshot.tasks.epics[0].features[0]).toMatchObject({ title: 'Feature', done: 1, total: 2 });
    expect(snapshot.tasks.epics[0].features[0].cases.map((c: any) => [c.title, c.status])).toEqual([
      ['Draw the page', 'done'],
      ['Stream updates', 'todo'],
    ]);
    expect(snapshot.tasks.cases).toMatchObject({ total: 2, done: 1 });
    expect(snapshot.locks).toEqual([
      expect.objectContaining({ scope_type: 'prefix', scope_path: 'web', owner_key: `session:${ids.session}` }),
    ]);
    expect(snapshot.queue).toEqual([expect.objectContaining({ id: ids.queued, state: 'queued', source_branch: 'codestrator/left' })]);
    expect(snapshot.threads).toEqual([
      expect.objectContaining({
        id: ids.thread,
        runner: 'command',
        title: 'dashboard child',
        active: true,
        branch: expect.stringMatching(/^codestrator\//),
        attach_command: expect.stringMatching(new RegExp(`^tmux -L ${tmux.socket} attach -r -t `)),
      }),
    ]);
    expect(snapshot.errors).toEqual([]);
  });

  it('an SSE client gets a new snapshot when another OS process changes the ledger', async () => {
    const stream = subscribe(dashboard.port, dashboard.token);
    try {
      const first = await stream.waitFor(() => true);
      expect(stream.status()).toBe(200);
      expect(first.snapshot.locks.map((l: any) => l.scope_path)).toEqual(['web']);
      const acquired = await cliAsync(h.repo.path, [
        'call',
        'lock.acquire',
        JSON.stringify({ scope_type: 'file', scope_path: 'docs/guide.md', session_id: ids.session }),
      ]);
      expect(acquired.code).toBe(0);
      const next = await stream.waitFor((m) => m.snapshot.locks.some((l: any) => l.scope_path === 'docs/guide.md'));
      expect(next.hash).not.toBe(first.hash);
      // The conflict matrix arrives on its own, a moment later than the ledger sections.
      const withConflicts = await stream.waitFor((m) => m.snapshot.conflicts.report !== null);
      expect(withConflicts.snapshot.conflicts.report.branches.map((b: any) => b.branch)).toContain('codestrator/left');
    } finally {
      stream.close();
    }
  });
});

describe('dashboard actions', () => {
  it('an allowed action runs through the registry and the stream shows its effect', async () => {
    const stream = subscribe(dashboard.port, dashboard.token);
    try {
      await stream.waitFor(() => true);
      const reply = await post({ method: 'merge.main.cancel', params: { request_id: ids.queued, reason: 'cancelled from the dashboard' } });
      expect(reply.status).toBe(200);
      expect(reply.json.result.main_merge_request).toMatchObject({
        id: ids.queued,
        state: 'cancelled',
        reason: 'cancelled: cancelled from the dashboard',
      });
      await stream.waitFor((m) => m.snapshot.queue.some((q: any) => q.id === ids.queued && q.state === 'cancelled'), 5000);
    } finally {
      stream.close();
    }
  });

  it('steers and stops another session’s child as the supervising person (no identity, no force needed)', async () => {
    const directive = await post({
      method: 'thread.child.directive',
      params: { thread_id: ids.thread, mode: 'queue', text: 'Also check the logs.' },
    });
    expect(directive.status).toBe(200);
    expect(directive.json.result).toMatchObject({ mode: 'queue', inbox_message_id: expect.any(Number) });
    const stopped = await post({ method: 'thread.child.stop', params: { thread_id: ids.thread, reason: 'stopped from the dashboard' } });
    expect(stopped.status).toBe(200);
    expect(stopped.json.result.thread).toMatchObject({
      status: 'stopped',
      status_reason: expect.stringContaining('stopped from the dashboard'),
    });
    const after = await request(dashboard.port, '/api/snapshot', { headers: bearer() });
    expect(after.json.snapshot.threads[0]).toMatchObject({ id: ids.thread, status: 'stopped', active: false });
  });

  it('refuses methods off the allow-list with 403 and a structured error', async () => {
    for (const method of ['lock.acquire', 'session.open', 'worktree.remove', 'nope.nothing']) {
      const reply = await post({ method, params: {} });
      expect(reply.status).toBe(403);
      expect(reply.json.error).toMatchObject({ code: 'FORBIDDEN', field: 'method', hint: expect.stringContaining('merge.main.process') });
    }
  });

  it('keeps the structured error shape of validation and domain errors, with a matching status', async () => {
    const invalid = await post({ method: 'merge.main.cancel', params: { request_id: 'one', reason: 'x' } });
    expect(invalid.status).toBe(400);
    expect(invalid.json).toEqual({
      error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('request_id'), field: 'request_id', hint: expect.any(String) },
    });
    const unknownField = await post({ method: 'thread.child.stop', params: { thread_id: 1, bogus: true } });
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'bogus' });
    const missing = await post({ method: 'merge.main.cancel', params: { request_id: 9999, reason: 'x' } });
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ code: 'NOT_FOUND', field: 'request_id' });
    const done = await post({ method: 'merge.main.cancel', params: { request_id: ids.queued, reason: 'again' } });
    expect(done.status).toBe(409);
    expect(done.json.error).toMatchObject({ code: 'PRECONDITION_FAILED', field: 'request_id' });
  });

  it('acts as the supervising person: an agent identity in the params is refused', async () => {
    const reply = await post({ method: 'merge.main.process', params: { session_id: ids.session } });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'session_id' });
  });

  it('refuses malformed requests before they reach the registry', async () => {
    const notJson = await request(dashboard.port, '/api/call', {
      method: 'POST',
      headers: { ...bearer(), 'Content-Type': 'text/plain' },
      body: '{}',
    });
    expect(notJson.status).toBe(415);
    const broken = await request(dashboard.port, '/api/call', {
      method: 'POST',
      headers: { ...bearer(), 'Content-Type': 'application/json' },
      body: '{"method":',
    });
    expect(broken.status).toBe(400);
    expect(broken.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'body' });
    const noMethod = await post({ params: {} });
    expect(noMethod.status).toBe(400);
    expect(noMethod.json.error.field).toBe('method');
    const huge = await post({ method: 'merge.main.cancel', params: { request_id: 1, reason: 'x'.repeat(300_000) } });
    expect(huge.status).toBe(413);
    const wrongVerb = await request(dashboard.port, '/api/call', { headers: bearer() });
    expect(wrongVerb.status).toBe(405);
  });
});

describe('codestrator serve', () => {
  it('prints the URL, serves until SIGTERM, then exits 0', async () => {
    const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--json'], {
      cwd: h.repo.path,
      env: cleanEnv(tmux.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let out = '';
    child.stdout!.on('data', (chunk) => (out += chunk));
    const deadline = Date.now() + 15_000;
    while (!out.includes('\n') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const printed = JSON.parse(out.split('\n')[0]!) as { url: string; token: string; port: number };
    expect(printed.url).toBe(`http://127.0.0.1:${printed.port}/?token=${printed.token}`);
    const stream = subscribe(printed.port, printed.token);
    const first = await stream.waitFor(() => true);
    expect(first.snapshot.sessions[0].id).toBe(ids.session);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The open stream was ended by the server, not left hanging.
    const until = Date.now() + 2000;
    while (!stream.ended() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stream.ended()).toBe(true);
  });

  it('fails with the structured error outside a repository or on a bad port', () => {
    // A timeout, so a serve that wrongly starts fails the test instead of hanging it.
    const serveIn = (cwd: string, args: string[]) => {
      const result = spawnSync(process.execPath, [BIN, 'serve', ...args], { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 15_000 });
      return { code: result.status, error: JSON.parse(result.stderr || '{}') };
    };
    const outside = serveIn('/', []);
    expect(outside.code).toBe(1);
    expect(outside.error).toMatchObject({ error: { code: 'PRECONDITION_FAILED' } });
    const badPort = serveIn(h.repo.path, ['--port', 'http']);
    expect(badPort.code).toBe(1);
    expect(badPort.error).toMatchObject({ error: { code: 'INVALID_ARGUMENT', field: 'port' } });
  });

  it('close() ends the streams and stops listening', async () => {
    const other = await startDashboard({ cwd: h.repo.path, env: cleanEnv(tmux.env) });
    const stream = subscribe(other.port, other.token);
    await stream.waitFor(() => true);
    await other.close();
    const until = Date.now() + 2000;
    while (!stream.ended() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stream.ended()).toBe(true);
    await expect(request(other.port, '/', { headers: { Host: `127.0.0.1:${other.port}` } })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('live feed', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('polls only while a client listens, sends a snapshot only when it changed, and keeps the stream alive', async () => {
    let collects = 0;
    let value = 'first';
    const feed = new LiveFeed({
      collect: async () => {
        collects += 1;
        return { value, conflicts: { report: null, error: null, computed_at: collects } } as any;
      },
      tickMs: 40,
      heartbeatMs: 60,
      log: () => undefined,
    });
    const server = createServer((_req, res) => feed.attach(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      await sleep(200);
      expect(collects).toBe(0);
      const stream = subscribe(port, 'unused');
      await stream.waitFor(() => true);
      await sleep(400);
      // Many ticks, one unchanged snapshot (computed_at of the conflicts is no change).
      expect(collects).toBeGreaterThanOrEqual(4);
      expect(stream.events).toHaveLength(1);
      expect(stream.heartbeats()).toBeGreaterThanOrEqual(2);
      value = 'second';
      const changed = await stream.waitFor((m) => m.snapshot.value === 'second', 2000);
      expect(changed.hash).not.toBe(stream.events[0].hash);
      stream.close();
      await sleep(150);
      const after = collects;
      await sleep(400);
      expect(collects).toBe(after);
    } finally {
      await feed.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
