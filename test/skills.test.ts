import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDispatcher, registry } from '../src/app/services.js';
import { SKILL_NAMES, generatedDocs, renderContractsDoc } from '../src/registry/contracts-doc.js';
import { type Registry, createRegistry, defineMethod } from '../src/registry/define.js';
import { type TempRepo, makeRepo } from './helpers/repo.js';

const ROOT = join(import.meta.dirname, '..');
const skillText = (name: string) => readFileSync(join(ROOT, 'skills', name, 'SKILL.md'), 'utf8');

interface Call {
  line: string;
  tool: string;
  method: string;
  params: Record<string, unknown>;
}

/** Calls written `<tool> <method> [<params JSON>]`: fenced lines starting with orch_, and inline code spans `orch_<x> ...`. */
function extractCalls(markdown: string, options: { inline?: boolean } = {}): { calls: Call[]; errors: string[] } {
  const candidates: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (fenced && line.startsWith('orch_')) candidates.push(line);
  }
  const prose = markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
  if (options.inline !== false) for (const match of prose.matchAll(/`(orch_\w+ [^`]+)`/g)) candidates.push(match[1]!);
  const calls: Call[] = [];
  const errors: string[] = [];
  for (const line of candidates) {
    const parts = /^(\S+) (\S+)(?: (.+))?$/.exec(line.trim());
    if (!parts) {
      errors.push(`${line}: not "<tool> <method> <params>"`);
      continue;
    }
    try {
      const params: unknown = parts[3] === undefined ? {} : JSON.parse(parts[3]);
      if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new Error('params are not an object');
      calls.push({ line, tool: parts[1]!, method: parts[2]!, params: params as Record<string, unknown> });
    } catch (err) {
      errors.push(`${line}: ${(err as Error).message}`);
    }
  }
  return { calls, errors };
}

/** Each call names a real method, through its own tool, with params its schema accepts; returns the problems. */
function checkCalls(reg: Registry, calls: readonly Call[]): { line: string; problem: string }[] {
  return calls.flatMap(({ line, tool, method, params }) => {
    const def = reg.methods.get(method);
    if (!def) return [{ line, problem: `no method ${method}` }];
    if (def.group !== tool) return [{ line, problem: `${method} belongs to ${def.group}, not ${tool}` }];
    const parsed = def.params.safeParse(params);
    if (parsed.success) return [];
    return [{ line, problem: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') }];
  });
}

/** Dotted names anywhere in the text (code, prose, the description) whose first part is a method namespace must be methods. */
function unknownMethodNames(reg: Registry, markdown: string): string[] {
  const namespaces = new Set([...reg.methods.keys()].map((name) => name.split('.')[0]!));
  const tokens = new Set([...markdown.matchAll(/\b[a-z_]+(?:\.[a-z_]+)+\b/g)].map((m) => m[0]));
  return [...tokens].filter((token) => namespaces.has(token.split('.')[0]!) && !reg.methods.has(token));
}

/** The front matter's key: value lines; values are plain YAML scalars (checked) or double-quoted strings. */
function frontMatter(markdown: string): Record<string, string> {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(markdown);
  if (!match) throw new Error('SKILL.md must start with --- front matter ---');
  const fields: Record<string, string> = {};
  for (const line of match[1]!.split('\n')) {
    const entry = /^([a-z-]+): (.+)$/.exec(line);
    if (!entry) throw new Error(`front matter line is not "key: value": ${line}`);
    const raw = entry[2]!;
    if (raw.startsWith('"')) fields[entry[1]!] = JSON.parse(raw) as string;
    else if (/^[-?:,[\]{}#&*!|>'"%@`]|: | #/.test(raw)) throw new Error(`${entry[1]} is not a valid plain YAML scalar; quote it`);
    else fields[entry[1]!] = raw;
  }
  return fields;
}

