import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { type McpHandle, connectMcp } from './helpers/mcp.js';
import { RawServer } from './helpers/raw-mcp.js';
import { type TempRepo, git, makeRepo } from './helpers/repo.js';
import { privateTmux } from './helpers/tmux.js';

/**
 * MCP extras over stdio against the built server: the role templates as prompts (a repository
 * override wins), the status snapshot and the Markdown mirror as resources (the rendered mirror is
 * current when read, other files are never overwritten), nothing created where codestrator has no
 * state, proper MCP errors for unknown names, and the same surface for a 2024-11-05 client.
 */

type Json = Record<string, any>;

const ROLES = ['worker', 'merge-reviewer', 'plan-architect', 'doc-mirror-manager', 'reviewer', 'research', 'implementer', 'verifier'];
const TITLES = { epic: 'Extras epic: prompts and resources', case: 'Status resource lists the lock' };

let repo: TempRepo;
let mcp: McpHandle;
let tmux: ReturnType<typeof privateTmux>;
const ids: Record<string, number> = {};
let stateDir: string;

async function ok(tool: string, method: string, params: unknown = {}): Promise<Json> {
  const { isError, data } = await mcp.tool(tool, method, params);
  if (isError) throw new Error(`${method} failed: ${JSON.stringify(data)}`);
  return data;
}

