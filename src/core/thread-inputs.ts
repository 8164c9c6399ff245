import { isAbsolute, join, relative, resolve } from 'node:path';
import type { CoreContext } from './context.js';
import { invalid } from './errors.js';
import { ROLES } from './prompts.js';

/** Our runner names; the skill's runner_kind `agents_sdk_codex_mcp` means the Codex runner. */
export const RUNNER_NAMES = ['codex', 'codex_exec', 'claude', 'claude_exec', 'gemini', 'command', 'script'] as const;
const RUNNER_KIND_ALIASES: Readonly<Record<string, string>> = { agents_sdk_codex_mcp: 'codex' };
const CODEX_RUNNERS = new Set(['codex', 'codex_exec']);

/**
 * Splits a command line into words the way a POSIX shell quotes them, and nothing more: '…'
 * keeps everything literally, "…" keeps everything but \" \\ \$ \`, a backslash outside quotes
 * escapes the next character. No expansion of any kind: $VAR, $(…), globs, ~ and ; stay literal
 * text in the words. Throws on an unterminated quote.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('unterminated single quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= line.length) throw new Error('unterminated double quote');
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) word += line[++i];
        else word += d;
      }
    } else if (c === '\\') {
      if (i + 1 < line.length && line[i + 1] !== '\n') word += line[++i];
      else i++;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** An argv given as an array, or as one string split by splitWords (never run by a shell). */
function argvOf(value: string | readonly string[], field: string): string[] {
  let argv: string[];
  try {
    argv = typeof value === 'string' ? splitWords(value) : [...value];
  } catch (err) {
    throw invalid(`${field}: ${(err as Error).message}.`, field, 'Quote with matching \' or "; or pass an argv array.');
  }
  if (argv.length === 0 || !argv[0]) throw invalid(`${field} is empty.`, field);
  return argv;
}

/** The contract's inputs of thread.child.spawn that decide what runs and how it is told. */
export interface AgentInputs {
  role?: string;
  runner?: string;
  runner_kind?: string;
  command?: string[];
  model?: string;
  launch_command?: string | string[];
  codex_command?: string | string[];
  agent_override?: string | Record<string, unknown>;
  agent_guide_path?: string;
  interaction_mode?: string;
  launch_codex?: boolean;
  max_concurrent_children?: number;
}

export interface ResolvedAgent {
  runner: string;
  command?: string[];
  model?: string;
  /** Replaces the codex program (codex_command). */
  program?: string[];
  /** The template the prompt is built from (the role itself, or worker for a role without one). */
  templateRole: string;
  /** Absolute path of the guide the child reads first. */
  guidePath?: string;
  /** agent_override as given (raw JSON text), stored with the thread. */
  overrideRaw?: string;
  launch: boolean;
  maxChildren: number;
  /** One sentence per input not honoured as-is. */
  notes: string[];
}

function runnerName(value: string, field: string): string {
  const runner = RUNNER_KIND_ALIASES[value] ?? value;
  if (!(RUNNER_NAMES as readonly string[]).includes(runner))
    throw invalid(
      `Unknown ${field} "${value}".`,
      field,
      `Use agents_sdk_codex_mcp (the Codex runner) or one of: ${RUNNER_NAMES.join(', ')}.`,
    );
  return runner;
}

/** agent_override: raw JSON kept as given; an object's runner / runner_kind / command / model keys are honoured. */
function parseOverride(value: AgentInputs['agent_override'], notes: string[]) {
  if (value === undefined) return { raw: undefined, fields: {} as Record<string, unknown> };
  const raw = typeof value === 'string' ? value : JSON.stringify(value);
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    notes.push('agent_override: stored with the thread as given; it is not a JSON object, so nothing in it was applied.');
    return { raw, fields: {} };
  }
  const fields = parsed as Record<string, unknown>;
  const applied = ['runner', 'runner_kind', 'command', 'model'].filter((key) => fields[key] !== undefined);
  const other = Object.keys(fields).filter((key) => !applied.includes(key));
  if (other.length > 0) notes.push(`agent_override: stored with the thread; its keys ${other.join(', ')} are kept for reference only.`);
  return { raw, fields };
}

/**
 * Turns the contract's spawn inputs into what runs: runner (runner, runner_kind, launch_command,
 * agent_override), argv, codex program, template, guide and the live-children cap. Conflicting
 * inputs are refused; inputs that are accepted but not honoured as-is get a note each.
 */
