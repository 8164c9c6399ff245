import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import Database from 'better-sqlite3';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type McpHandle, connectMcp } from './helpers/mcp.js';
import { RawServer } from './helpers/raw-mcp.js';
import { type TempRepo, git, makeRepo } from './helpers/repo.js';
import type { CallError as WireError } from './helpers/dispatch.js';

/**
 * Bad input through MCP: every mistake comes back as a structured error naming the field, and
 * writes nothing. Hostile strings are stored verbatim or slugged safely, never run. The tool
 * surface (tools/list, system.describe) and the protocol versions a client may speak.
 */

type Json = Record<string, unknown>;

const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const TOOLS = [
  'orch_session',
  'orch_task',
  'orch_graph',
  'orch_workspace',
  'orch_thread',
  'orch_lifecycle',
  'orch_merge',
  'orch_inbox',
  'orch_system',
  'orchestrator.call',
];
const HOSTILE = ['$(touch pwned)', '--help', '"; rm -rf / #', "'quoted'", '로그인 버그 수정', 'café ünïcode', '`touch pwned`; touch pwned'];

let repo: TempRepo;
let mcp: McpHandle;
let dbPath: string;

beforeAll(async () => {
  repo = makeRepo('errors-repo');
  mcp = await connectMcp(repo.path);
  const init = await mcp.tool('orch_session', 'workspace.init');
  expect(init.isError).toBe(false);
  dbPath = init.data.db_path as string;
});

afterAll(async () => {
  await mcp?.close();
  repo?.cleanup();
});

async function ok(tool: string, method: string, params: unknown = {}): Promise<Json> {
  const { isError, data } = await mcp.tool(tool, method, params);
  if (isError) throw new Error(`${method} failed: ${JSON.stringify(data)}`);
  return data;
}

/** Calls a tool with raw arguments and returns the structured error it must produce. */
async function rawFailure(name: string, args: Record<string, unknown>): Promise<WireError> {
  const result = await mcp.client.callTool({ name, arguments: args });
  expect(result.isError, `${name} ${JSON.stringify(args)} should fail, got ${JSON.stringify(result.structuredContent)}`).toBe(true);
  const content = result.structuredContent as { error?: WireError };
  expect(content.error).toBeDefined();
  // The text content mirrors structuredContent for clients that read only text.
  const text = (result.content as { type: string; text: string }[])[0]!;
  expect(JSON.parse(text.text)).toEqual(content);
  return content.error!;
}

const failure = (tool: string, method: string, params: unknown) => rawFailure(tool, { method, params });

/** Row counts of the tables a mistaken call could write to, plus the ledger version. */
function snapshot() {
  const db = new Database(dbPath, { readonly: true, timeout: 10_000 });
  try {
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      tasks: count('tasks'),
      sessions: count('sessions'),
      worktrees: count('worktrees'),
      steps: count('steps'),
      checkpoints: count('checkpoints'),
      audit_events: count('audit_events'),
      ledger_version: (db.prepare('SELECT ledger_version FROM meta WHERE id = 1').get() as { ledger_version: number }).ledger_version,
      worktree_dirs: readdirSync(join(repo.path, '.codestrator', 'worktrees')).length,
    };
  } finally {
    db.close();
  }
}

/** Every path under dir (recursively) whose name is `name`. */
function findNamed(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((entry) => basename(entry) === name).map((entry) => join(dir, entry));
}

