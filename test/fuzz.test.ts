import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../src/app/services.js';
import type { Dispatcher } from '../src/registry/dispatch.js';
import { cleanEnv } from './helpers/cli.js';
import { type McpHandle, connectMcp } from './helpers/mcp.js';
import { type TempRepo, makeRepo } from './helpers/repo.js';
import { privateTmux } from './helpers/tmux.js';

/**
 * Every method of the registry, each field in turn given hostile values (huge, deeply nested,
 * NUL, control characters, path traversal, shell text, prototype keys), over the in-process
 * dispatcher, and a sample over MCP against the built server: every answer is a success or a
 * structured error other than INTERNAL, the server keeps answering, Object.prototype stays clean,
 * and nothing is written outside the repository (a sentinel directory the hostile paths aim at,
 * the $HOME the server sees, and the repository's parent directory stay as they were).
 */

type Json = Record<string, unknown>;

/** Methods that launch agents: called only with params that fail validation (an unknown key). */
const LAUNCHERS = new Set(['thread.child.spawn', 'merge.review.request_auto', 'thread.root.ensure']);
/** Params that keep a method from launching anything, whatever else is given. */
const PINNED: Record<string, Json> = {
  'merge.main.request': { auto_review: false },
  'runtime.tmux.ensure': { auto_install: false },
  // Its example waits up to 60 s for children that keep running.
  'thread.child.wait_status': { timeout_seconds: 0 },
};
/**
 * Fields that may name a place outside the repository by contract: a worktree's path is honoured
 * anywhere empty (src/core/worktree-path.ts), so the values aimed at the sentinel are not sent there.
 */
const OUTSIDE_BY_CONTRACT: Record<string, string[]> = { 'worktree.create': ['path'], 'worktree.spawn': ['path'] };
const AIMED_OUTSIDE = new Set(['traversal', 'absolute path']);

/** Methods that end the fixtures (close the session, stop children, remove worktrees): fuzzed last. */
const ENDINGS = ['session.close', 'session.cleanup', 'thread.child.stop', 'worktree.remove', 'worktree.gc', 'merge.main.cancel'];

const tmux = privateTmux();
let repo: TempRepo;
let sentinel: string;
let home: string;
let dispatcher: Dispatcher;