describe('generated method reference', () => {
  it('the committed references/method-contracts.md and docs/METHODS.md match the registry', () => {
    const docs = generatedDocs(registry);
    expect(docs.map((doc) => doc.path).sort()).toEqual(
      ['docs/METHODS.md', ...SKILL_NAMES.map((name) => `skills/${name}/references/method-contracts.md`)].sort(),
    );
    for (const doc of docs) {
      const committed = readFileSync(join(ROOT, doc.path), 'utf8');
      expect(committed, `${doc.path} is out of date: run \`npm run docs\` and commit the result`).toBe(doc.content);
    }
  });

  it('documents every method once, and every example in it is a valid call', () => {
    const doc = renderContractsDoc(registry, { title: 'T', intro: [] });
    for (const name of registry.methods.keys()) expect(doc.split(`\n### \`${name}\`\n`)).toHaveLength(2);
    const { calls, errors } = extractCalls(doc);
    expect(errors).toEqual([]);
    expect(calls.map((call) => call.method).sort()).toEqual([...registry.methods.keys()].sort());
    expect(checkCalls(registry, calls)).toEqual([]);
    expect(renderContractsDoc(registry, { title: 'T', intro: [] })).toBe(doc);
  });

  it('renders params: types, bounds, nesting, required, defaults, escaped pipes, and tools without methods left out', () => {
    const tiny = createRegistry([
      defineMethod({
        name: 'demo.run',
        group: 'orch_task',
        summary: 'Run a demo.',
        params: z.strictObject({
          mode: z.enum(['a', 'b']).describe('Either a | b'),
          count: z.number().int().min(1).max(9).default(3),
          ids: z.array(z.number().int().positive()).min(1).max(4).optional(),
          note: z.string().nullable().optional().describe('null clears'),
          items: z.array(z.strictObject({ file: z.string(), line: z.number().int().optional() })).optional(),
        }),
        example: { mode: 'a' },
        mutates: false,
        identity: 'none',
        handler: () => ({}),
      }),
      defineMethod({
        name: 'demo.ping',
        group: 'orch_system',
        summary: 'Ping.',
        params: z.strictObject({}),
        example: {},
        mutates: true,
        handler: () => ({}),
      }),
    ]);
    const doc = renderContractsDoc(tiny, { title: 'Tiny', intro: ['Intro line.'] });
    expect(doc).toContain('2 methods in 2 tools.');
    expect(doc).toContain('## orch_task');
    expect(doc).not.toContain('## orch_graph');
    expect(doc).toContain('| param | type | required | description | default |');
    expect(doc).toContain('| `mode` | `"a" \\| "b"` | yes | Either a \\| b |  |');
    expect(doc).toContain('| `count` | `integer (1–9)` | no |  | `3` |');
    expect(doc).toContain('| `ids` | `integer[] (1–4 items)` | no |  |  |');
    expect(doc).toContain('| `note` | `string \\| null` | no | null clears |  |');
    expect(doc).toContain('| `items[].file` | `string` | yes |  |  |');
    expect(doc).toContain('| `items[].line` | `integer` | no |  |  |');
    expect(doc).toContain('Tool `orch_task` · mutates: no · caller: not needed.');
    expect(doc).toContain('orch_task demo.run {"mode":"a"}');
    expect(doc).toContain('No params.');
    expect(doc).toContain("mutates: yes · caller: `session_id`/`thread_id` in the params, else the server's own identity.");
  });
});