describe('bad input gives structured errors and writes nothing', () => {
  let before: ReturnType<typeof snapshot>;

  beforeAll(async () => {
    // Something in the ledger, so "nothing written" is measured against a non-empty state.
    await ok('orch_task', 'task.create', { level: 'epic', title: 'baseline epic' });
    expect(snapshot().tasks).toBe(1);
  });

  // Each test compares against the state just before it, so one leak does not fail the others.
  beforeEach(() => {
    before = snapshot();
  });

  it('unknown method: field method, and a hint with the close name', async () => {
    const error = await failure('orch_task', 'task.craete', { level: 'epic', title: 'typo' });
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'method' });
    expect(error.message).toContain('task.craete');
    expect(error.hint).toContain('task.create');
    const legacy = await failure('orchestrator.call', 'case.begni', { case_id: 1 });
    expect(legacy).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'method' });
    expect(legacy.hint).toContain('case.begin');
    const described = await failure('orch_system', 'system.describe', { method: 'step.chek' });
    expect(described).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'method' });
    expect(described.hint).toContain('step.check');
    expect(snapshot()).toEqual(before);
  });

  it('a method sent to the wrong group tool is refused and names the right tool', async () => {
    const error = await failure('orch_session', 'task.create', { level: 'epic', title: 'wrong tool' });
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'method' });
    expect(error.message).toContain('orch_task');
    expect(error.hint).toContain('orch_task');
    // A mutating method with side effects outside the database (a worktree) is refused before it runs.
    const open = await failure('orch_task', 'session.open', { intent: 'new_work', user_request: 'must not open' });
    expect(open).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'method' });
    expect(open.hint).toContain('orch_session');
    expect(snapshot()).toEqual(before);
  });

  it('an unknown tool name is refused with the list of tools, as the JSON-RPC invalid-params error the MCP spec lists', async () => {
    const refused = await mcp.client
      .callTool({ name: 'orch_tasks', arguments: { method: 'task.create', params: { level: 'epic', title: 'no such tool' } } })
      .then(
        (result) => ({ result }),
        (err: { code?: number; message?: string; data?: WireError }) => ({ err }),
      );
    expect('err' in refused, JSON.stringify(refused)).toBe(true);
    const { err } = refused as { err: { code?: number; message?: string; data?: WireError } };
    expect(err.code).toBe(-32602);
    expect(err.message).toContain('orch_tasks');
    expect(err.data).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'name' });
    expect(err.data!.hint).toContain('orch_task');
    expect(err.data!.hint).toContain('orchestrator.call');
    const extra = await rawFailure('orch_task', { method: 'task.create', params: { level: 'epic', title: 'x' }, level: 'epic' });
    expect(extra).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'level' });
    const noMethod = await rawFailure('orch_task', { params: { level: 'epic', title: 'x' } });
    expect(noMethod).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'method' });
    expect(snapshot()).toEqual(before);
  });

  it('an unknown field is named', async () => {
    const error = await failure('orch_task', 'task.create', { level: 'epic', title: 'x', colour: 'red' });
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'colour' });
    expect(error.message).toContain('colour');
    expect(error.hint).toContain('level, title');
    const nested = await failure('orch_task', 'case.begin', { case_id: 1, caseId: 1 });
    expect(nested).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'caseId' });
    expect(snapshot()).toEqual(before);
  });

  it('a wrong type is named', async () => {
    expect(await failure('orch_task', 'task.create', { level: 'epic', title: 42 })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'title',
    });
    expect(await failure('orch_task', 'task.get', { task_id: '1' })).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'task_id' });
    expect(await failure('orch_task', 'task.create', { level: 'saga', title: 'x' })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'level',
    });
    expect(await failure('orch_task', 'task.create', { level: 'epic', title: 'x', priority: 1.5 })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'priority',
    });
    expect(await failure('orch_task', 'task.create', { level: 'case', title: 'x', parent_id: 1, steps: ['ok', 7] })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'steps.1',
    });
    expect(await failure('orch_task', 'task.create', { level: 'epic', title: '   ' })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'title',
    });
    expect(snapshot()).toEqual(before);
  });

  it('a missing required field is named', async () => {
    const title = await failure('orch_task', 'task.create', { level: 'epic' });
    expect(title).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'title' });
    expect(await failure('orch_task', 'task.create', { title: 'x' })).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'level' });
    expect(await failure('orch_task', 'task.get', {})).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'task_id' });
    expect(await failure('orch_task', 'task.create', { level: 'feature', title: 'no parent' })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'parent_id',
    });
    expect(snapshot()).toEqual(before);
  });

  it('an id that does not exist is NOT_FOUND, naming the field', async () => {
    const get = await failure('orch_task', 'task.get', { task_id: 987_654 });
    expect(get).toMatchObject({ code: 'NOT_FOUND', field: 'task_id' });
    expect(get.message).toContain('987654');
    expect(await failure('orch_task', 'task.create', { level: 'feature', title: 'orphan', parent_id: 987_654 })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'parent_id',
    });
    expect(await failure('orch_task', 'task.update', { task_id: 987_654, title: 'x' })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'task_id',
    });
    expect(await failure('orch_task', 'task.create', { level: 'epic', title: 'x', session_id: 987_654 })).toMatchObject({
      code: 'NOT_FOUND',
      field: 'session_id',
    });
    expect(snapshot()).toEqual(before);
  });

  it('params that are not an object are refused', async () => {
    for (const params of ['level=epic', 42, ['epic', 'x'], true]) {
      const error = await failure('orch_task', 'task.create', params);
      expect(error, JSON.stringify(params)).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'params' });
      expect(error.hint).toContain('system.describe');
    }
    expect(snapshot()).toEqual(before);
  });
});