export function resolveAgent(ctx: CoreContext, input: AgentInputs, sessionRoot: string | null): ResolvedAgent {
  const notes: string[] = [];
  const override = parseOverride(input.agent_override, notes);
  const fromKind = input.runner_kind !== undefined ? runnerName(input.runner_kind, 'runner_kind') : undefined;
  if (input.runner && fromKind && input.runner !== fromKind)
    throw invalid(`runner "${input.runner}" and runner_kind "${input.runner_kind}" disagree.`, 'runner_kind', 'Pass one of them.');
  const launchArgv = input.launch_command !== undefined ? argvOf(input.launch_command, 'launch_command') : undefined;
  // As in the contract, a launch_command is what runs: it wins over runner_kind (whose default names Codex).
  if (launchArgv && input.runner && input.runner !== 'command')
    throw invalid(
      `launch_command runs as the command runner, not "${input.runner}".`,
      'launch_command',
      'Drop runner, or drop launch_command.',
    );
  if (launchArgv && fromKind && fromKind !== 'command')
    notes.push(`runner_kind: ${input.runner_kind} was not used; launch_command is what runs (as the command runner).`);
  const explicit = input.runner ?? (launchArgv ? undefined : fromKind);
  const overrideRunner = override.fields.runner ?? override.fields.runner_kind;
  const runner =
    explicit ?? (launchArgv ? 'command' : typeof overrideRunner === 'string' ? runnerName(overrideRunner, 'agent_override') : 'codex');
  if (launchArgv)
    notes.push(
      `launch_command: run directly as the command runner's argv ${JSON.stringify(launchArgv)} (split into words, no shell, no expansion).`,
    );
  const overrideCommand = override.fields.command;
  const command =
    input.command ??
    launchArgv ??
    (typeof overrideCommand === 'string' || Array.isArray(overrideCommand)
      ? argvOf(overrideCommand as string | string[], 'agent_override')
      : undefined);
  let program: string[] | undefined;
  if (input.codex_command !== undefined) {
    if (!CODEX_RUNNERS.has(runner))
      throw invalid(`codex_command replaces the codex program; this child runs "${runner}".`, 'codex_command');
    program = argvOf(input.codex_command, 'codex_command');
    notes.push(`codex_command: ${JSON.stringify(program)} runs in place of codex, with codex's arguments after it (no shell).`);
  }
  const model = input.model ?? (typeof override.fields.model === 'string' ? override.fields.model : undefined);
  const role = input.role ?? 'worker';
  const hasTemplate =
    (ROLES as readonly string[]).includes(role) || ctx.files.exists(join(ctx.workspace.stateDir, 'templates', `${role}.md`));
  if (!hasTemplate) notes.push(`role: "${role}" has no template of its own; the worker template was used and the role name kept.`);
  if (input.interaction_mode !== undefined && input.interaction_mode !== 'view_only')
    notes.push(`interaction_mode: "${input.interaction_mode}" was read as view_only: people watch children through a read-only attach.`);
  if (input.launch_codex === false)
    notes.push(
      'launch_codex: false: the thread and its worktree exist but no pane or agent was started (status blocked); thread.child.directive mode restart starts it.',
    );
  const ceiling = ctx.config.max_concurrent_children;
  const asked = input.max_concurrent_children;
  if (asked !== undefined && asked > ceiling)
    notes.push(
      `max_concurrent_children: ${asked} asked, but the repository ceiling is ${ceiling} (.codestrator/config.json); ${ceiling} applies.`,
    );
  return {
    runner,
    ...(command ? { command } : {}),
    ...(model ? { model } : {}),
    ...(program ? { program } : {}),
    templateRole: hasTemplate ? role : 'worker',
    ...(input.agent_guide_path !== undefined ? { guidePath: guideFile(ctx, input.agent_guide_path, sessionRoot) } : {}),
    ...(override.raw !== undefined ? { overrideRaw: override.raw } : {}),
    launch: input.launch_codex !== false,
    maxChildren: Math.min(asked ?? ceiling, ceiling),
    notes,
  };
}

/** agent_guide_path: a file inside the repository: its main checkout or the session's worktree (relative paths: either). */
function guideFile(ctx: CoreContext, path: string, sessionRoot: string | null): string {
  const roots = [ctx.workspace.repoPath, ...(sessionRoot ? [sessionRoot] : [])];
  const within = (root: string, candidate: string) => {
    const rel = relative(root, candidate);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  const candidates = isAbsolute(path) ? [resolve(path)] : roots.map((root) => resolve(root, path));
  const inside = candidates.filter((candidate) => roots.some((root) => within(root, candidate)));
  if (inside.length === 0)
    throw invalid(`agent_guide_path ${path} is outside the repository.`, 'agent_guide_path', `Give a path inside ${roots.join(' or ')}.`);
  const found = inside.find((candidate) => ctx.files.exists(candidate));
  if (!found)
    throw invalid(
      `agent_guide_path ${path} does not exist.`,
      'agent_guide_path',
      'Give a file of the repository (relative to its root), e.g. docs/agents/worker.md.',
    );
  return found;
}