describe('skills', () => {
  let root: TempRepo;
  beforeAll(() => {
    root = makeRepo();
  });
  afterAll(() => root.cleanup());

  it.each(SKILL_NAMES)('%s: front matter names the skill and says when to use it', (name) => {
    const fields = frontMatter(skillText(name));
    expect(Object.keys(fields).sort()).toEqual(['description', 'name']);
    expect(fields.name).toBe(name);
    expect(fields.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(fields.description!.length).toBeGreaterThan(100);
    expect(fields.description!.length).toBeLessThanOrEqual(1024);
    expect(fields.description).toMatch(/\bUse when\b/);
    expect(skillText(name)).toContain('references/method-contracts.md');
  });

  it.each(SKILL_NAMES)('%s: every example call is a real method, through its tool, with params that validate', (name) => {
    const text = skillText(name);
    const { calls, errors } = extractCalls(text);
    expect(errors).toEqual([]);
    expect(calls.length).toBeGreaterThanOrEqual(8);
    expect(checkCalls(registry, calls)).toEqual([]);
    expect(unknownMethodNames(registry, text)).toEqual([]);
  });

  it('each skill shows the calls its role needs, with exact enum values', () => {
    const methods = (name: string) => new Set(extractCalls(skillText(name)).calls.map((call) => call.method));
    const needs: Record<string, string[]> = {
      codestrator: [
        ...['workspace.init', 'session.open', 'resume.candidates.attach', 'task.create', 'case.begin', 'step.check', 'case.complete'],
        ...['work.current_ref', 'resume.next', 'lock.acquire', 'lock.heartbeat', 'lock.release', 'worktree.spawn', 'thread.child.spawn'],
        ...['thread.child.wait_status', 'thread.child.directive', 'worktree.merge_to_parent', 'merge.request', 'merge.review.request_auto'],
        ...['merge.main.request', 'merge.main.process', 'session.close', 'session.cleanup', 'worktree.gc', 'system.describe'],
      ],
      'codestrator-worker': [
        'work.current_ref',
        'resume.next',
        'case.begin',
        'step.check',
        'case.complete',
        'lock.acquire',
        'thread.report',
      ],
      'codestrator-reviewer': ['merge.review_context', 'merge.review.submit', 'thread.report', 'system.describe'],
    };
    for (const [name, list] of Object.entries(needs)) expect(list.filter((method) => !methods(name).has(method))).toEqual([]);
    const worker = extractCalls(skillText('codestrator-worker')).calls;
    expect(worker.some((c) => c.method === 'worktree.merge_to_parent' && c.params.commit_changes === true)).toBe(true);
    const submitted = extractCalls(skillText('codestrator-reviewer')).calls.filter((call) => call.method === 'merge.review.submit');
    const verdicts = (registry.methods.get('merge.review.submit')!.params as z.ZodObject).shape.verdict as z.ZodEnum;
    expect(new Set(submitted.map((call) => call.params.verdict))).toEqual(new Set(verdicts.options));
    const reports = [...SKILL_NAMES.slice(1)]
      .flatMap((name) => extractCalls(skillText(name)).calls)
      .filter((c) => c.method === 'thread.report');
    expect(new Set(reports.map((call) => call.params.state))).toEqual(new Set(['progress', 'blocked', 'done', 'failed']));
  });

  it('the checker refuses unknown methods, wrong tools, unknown or ill-typed params and bad JSON', () => {
    const bad = [
      '```text',
      'orch_task case.start {"case_id": 4}',
      'orch_session case.begin {"case_id": 4}',
      'orch_task case.begin {"caseId": 4}',
      'orch_task step.check {"case_id": 4, "step_title": "x", "result": "passed"}',
      'orch_task case.begin {case_id: 4}',
      '```',
      'Prose with `orch_task case.complete {"case_id": 4}` and `case.finish`.',
    ].join('\n');
    const { calls, errors } = extractCalls(bad);
    expect(errors).toHaveLength(1);
    expect(checkCalls(registry, calls).map((error) => error.problem)).toEqual([
      'no method case.start',
      'case.begin belongs to orch_task, not orch_session',
      expect.stringContaining('Unrecognized key'),
      expect.stringContaining('result'),
      expect.stringContaining('summary'),
    ]);
    expect(unknownMethodNames(registry, bad)).toEqual(['case.start', 'case.finish']);
    expect(() => frontMatter('---\nname: x\ndescription: Use when: never\n---\n')).toThrow(/plain YAML scalar/);
  });

  it("the root skill's examples for start, ledger, case loop, resume and locks run in order on a real repository", async () => {
    // An agent's own MCP server: session.open makes that session the default caller, as the skill says.
    const dispatcher = createDispatcher(root.path, { PATH: process.env.PATH, HOME: process.env.HOME }, { adoptSessions: true });
    const sections = skillText('codestrator')
      .split(/^## /m)
      .filter((section) => /^[1-5]\. /.test(section));
    expect(sections).toHaveLength(5);
    const calls = sections.flatMap((section) => extractCalls(section, { inline: false }).calls);
    expect(calls.length).toBeGreaterThanOrEqual(15);
    for (const call of calls) {
      const outcome = await dispatcher.call(call.method, call.params);
      expect(outcome.ok ? 'ok' : outcome.error, call.line).toBe('ok');
    }
  });
});