/** The McpError a request must fail with. */
async function mcpError(request: Promise<unknown>): Promise<McpError> {
  const error = await request.then(
    (value) => new Error(`expected an MCP error, got ${JSON.stringify(value)}`),
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(McpError);
  return error as McpError;
}

const promptText = (name: string, args?: Record<string, string>) => promptTextOf(mcp, name, args);

async function promptTextOf(server: McpHandle, name: string, args?: Record<string, string>): Promise<string> {
  const result = await server.client.getPrompt({ name, ...(args ? { arguments: args } : {}) });
  expect(result.messages).toHaveLength(1);
  expect(result.messages[0]!.role).toBe('user');
  const content = result.messages[0]!.content as { type: string; text: string };
  expect(content.type).toBe('text');
  return content.text;
}

const readText = (uri: string) => readTextOf(mcp, uri);

async function readTextOf(server: McpHandle, uri: string): Promise<{ uri: string; mimeType: string; text: string }> {
  const result = await server.client.readResource({ uri });
  expect(result.contents).toHaveLength(1);
  return result.contents[0] as { uri: string; mimeType: string; text: string };
}

beforeAll(async () => {
  tmux = privateTmux();
  repo = makeRepo('extras-repo');
  mcp = await connectMcp(repo.path, tmux.env);
  stateDir = (await ok('orch_session', 'workspace.init')).state_dir;
  ids.session = (await ok('orch_session', 'session.open', { intent: 'new_work', user_request: 'extras test' })).session.id;
  ids.epic = (await ok('orch_task', 'task.create', { level: 'epic', title: TITLES.epic })).task.id;
  ids.feature = (await ok('orch_task', 'task.create', { level: 'feature', title: 'Extras feature', parent_id: ids.epic })).task.id;
  ids.group = (await ok('orch_task', 'task.create', { level: 'test_group', title: 'Extras group', parent_id: ids.feature })).task.id;
  ids.case = (
    await ok('orch_task', 'task.create', { level: 'case', title: TITLES.case, parent_id: ids.group, steps: ['read', 'check'] })
  ).task.id;
  await ok('orch_task', 'case.begin', { case_id: ids.case });
  ids.lock = (await ok('orch_workspace', 'lock.acquire', { scope_type: 'prefix', scope_path: 'src/extras', ttl_seconds: 3600 })).lock.id;
  const child = await ok('orch_thread', 'thread.child.spawn', {
    runner: 'command',
    command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    title: 'extras child',
  });
  ids.thread = child.thread.id;
  await ok('orch_thread', 'thread.child.stop', { thread_id: ids.thread, terminate_pane: true });
  ids.queue = (await ok('orch_merge', 'merge.main.request', {})).main_merge_request.id;
}, 60_000);

afterAll(async () => {
  await mcp?.close();
  tmux?.kill();
  repo?.cleanup();
});

describe('prompts: one per role template', () => {
  it('prompts/list names every role, described from its template, with its arguments', async () => {
    const { prompts } = await mcp.client.listPrompts();
    expect(prompts.map((prompt) => prompt.name)).toEqual(ROLES);
    const worker = prompts.find((prompt) => prompt.name === 'worker')!;
    expect(worker.description).toBe('You are a codestrator worker run by the ROOT orchestrator. Do only the assigned case.');
    expect(worker.arguments!.map((arg) => arg.name)).toEqual([
      'task_id',
      'assignment',
      'worktree_path',
      'branch',
      'thread_id',
      'session_id',
    ]);
    expect(worker.arguments!.every((arg) => arg.required === false)).toBe(true);
    const reviewer = prompts.find((prompt) => prompt.name === 'merge-reviewer')!;
    expect(reviewer.arguments!.map((arg) => arg.name)).toContain('merge_request_id');
  });

  it('prompts/get without arguments: the shipped template, placeholders kept, an empty assignment', async () => {
    const template = readFileSync(join(ROOT, 'templates', 'roles', 'worker.md'), 'utf8').trimEnd();
    const text = await promptText('worker');
    expect(text.startsWith(template)).toBe(true);
    expect(text).toContain('{{worktree_path}}');
    const assignment = JSON.parse(text.slice(text.indexOf('ASSIGNMENT\n') + 'ASSIGNMENT\n'.length)) as Json;
    expect(assignment).toEqual({ title: null, objective: null, task_spec: null, scope_task_ids: [], scope_case_ids: [] });
  });

  it('prompts/get with a case, an objective and placeholders: the text a worker child receives', async () => {
    const text = await promptText('worker', {
      task_id: String(ids.case),
      assignment: 'Make the status resource list locks.',
      worktree_path: '/tmp/wt',
      branch: 'codestrator/extras',
    });
    expect(text).toContain('Work only inside your worktree: /tmp/wt (branch codestrator/extras).');
    expect(text).toContain('You act as thread {{thread_id}} of session {{session_id}}');
    const assignment = JSON.parse(text.slice(text.indexOf('ASSIGNMENT\n') + 'ASSIGNMENT\n'.length)) as Json;
    expect(assignment).toEqual({
      title: TITLES.case,
      objective: 'Make the status resource list locks.',
      task_spec: null,
      scope_task_ids: [],
      scope_case_ids: [ids.case],
    });
  });

  it('a JSON assignment is the task_spec and fills the placeholders', async () => {
    const text = await promptText('merge-reviewer', { assignment: '{"merge_request_id": 7}', task_id: String(ids.feature) });
    expect(text).toContain('merge.review_context {"merge_request_id": 7}');
    const assignment = JSON.parse(text.slice(text.indexOf('ASSIGNMENT\n') + 'ASSIGNMENT\n'.length)) as Json;
    expect(assignment).toMatchObject({ title: 'Extras feature', task_spec: { merge_request_id: 7 }, scope_task_ids: [ids.feature] });
  });

  it("the repository's override in .codestrator/templates/ wins, in the list and in the text", async () => {
    mkdirSync(join(stateDir, 'templates'), { recursive: true });
    writeFileSync(join(stateDir, 'templates', 'reviewer.md'), '# Project reviewer\nROLE: Review only {{focus}}; never edit.\n');
    try {
      const { prompts } = await mcp.client.listPrompts();
      const reviewer = prompts.find((prompt) => prompt.name === 'reviewer')!;
      expect(reviewer.description).toBe('Project reviewer');
      expect(reviewer.arguments!.map((arg) => arg.name)).toEqual(['task_id', 'assignment', 'focus']);
      const text = await promptText('reviewer', { focus: 'the SQL migrations' });
      expect(text.startsWith('# Project reviewer\nROLE: Review only the SQL migrations; never edit.\n\nASSIGNMENT\n')).toBe(true);
      expect(text).not.toContain('You are a sub-agent run by the ORCHESTRATOR');
      // Other roles still come from the package.
      expect(await promptText('research')).toContain('Find and summarise reliable information.');
    } finally {
      rmSync(join(stateDir, 'templates', 'reviewer.md'));
    }
  });

  it('unknown prompt, unknown argument, bad or missing task: InvalidParams with a clear message', async () => {
    const unknown = await mcpError(mcp.client.getPrompt({ name: 'janitor' }));
    expect(unknown.code).toBe(-32602);
    expect(unknown.message).toContain('Unknown prompt "janitor". Prompts: worker, merge-reviewer');
    const extra = await mcpError(mcp.client.getPrompt({ name: 'worker', arguments: { colour: 'red' } }));
    expect(extra.code).toBe(-32602);
    expect(extra.message).toContain('Prompt worker does not take "colour". Arguments: task_id, assignment, worktree_path');
    const badId = await mcpError(mcp.client.getPrompt({ name: 'worker', arguments: { task_id: '4; rm' } }));
    expect(badId.code).toBe(-32602);
    expect(badId.message).toContain('task_id must be a positive integer');
    const missing = await mcpError(mcp.client.getPrompt({ name: 'worker', arguments: { task_id: '999999' } }));
    expect(missing.code).toBe(-32602);
    expect(missing.message).toContain('Task 999999 does not exist.');
    const badJson = await mcpError(mcp.client.getPrompt({ name: 'worker', arguments: { assignment: '{"oops": ' } }));
    expect(badJson.code).toBe(-32602);
    expect(badJson.message).toContain('is not valid JSON');
  });
});

describe('resources: the status snapshot and the mirror', () => {
  it('resources/list: the status and the mirror files', async () => {
    const { resources } = await mcp.client.listResources();
    expect(resources.map((resource) => [resource.uri, resource.mimeType])).toEqual([
      ['codestrator://status', 'application/json'],
      ['codestrator://mirror/status.md', 'text/markdown'],
    ]);
    const { resourceTemplates } = await mcp.client.listResourceTemplates();
    expect(resourceTemplates).toEqual([]);
  });

  it('codestrator://status: sessions, the case in progress, the lock, the thread and the queue', async () => {
    const content = await readText('codestrator://status');
    expect(content.mimeType).toBe('application/json');
    const status = JSON.parse(content.text) as Json;
    expect(status.sessions).toEqual([
      expect.objectContaining({ id: ids.session, status: 'active', live: true, user_request: 'extras test' }),
    ]);
    expect(status.cases_in_progress).toEqual([
      { id: ids.case, title: TITLES.case, owner_key: `session:${ids.session}`, parent_id: ids.group, started_at: expect.any(Number) },
    ]);
    expect(status.locks).toEqual([
      expect.objectContaining({ id: ids.lock, scope_type: 'prefix', scope_path: 'src/extras', owner_key: `session:${ids.session}` }),
    ]);
    expect(status.threads).toEqual([
      expect.objectContaining({ id: ids.thread, session_id: ids.session, runner: 'command', status: 'stopped' }),
    ]);
    expect(status.queue).toEqual([expect.objectContaining({ id: ids.queue, state: 'queued' })]);
    expect(typeof status.ledger_version).toBe('number');
  });

  it('a server acting as no session sees every open session’s threads', async () => {
    const observer = await connectMcp(repo.path, tmux.env);
    try {
      const result = await observer.client.readResource({ uri: 'codestrator://status' });
      const status = JSON.parse((result.contents[0] as { text: string }).text) as Json;
      expect(status.threads.map((thread: Json) => thread.id)).toEqual([ids.thread]);
      expect(status.locks.map((lock: Json) => lock.id)).toEqual([ids.lock]);
    } finally {
      await observer.close();
    }
  });

  it('codestrator://mirror/status.md is current when read, and written to disk', async () => {
    const first = await readText('codestrator://mirror/status.md');
    expect(first.mimeType).toBe('text/markdown');
    expect(first.text).toContain(TITLES.epic);
    const path = join(stateDir, 'mirror', 'status.md');
    expect(readFileSync(path, 'utf8')).toBe(first.text);
    // A change to the ledger after the last render shows up on the next read.
    await ok('orch_task', 'task.create', { level: 'epic', title: 'Epic created after the first read' });
    const second = await readText('codestrator://mirror/status.md');
    expect(second.text).toContain('Epic created after the first read');
    expect((await ok('orch_system', 'mirror.status')).outdated).toBe(false);
  });

  it('the last render target is brought up to date; any other Markdown file is served as it is, never overwritten', async () => {
    const mirrorDir = join(stateDir, 'mirror');
    await ok('orch_system', 'mirror.refresh', { requester_role: 'doc-mirror-manager', target_path: 'teams/backend notes.md' });
    mkdirSync(join(mirrorDir, 'people'), { recursive: true });
    const handwritten = '# Our notes\n\nKept by hand; codestrator must not touch this.\n';
    writeFileSync(join(mirrorDir, 'people', 'notes.md'), handwritten);
    const { resources } = await mcp.client.listResources();
    expect(resources.map((resource) => resource.uri)).toEqual([
      'codestrator://status',
      'codestrator://mirror/people/notes.md',
      'codestrator://mirror/status.md',
      'codestrator://mirror/teams/backend%20notes.md',
    ]);
    // teams/backend notes.md is what mirror.refresh rendered last: reading it brings it up to date.
    await ok('orch_task', 'task.create', { level: 'epic', title: 'Epic for the notes file' });
    const notes = await readText('codestrator://mirror/teams/backend%20notes.md');
    expect(notes.text).toContain('Epic for the notes file');
    expect(readFileSync(join(mirrorDir, 'teams', 'backend notes.md'), 'utf8')).toBe(notes.text);
    // The ledger has not moved since, but status.md was rendered before that epic: it is rendered again.
    expect((await ok('orch_system', 'mirror.status')).outdated).toBe(false);
    expect((await readText('codestrator://mirror/status.md')).text).toContain('Epic for the notes file');
    // With the ledger moved on, neither the hand-written file nor the old render target is written.
    await ok('orch_task', 'task.create', { level: 'epic', title: 'Epic after the notes' });
    const kept = await readText('codestrator://mirror/people/notes.md');
    expect(kept).toEqual({ uri: 'codestrator://mirror/people/notes.md', mimeType: 'text/markdown', text: handwritten });
    expect(readFileSync(join(mirrorDir, 'people', 'notes.md'), 'utf8')).toBe(handwritten);
    const stale = await readText('codestrator://mirror/teams/backend%20notes.md');
    expect(stale.text).toBe(notes.text);
    expect(stale.text).not.toContain('Epic after the notes');
    const status = await ok('orch_system', 'mirror.status');
    expect(status).toMatchObject({ outdated: true, md_path: join(mirrorDir, 'status.md') });
  });

  it('unknown resources: "resource not found" (-32002) naming the URI, and nothing is written', async () => {
    for (const uri of [
      'codestrator://nothing',
      'codestrator://mirror/missing.md',
      'codestrator://mirror/../state.db',
      'codestrator://mirror/%2e%2e/state.db',
      'codestrator://mirror/teams%2Fbackend%20notes.md',
      'codestrator://mirror/%E0%A4%A.md',
      'file:///etc/passwd',
    ]) {
      const error = await mcpError(mcp.client.readResource({ uri }));
      expect(error.code, uri).toBe(-32002);
      expect(error.message).toContain(`Unknown resource ${JSON.stringify(uri)}`);
      expect(error.data).toEqual({ uri });
    }
    expect(existsSync(join(stateDir, 'mirror', 'missing.md'))).toBe(false);
  });
});

describe('where codestrator has no state, listing and reading create none', () => {
  const NO_STATE_STATUS = {
    initialized: false,
    ledger_version: null,
    sessions: [],
    cases_in_progress: [],
    locks: [],
    threads: [],
    queue: [],
  };

  it('in a fresh repository: shipped prompts, the status resource only, an empty snapshot, no .codestrator/', async () => {
    const fresh = makeRepo('fresh-repo');
    const exclude = join(fresh.path, '.git', 'info', 'exclude');
    const excludeBefore = readFileSync(exclude, 'utf8');
    const noState = () => {
      expect(existsSync(join(fresh.path, '.codestrator'))).toBe(false);
      expect(readFileSync(exclude, 'utf8')).toBe(excludeBefore);
      expect(git(fresh.path, 'status', '--porcelain', '--ignored')).toBe('');
    };
    const client = await connectMcp(fresh.path, tmux.env);
    try {
      // What Claude Code and Gemini do on connect.
      const { prompts } = await client.client.listPrompts();
      const { resources } = await client.client.listResources();
      noState();
      expect(prompts.map((prompt) => prompt.name)).toEqual(ROLES);
      expect(resources.map((resource) => resource.uri)).toEqual(['codestrator://status']);
      expect(resources[0]!.description).toContain('initialized: false');
      expect(await promptTextOf(client, 'worker')).toContain('You are a codestrator worker');
      const missingTask = await mcpError(client.client.getPrompt({ name: 'worker', arguments: { task_id: '1' } }));
      expect(missingTask.code).toBe(-32602);
      expect(missingTask.message).toContain('Task 1 does not exist: codestrator has no state in this repository yet');
      const status = JSON.parse((await readTextOf(client, 'codestrator://status')).text) as Json;
      expect(status).toMatchObject(NO_STATE_STATUS);
      expect(status.hint).toContain(`${join(fresh.path, '.codestrator')} does not exist`);
      expect(status.hint).toContain('workspace.init');
      const mirror = await mcpError(client.client.readResource({ uri: 'codestrator://mirror/status.md' }));
      expect(mirror.code).toBe(-32002);
      expect(mirror.message).toContain('Resources: codestrator://status only: codestrator has no state');
      noState();
      // Once the state exists (here through this server's own workspace.init), the same server sees it.
      expect((await client.tool('orch_session', 'workspace.init')).isError).toBe(false);
      const after = await client.client.listResources();
      expect(after.resources.map((resource) => resource.uri)).toEqual(['codestrator://status', 'codestrator://mirror/status.md']);
      expect(JSON.parse((await readTextOf(client, 'codestrator://status')).text)).toMatchObject({ initialized: true, sessions: [] });
    } finally {
      await client.close();
      fresh.cleanup();
    }
  });

  it('outside any repository: prompts/list works, resources/list lists status, whose snapshot says why', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-norepo-')));
    const client = await connectMcp(dir, tmux.env);
    try {
      const { prompts } = await client.client.listPrompts();
      expect(prompts.map((prompt) => prompt.name)).toEqual(ROLES);
      expect(prompts[0]!.description).toBe('You are a codestrator worker run by the ROOT orchestrator. Do only the assigned case.');
      expect(await promptTextOf(client, 'verifier')).toContain('Verify the deliverable meets the goal');
      const { resources } = await client.client.listResources();
      expect(resources.map((resource) => resource.uri)).toEqual(['codestrator://status']);
      const status = JSON.parse((await readTextOf(client, 'codestrator://status')).text) as Json;
      expect(status).toMatchObject(NO_STATE_STATUS);
      expect(status.hint).toContain(`${dir} is not inside a git repository`);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a 2024-11-05 client', () => {
  it('sees the prompts and resources capabilities and can use both', async () => {
    const server = new RawServer(repo.path, tmux.env);
    try {
      const init = await server.request(1, 'initialize', {
        protocolVersion: '2024-11-05',
        capabilities: {},
        clientInfo: { name: 'old-client', version: '0.0.0' },
      });
      expect(init.result.protocolVersion).toBe('2024-11-05');
      expect(init.result.capabilities).toMatchObject({ tools: {}, prompts: {}, resources: {} });
      server.notify('notifications/initialized');
      const prompts = await server.request(2, 'prompts/list', {});
      expect(prompts.result.prompts.map((prompt: Json) => prompt.name)).toEqual(ROLES);
      const prompt = await server.request(3, 'prompts/get', { name: 'verifier' });
      expect(prompt.result.messages[0].content.text).toContain('Verify the deliverable meets the goal');
      const resources = await server.request(4, 'resources/list', {});
      expect(resources.result.resources.map((resource: Json) => resource.uri)).toContain('codestrator://status');
      const read = await server.request(5, 'resources/read', { uri: 'codestrator://status' });
      expect(JSON.parse(read.result.contents[0].text).locks[0].id).toBe(ids.lock);
      const unknown = await server.request(6, 'prompts/get', { name: 'janitor' });
      expect(unknown.error.code).toBe(-32602);
    } finally {
      await server.close();
    }
  });
});