function nested(depth: number): Json {
  let value: Json = { leaf: 'x' };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** Hostile values, each with a label for the report. Built once the sentinel exists. */
function hostileValues(): [string, unknown][] {
  const target = `${sentinel}/pwned`;
  return [
    ['huge string', 'A'.repeat(300_000)],
    ['long string', 'B'.repeat(100_000)],
    ['deep nesting', nested(5_000)],
    ['deep array', JSON.parse('['.repeat(3_000) + ']'.repeat(3_000))],
    ['NUL', 'a\u0000b'],
    ['control characters', '\u001b]0;x\u0007\u001b[2J\r\n\t\u0008\u009b\u202e'],
    ['traversal', `../../../../../../../../../../..${target}`],
    ['absolute path', `${target}.md`],
    ['shell text', `$(touch ${target}) \`touch ${target}\`; --help`],
    ['prototype keys', JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}')],
    ['prototype names', '__proto__'],
    ['constructor name', 'constructor'],
    ['hostile array', ['../../../..', `${target}`, 'a\u0000b', '__proto__', '\u001b[2J']],
    ['huge array', Array.from({ length: 20_000 }, (_, i) => `p${i}`)],
    ['negative', -1],
    ['huge number', 1e308],
    ['fraction', 1.5],
    ['empty object', {}],
    ['null', null],
  ];
}

/** Files and directories under root with size and mtime: what "unchanged" compares. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = statSync(path, { throwIfNoEntry: false });
      out.push(`${path} ${stat?.isDirectory() ? 'dir' : stat?.size} ${stat?.mtimeMs}`);
      if (stat?.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

let before: { sentinel: string[]; home: string[]; parent: string[] };

beforeAll(async () => {
  repo = makeRepo('fuzz-repo');
  sentinel = mkdtempSync(join(tmpdir(), 'cs-sentinel-'));
  writeFileSync(join(sentinel, 'keep.txt'), 'sentinel\n');
  home = mkdtempSync(join(tmpdir(), 'cs-home-'));
  writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = Fuzz\n\temail = fuzz@example.invalid\n');
  mkdirSync(join(home, '.config'));
  dispatcher = createDispatcher(repo.path, { PATH: process.env.PATH, HOME: home, ...tmux.env });
  const init = await dispatcher.call('workspace.init', {});
  expect(init.ok).toBe(true);
  await makeFixtures();
  before = { sentinel: tree(sentinel), home: tree(home), parent: readdirSync(dirname(repo.path)) };
});

/**
 * The objects the methods' examples name (session 1 with worktree 1, tasks 1-4, worktree 2,
 * lock 1, graph nodes, merge request 1, queue item 1, threads 1-2), so hostile values reach the
 * handlers rather than stopping at NOT_FOUND.
 */
async function makeFixtures(): Promise<void> {
  const ok = async (method: string, params: Json): Promise<Json> => {
    const outcome = await dispatcher.call(method, params);
    if (!outcome.ok) throw new Error(`${method}: ${JSON.stringify(outcome.error)}`);
    return outcome.result;
  };
  await ok('session.open', { user_request: 'fuzz fixtures', worktree_name: 'fuzz' });
  await ok('session.open', { user_request: 'second', always_branch: false });
  const who = { session_id: 1 };
  await ok('task.create', { level: 'epic', title: 'Epic', ...who });
  await ok('task.create', { level: 'feature', title: 'Feature', parent_id: 1, ...who });
  await ok('task.create', { level: 'test_group', title: 'Group', parent_id: 2, ...who });
  await ok('task.create', { level: 'case', title: 'Case', parent_id: 3, ...who });
  await ok('task.create', { level: 'case', title: 'Other case', parent_id: 3, ...who });
  await ok('worktree.spawn', { task_id: 4, name: 'fuzz child', ...who });
  await ok('lock.acquire', { scope_type: 'prefix', scope_path: 'src/auth', ttl_seconds: 600, ...who });
  await ok('plan.bootstrap', { initiative_title: 'Initiative', plan_title: 'Plan', owner_session_id: 1 });
  await ok('merge.request', { feature_task_id: 2, source_worktree_ids: [1], ...who });
  await ok('merge.main.request', { from_worktree_id: 2, auto_review: false, ...who });
  for (const title of ['first child', 'second child'])
    await ok('thread.child.spawn', { runner: 'command', command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], title, ...who });
}