describe('hostile strings', () => {
  it('titles, descriptions and step titles are stored verbatim', async () => {
    for (const text of HOSTILE) {
      const epic = (await ok('orch_task', 'task.create', { level: 'epic', title: text, description: `${text}\n${text}` })).task as Json;
      const read = (await ok('orch_task', 'task.get', { task_id: epic.id })).task as Json;
      expect(read.title).toBe(text);
      expect(read.description).toBe(`${text}\n${text}`);
    }
    const feature = (await ok('orch_task', 'task.create', { level: 'feature', title: HOSTILE[0], parent_id: 1 })).task as Json;
    const group = (await ok('orch_task', 'task.create', { level: 'test_group', title: HOSTILE[1], parent_id: feature.id })).task as Json;
    const created = (await ok('orch_task', 'task.create', { level: 'case', title: HOSTILE[2], parent_id: group.id, steps: HOSTILE }))
      .task as Json;
    const read = (await ok('orch_task', 'task.get', { task_id: created.id })).task as Json;
    expect(read.steps).toEqual(HOSTILE);
    const listed = (await ok('orch_task', 'task.list', { level: 'epic', limit: 500 })).items as Json[];
    for (const text of HOSTILE) expect(listed.map((task) => task.title)).toContain(text);
  });

  it('worktree names and requests become safe slugs; the request is stored verbatim', async () => {
    const slugs = new Set<string>();
    for (const [index, text] of HOSTILE.entries()) {
      const params = index % 2 === 0 ? { intent: 'new_work', worktree_name: text } : { intent: 'new_work', user_request: text };
      const opened = await ok('orch_session', 'session.open', params);
      const slug = opened.worktree_slug as string;
      expect(slug, text).toMatch(SLUG);
      expect(slug, text).not.toMatch(/^work(-|$)/);
      expect(slugs.has(slug), `${slug} reused`).toBe(false);
      slugs.add(slug);
      const wt = opened.worktree as Json;
      expect(wt.branch).toBe(`codestrator/${slug}`);
      expect(basename(wt.path as string)).toBe(slug);
      expect(dirname(wt.path as string)).toBe(join(repo.path, '.codestrator', 'worktrees'));
      expect(statSync(wt.path as string).isDirectory()).toBe(true);
      expect(git(repo.path, 'branch', '--list', `codestrator/${slug}`)).toContain(`codestrator/${slug}`);
      if ('user_request' in params) expect((opened.session as Json).user_request).toBe(text);
    }
    expect(git(repo.path, 'status', '--porcelain')).toBe('');
  });

  it('Korean is romanized into the slug, not reduced to a bare work name', async () => {
    const opened = await ok('orch_session', 'session.open', { intent: 'new_work', worktree_name: '로그인 버그 수정' });
    const slug = opened.worktree_slug as string;
    expect(slug).toMatch(SLUG);
    expect(slug).not.toMatch(/^work(-|$)/);
    // Revised Romanization: 로그인 → rogeuin, 버그 → beogeu.
    expect(slug).toMatch(/^rogeuin-beogeu(-\d+)?$/);
  });

  it('accents are stripped into the slug', async () => {
    const opened = await ok('orch_session', 'session.open', { intent: 'new_work', user_request: 'café ünïcode' });
    expect(opened.worktree_slug).toMatch(/^cafe-unicode(-\d+)?$/);
  });

  it('no file named pwned appears anywhere', () => {
    // The temp dir holds the repository, its state dir and every worktree.
    expect(findNamed(dirname(repo.path), 'pwned')).toEqual([]);
    // The test's own working directory (where a shell would have run), and its test directory.
    expect(existsSync(join(process.cwd(), 'pwned'))).toBe(false);
    expect(findNamed(join(process.cwd(), 'test'), 'pwned')).toEqual([]);
    expect(git(repo.path, 'status', '--porcelain')).toBe('');
  });
});

