import { join } from 'node:path';
import type { FilesPort, Workspace } from './ports.js';

/** Roles with a shipped template (templates/roles/<role>.md); a repo overrides one in .codestrator/templates/. */
export const ROLES = [
  'worker',
  'merge-reviewer',
  'plan-architect',
  'doc-mirror-manager',
  'reviewer',
  'research',
  'implementer',
  'verifier',
] as const;
export type Role = (typeof ROLES)[number];

/** What a worker cannot infer: the skills' context pack. */
export interface ContextPack {
  goal?: string;
  non_goals?: string[];
  constraints?: string[];
  pointers?: string[];
  success_check?: string;
}

export interface PromptInput {
  /** A template name, or any role name (a role without a template uses the worker's). */
  role: string;
  /** A line put first (the agent guide to read). */
  guide?: string;
  templatesDir: string;
  values: Record<string, string | number | null | undefined>;
  contextPack?: ContextPack;
  assignment: Record<string, unknown>;
  directive?: string;
}

/** What reading a template needs: a CoreContext has it, and so does the MCP server rendering a role's prompt without a thread. */
export interface TemplateSource {
  files: Pick<FilesPort, 'readText'>;
  workspace: Pick<Workspace, 'stateDir'>;
}

/**
 * The role's template: the repository's override if present, else the one shipped with
 * codestrator; a role with neither (a caller's own name, e.g. main-worker) uses the worker's.
 */
export function loadTemplate(ctx: TemplateSource, role: string, templatesDir: string): string {
  const read = (name: string) =>
    ctx.files.readText(join(ctx.workspace.stateDir, 'templates', `${name}.md`)) ?? ctx.files.readText(join(templatesDir, `${name}.md`));
  return read(role) ?? read('worker') ?? `ROLE: ${role}\n`;
}

const list = (title: string, items: readonly string[] | undefined) =>
  items && items.length > 0 ? [`${title}:`, ...items.map((item) => `- ${item}`)] : [];

/** Template (with {{placeholders}} filled) + context pack + the assignment as JSON (+ a restart directive). */
export function buildPrompt(ctx: TemplateSource, input: PromptInput): string {
  const template = loadTemplate(ctx, input.role, input.templatesDir).replace(/\{\{(\w+)\}\}/g, (_, key: string) =>
    String(input.values[key] ?? ''),
  );
  const pack = input.contextPack;
  const packLines = pack
    ? [
        'CONTEXT PACK',
        ...(pack.goal ? [`Goal: ${pack.goal}`] : []),
        ...list('Non-goals', pack.non_goals),
        ...list('Constraints', pack.constraints),
        ...list('Pointers', pack.pointers),
        ...(pack.success_check ? [`Success check: ${pack.success_check}`] : []),
      ]
    : [];
  return [
    ...(input.guide ? [input.guide, ''] : []),
    template.trimEnd(),
    ...(packLines.length > 1 ? ['', ...packLines] : []),
    '',
    'ASSIGNMENT',
    JSON.stringify(input.assignment, null, 2),
    ...(input.directive ? ['', `DIRECTIVE (from the root, supersedes earlier instructions): ${input.directive}`] : []),
  ].join('\n');
}