afterAll(async () => {
  await dispatcher?.call('session.cleanup', { session_id: 1, force: true, reason: 'fuzz done' });
  tmux.kill();
  repo?.cleanup();
  for (const dir of [sentinel, home]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The params of one fuzz call: the method's example with one field (or the whole) made hostile. */
function paramsFor(method: string, example: Json, field: string | undefined, value: unknown, fields: string[] = []): Json {
  const base: Json = fields.includes('session_id') && !('session_id' in example) ? { ...example, session_id: 1 } : { ...example };
  const params: Json = field === undefined ? (value as Json) : base;
  if (field !== undefined) Object.defineProperty(params, field, { value, enumerable: true, writable: true, configurable: true });
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return params;
  Object.assign(params, PINNED[method] ?? {});
  if (LAUNCHERS.has(method)) params.__fuzz_unknown_field__ = true;
  return params;
}

function describeCall(method: string, field: string | undefined, label: string): string {
  return `${method} ${field ?? '(params)'} <- ${label}`;
}

describe('fuzz over every method of the registry', () => {
  it('in process: every field of every method, every hostile value: never INTERNAL, nothing written outside', async () => {
    const values = hostileValues();
    const internal: string[] = [];
    const started = Date.now();
    const slow: [string, number][] = [];
    let calls = 0;
    const codes: Record<string, number> = {};
    const methods = [...dispatcher.registry.methods].sort(([a], [b]) => ENDINGS.indexOf(a) - ENDINGS.indexOf(b));
    for (const [method, def] of methods) {
      const methodStart = Date.now();
      const example = (def.example ?? {}) as Json;
      const fields = Object.keys((def.params as unknown as { shape?: Json }).shape ?? {});
      const cases: [string | undefined, string, unknown][] = [
        ...fields.flatMap((field) =>
          values
            .filter(([label]) => !(OUTSIDE_BY_CONTRACT[method]?.includes(field) && AIMED_OUTSIDE.has(label)))
            .map(([label, value]) => [field, label, value] as [string, string, unknown]),
        ),
        [undefined, 'prototype keys as params', { ...example, ...JSON.parse('{"__proto__": {"polluted": true}}') }],
        [undefined, 'deep params', nested(5_000)],
        [undefined, 'array params', [example]],
        [undefined, 'string params', 'hostile'],
      ];
      for (const [field, label, value] of cases) {
        calls++;
        const outcome = await dispatcher.call(method, paramsFor(method, example, field, value, fields));
        const code = outcome.ok ? 'ok' : outcome.error.error.code;
        codes[code] = (codes[code] ?? 0) + 1;
        if (!outcome.ok && outcome.error.error.code === 'INTERNAL')
          internal.push(`${describeCall(method, field, label)}: ${outcome.error.error.message.slice(0, 300)}`);
      }
      slow.push([method, Date.now() - methodStart]);
    }
    slow.sort((a, b) => b[1] - a[1]);
    console.log(
      `fuzz: ${calls} calls in ${Date.now() - started} ms (${JSON.stringify(codes)}); slowest: ${slow
        .slice(0, 5)
        .map(([m, ms]) => `${m} ${ms} ms`)
        .join(', ')}`,
    );
    expect(internal).toEqual([]);
    expect(({} as Json).polluted).toBeUndefined();
    // Still serving.
    const described = await dispatcher.call('system.describe', { method: 'task.create' });
    expect(described.ok).toBe(true);
    expect(tree(sentinel)).toEqual(before.sentinel);
    expect(tree(home)).toEqual(before.home);
    expect(readdirSync(dirname(repo.path))).toEqual(before.parent);
  }, 120_000);

  describe('over MCP against the built server (a sample: three hostile values per method)', () => {
    let mcp: McpHandle;
    let mcpRepo: TempRepo;

    beforeAll(async () => {
      mcpRepo = makeRepo('fuzz-mcp');
      mcp = await connectMcp(mcpRepo.path, { HOME: home, ...tmux.env, ...pathOnly() });
      expect((await mcp.tool('orch_session', 'workspace.init')).isError).toBe(false);
    });

    afterAll(async () => {
      await mcp?.close();
      mcpRepo?.cleanup();
    });

    it('every answer is a success or a structured error, never INTERNAL, and the server stays up', async () => {
      // The SDK's client overflows its stack on 5,000 levels itself; 300 is still far over the limit.
      const sample: [string, unknown][] = [
        ...hostileValues().filter(([label]) => ['control characters', 'traversal'].includes(label)),
        ['deep nesting', nested(300)],
      ];
      const internal: string[] = [];
      const { registry } = dispatcher;
      for (const [method, def] of registry.methods) {
        const example = (def.example ?? {}) as Json;
        const fields = Object.keys((def.params as unknown as { shape?: Json }).shape ?? {});
        const field = fields[0];
        for (const [label, value] of [...sample, ['prototype keys as params', JSON.parse('{"__proto__": {"polluted": true}}')] as const]) {
          const params =
            label === 'prototype keys as params'
              ? paramsFor(method, { ...example, ...(value as Json) }, undefined, { ...example, ...(value as Json) })
              : paramsFor(method, example, field, value);
          const result = await mcp.client.callTool({ name: 'orchestrator.call', arguments: { method, params } });
          const error = (result.structuredContent as { error?: { code: string; message: string } } | undefined)?.error;
          if (result.isError && (!error || error.code === 'INTERNAL'))
            internal.push(`${describeCall(method, field, label)}: ${JSON.stringify(result.structuredContent).slice(0, 300)}`);
        }
      }
      expect(internal).toEqual([]);
      const listed = await mcp.client.listTools();
      expect(listed.tools.length).toBe(10);
      expect(tree(sentinel)).toEqual(before.sentinel);
      expect(tree(home)).toEqual(before.home);
    }, 60_000);
  });
});

/** The MCP server's environment: the test's, with HOME replaced (cleanEnv keeps the rest). */
function pathOnly(): Record<string, string> {
  return { PATH: cleanEnv().PATH ?? '' };
}