describe('tool surface', () => {
  it('tools/list: exactly the nine orch_* tools and orchestrator.call, each taking {method, params}', async () => {
    const { tools } = await mcp.client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([...TOOLS].sort());
    for (const tool of tools) {
      const schema = tool.inputSchema as { type: string; properties: Json; required?: string[] };
      expect(schema.type, tool.name).toBe('object');
      expect(Object.keys(schema.properties).sort(), tool.name).toEqual(['method', 'params']);
      expect(schema.required, tool.name).toEqual(['method']);
      expect(typeof tool.description, tool.name).toBe('string');
    }
    // Each group tool's method enum is exactly the methods system.describe files under it.
    const listed = (await ok('orch_system', 'system.describe')).items as { method: string; tool: string }[];
    for (const tool of tools.filter((t) => t.name !== 'orchestrator.call')) {
      const expected = listed.filter((item) => item.tool === tool.name).map((item) => item.method);
      const method = (tool.inputSchema.properties as { method: { enum?: string[] } }).method;
      expect(method.enum ?? [], tool.name).toEqual(expected);
    }
  });

  it('tools/list stays small: at most 16 KiB in all, at most 2,000 characters per description (Claude Code cuts at 2,048)', async () => {
    const { tools } = await mcp.client.listTools();
    expect(Buffer.byteLength(JSON.stringify(tools))).toBeLessThanOrEqual(16 * 1024);
    for (const tool of tools) expect(tool.description!.length, tool.name).toBeLessThanOrEqual(2000);
  });

  it('orchestrator.call takes any method', async () => {
    const init = await ok('orchestrator.call', 'workspace.init');
    expect(init.db_path).toBe(dbPath);
    const created = (await ok('orchestrator.call', 'task.create', { level: 'epic', title: 'via legacy' })).task as Json;
    expect(((await ok('orchestrator.call', 'task.get', { task_id: created.id })).task as Json).title).toBe('via legacy');
    expect((await ok('orchestrator.call', 'mirror.status')).outdated).toBe(true);
    expect((await ok('orchestrator.call', 'system.describe', { method: 'lock.acquire' })).tool).toBe('orch_workspace');
    expect(((await ok('orchestrator.call', 'session.list')).items as Json[]).length).toBeGreaterThan(0);
  });

  it('system.describe case.begin: params JSON Schema with case_id, and an example call', async () => {
    const described = await ok('orch_system', 'system.describe', { method: 'case.begin' });
    expect(described).toMatchObject({ method: 'case.begin', tool: 'orch_task', mutates: true });
    const schema = described.params_schema as { type: string; properties: Json; required: string[] };
    expect(schema.type).toBe('object');
    expect(schema.properties.case_id).toMatchObject({ type: 'integer' });
    expect(schema.required).toContain('case_id');
    const example = described.example as { tool: string; arguments: { method: string; params: Json } };
    expect(example.tool).toBe('orch_task');
    expect(example.arguments.method).toBe('case.begin');
    expect(typeof example.arguments.params.case_id).toBe('number');
  });

  it("every method's example is present and validates against its params schema", async () => {
    const listed = await ok('orch_system', 'system.describe');
    const items = listed.items as { method: string; tool: string }[];
    expect(listed.count).toBe(items.length);
    expect(items.length).toBeGreaterThan(30);
    const validator = new AjvJsonSchemaValidator();
    for (const item of items) {
      const described = await ok('orch_system', 'system.describe', { method: item.method });
      expect(described.tool, item.method).toBe(item.tool);
      const example = described.example as { tool: string; arguments: { method: string; params: unknown } } | undefined;
      expect(example, item.method).toBeDefined();
      expect(example!.tool, item.method).toBe(item.tool);
      expect(example!.arguments.method, item.method).toBe(item.method);
      const validate = validator.getValidator(described.params_schema as never);
      const verdict = validate(example!.arguments.params);
      expect(verdict.errorMessage, item.method).toBeUndefined();
      expect(verdict.valid, item.method).toBe(true);
      // The validator is not vacuous: an unknown field fails the same schema.
      expect(validate({ ...(example!.arguments.params as Json), not_a_field: 1 }).valid, item.method).toBe(false);
    }
  });

  it('every example also passes the server-side validation when called as documented', async () => {
    // A separate repository, so examples that open sessions or write the mirror touch nothing above.
    const scratch = makeRepo('examples-repo');
    const client = await connectMcp(scratch.path);
    try {
      const items = (await client.tool('orch_system', 'system.describe')).data.items as { method: string }[];
      for (const { method } of items) {
        const example = (await client.tool('orch_system', 'system.describe', { method })).data.example as {
          tool: string;
          arguments: { method: string; params: unknown };
        };
        const result = await client.client.callTool({ name: example.tool, arguments: example.arguments });
        if (!result.isError) continue;
        const error = (result.structuredContent as { error: WireError }).error;
        // Failing for the state of an empty ledger (NOT_FOUND, no caller) is fine; failing validation is not.
        expect(error.hint ?? '', `${method}: ${JSON.stringify(error)}`).not.toMatch(/^Expected params/);
        expect(error.field, `${method}: ${JSON.stringify(error)}`).not.toBe('params');
        expect(['INVALID_ARGUMENT', 'NOT_FOUND', 'PRECONDITION_FAILED', 'CONFLICT', 'NOT_OWNER'], method).toContain(error.code);
      }
    } finally {
      await client.close();
      scratch.cleanup();
    }
  });
});

