import { ErrorCode, type GetPromptResult, McpError, type Prompt, type PromptArgument } from '@modelcontextprotocol/sdk/types.js';
import { dirname, join } from 'node:path';
import { nodeFiles } from '../app/files.js';
import { ROLES, type Role, type TemplateSource, buildPrompt, loadTemplate } from '../core/prompts.js';
import { packageRoot } from '../registry/bundle-info.js';
import type { McpBackend } from './server.js';

/** The shipped role templates, the same directory app/open-services.ts gives child agents. */
const TEMPLATES_DIR = join(packageRoot, 'templates', 'roles');
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** The arguments every role prompt takes, besides the {{placeholders}} of its template. */
const BASE_ARGUMENTS: PromptArgument[] = [
  {
    name: 'task_id',
    description: 'A task id: its title becomes the assignment title, a case goes into scope_case_ids, another level into scope_task_ids.',
    required: false,
  },
  {
    name: 'assignment',
    description: 'The objective as text, or a JSON object used as the task_spec (its fields also fill the {{placeholders}}).',
    required: false,
  },
];

const isRole = (name: string): name is Role => (ROLES as readonly string[]).includes(name);
const invalidParams = (message: string) => new McpError(ErrorCode.InvalidParams, message);

/**
 * Without state (codestrator not initialised here, or no repository) there is no override
 * directory: the filter lets only the shipped templates through, and the state dir is never read.
 */
const SHIPPED_ONLY: TemplateSource = {
  files: { readText: (path) => (dirname(path) === TEMPLATES_DIR ? nodeFiles.readText(path) : null) },
  workspace: { stateDir: TEMPLATES_DIR },
};

/** Templates are read as children read them: the repository's override in .codestrator/templates/ wins. */
async function templateSource(backend: McpBackend): Promise<TemplateSource> {
  const where = await backend.locations();
  return where.initialized ? { files: nodeFiles, workspace: { stateDir: where.stateDir } } : SHIPPED_ONLY;
}

/** The template's {{placeholders}}, each once, in order of appearance. */
function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

/**
 * A one-line description: the first Markdown heading, else the ROLE: line (the shipped templates
 * all open with the same "CONTEXT: WORKER" marker, which says nothing about the role), else the first line.
 */
function describeTemplate(role: Role, template: string): string {
  const lines = template
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const heading = lines.find((line) => /^#{1,6}\s/.test(line));
  if (heading) return heading.replace(/^#+\s*/, '');
  const roleLine = lines.find((line) => /^ROLE:/i.test(line));
  if (roleLine) return roleLine.replace(/^ROLE:\s*/i, '');
  return lines[0] ?? `The ${role} role.`;
}

function argumentsOf(template: string): PromptArgument[] {
  const base = new Set(BASE_ARGUMENTS.map((arg) => arg.name));
  const extra = placeholders(template)
    .filter((name) => !base.has(name))
    .map((name) => ({ name, description: `Fills {{${name}}} in the template (left as {{${name}}} when not given).`, required: false }));
  return [...BASE_ARGUMENTS, ...extra];
}

/** prompts/list: one prompt per role, described from its template (the repository's override if there is one). */
export async function listPrompts(backend: McpBackend): Promise<Prompt[]> {
  const source = await templateSource(backend);
  return ROLES.map((role) => {
    const template = loadTemplate(source, role, TEMPLATES_DIR);
    return { name: role, description: describeTemplate(role, template), arguments: argumentsOf(template) };
  });
}

/** `assignment`: a JSON object is a task_spec; any other text is the objective. */
function parseAssignment(text: string | undefined): { spec: Record<string, unknown> | null; objective: string | null } {
  if (text === undefined || text.trim() === '') return { spec: null, objective: null };
  if (!text.trim().startsWith('{')) return { spec: null, objective: text };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return { spec: parsed as Record<string, unknown>, objective: null };
  } catch (err) {
    throw invalidParams(`assignment starts with "{" but is not valid JSON (${(err as Error).message}); pass a JSON object or plain text.`);
  }
  throw invalidParams('assignment must be plain text or a JSON object.');
}

/** The task a prompt is about; without state there are no tasks, and asking must not create the state. */
async function readTask(backend: McpBackend, raw: string | undefined): Promise<{ id: number; level: string; title: string } | null> {
  if (raw === undefined || raw.trim() === '') return null;
  if (!/^[1-9][0-9]*$/.test(raw.trim())) throw invalidParams(`task_id must be a positive integer, not ${JSON.stringify(raw)}.`);
  const where = await backend.locations();
  if (!where.initialized) throw invalidParams(`task.get: Task ${raw.trim()} does not exist: ${where.reason}`);
  const view = await backend.call('task.get', { task_id: Number(raw.trim()) });
  return view.task as { id: number; level: string; title: string };
}

/**
 * prompts/get: the text a child of that role receives (core buildPrompt: template, then the
 * assignment as JSON), with the given arguments in place of what spawning knows. Placeholders
 * nobody filled stay visible as {{name}} instead of vanishing.
 */
export async function getPrompt(backend: McpBackend, name: string, args: Record<string, string>): Promise<GetPromptResult> {
  if (!isRole(name)) throw invalidParams(`Unknown prompt ${JSON.stringify(name)}. Prompts: ${ROLES.join(', ')}.`);
  const source = await templateSource(backend);
  const template = loadTemplate(source, name, TEMPLATES_DIR);
  const accepted = argumentsOf(template).map((arg) => arg.name);
  const unknown = Object.keys(args).filter((key) => !accepted.includes(key));
  if (unknown.length > 0) {
    throw invalidParams(
      `Prompt ${name} does not take ${unknown.map((key) => JSON.stringify(key)).join(', ')}. Arguments: ${accepted.join(', ')}.`,
    );
  }
  const { spec, objective } = parseAssignment(args.assignment);
  const task = await readTask(backend, args.task_id);
  // Same precedence as a spawned child: the task_spec first, then what is known for sure.
  const values: Record<string, string | number> = {};
  for (const key of placeholders(template)) values[key] = `{{${key}}}`;
  for (const [key, value] of Object.entries(spec ?? {})) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') values[key] = String(value);
  }
  if (task) values.task_id = task.id;
  for (const [key, value] of Object.entries(args)) if (key !== 'assignment' && key !== 'task_id') values[key] = value;
  const text = buildPrompt(source, {
    role: name,
    templatesDir: TEMPLATES_DIR,
    values,
    assignment: {
      title: task?.title ?? null,
      objective,
      task_spec: spec,
      scope_task_ids: task && task.level !== 'case' ? [task.id] : [],
      scope_case_ids: task && task.level === 'case' ? [task.id] : [],
    },
  });
  return { description: describeTemplate(name, template), messages: [{ role: 'user', content: { type: 'text', text } }] };
}