describe('protocol versions over raw JSON-RPC', () => {
  const versions = [...new Set(['2024-11-05', '2025-03-26', '2025-06-18', LATEST_PROTOCOL_VERSION])];

  for (const version of versions) {
    it(`initialize ${version} → tools/list → tools/call workspace.init`, async () => {
      const server = new RawServer(repo.path);
      try {
        const init = await server.request(1, 'initialize', {
          protocolVersion: version,
          capabilities: {},
          clientInfo: { name: 'raw-test', version: '0.0.0' },
        });
        expect(init.error, JSON.stringify(init.error)).toBeUndefined();
        const result = init.result as { protocolVersion: string; serverInfo: Json; capabilities: Json; instructions?: string };
        expect(result.protocolVersion).toBe(version);
        expect(result.serverInfo.name).toBe('codestrator');
        expect(result.capabilities.tools).toBeDefined();
        expect(result.instructions).toContain('work.current_ref');
        server.notify('notifications/initialized');

        const list = await server.request(2, 'tools/list', {});
        const tools = (list.result as { tools: { name: string }[] }).tools;
        expect(tools.map((tool) => tool.name).sort()).toEqual([...TOOLS].sort());

        const called = await server.request(3, 'tools/call', {
          name: 'orch_session',
          arguments: { method: 'workspace.init', params: {} },
        });
        expect(called.error, JSON.stringify(called.error)).toBeUndefined();
        const body = called.result as { structuredContent: Json; content: { type: string; text: string }[]; isError?: boolean };
        expect(body.isError ?? false).toBe(false);
        expect(body.structuredContent).toMatchObject({ repo_path: repo.path, db_path: dbPath, main_branch: 'main' });
        expect(body.content[0]!.type).toBe('text');
        expect(JSON.parse(body.content[0]!.text)).toEqual(body.structuredContent);
      } finally {
        expect(await server.close()).toBe(0);
      }
    });
  }

  it('an unknown protocol version is answered with a version the server supports', async () => {
    const server = new RawServer(repo.path);
    try {
      const init = await server.request(1, 'initialize', {
        protocolVersion: '1999-01-01',
        capabilities: {},
        clientInfo: { name: 'raw-test', version: '0.0.0' },
      });
      expect((init.result as { protocolVersion: string }).protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    } finally {
      await server.close();
    }
  });
});
