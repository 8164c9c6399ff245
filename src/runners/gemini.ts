import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { identityEnv, linkTo, modelArgs, privateDir, readTextIfExists, serverEntry, type ServerEntry, userHome } from './shared.js';
import type { LaunchSpec, RunnerInput } from './types.js';

/**
 * Gemini CLI, interactive, with the prompt as its first message (`--prompt-interactive=<prompt>`:
 * the `=` form keeps a prompt that starts with `-` whole; yargs would refuse it as a next argument).
 *
 * Gemini has no per-run MCP flag: servers come from settings files. The system settings file
 * (GEMINI_CLI_SYSTEM_SETTINGS_PATH) is skipped unless root owns it, and the workspace file would
 * sit in the worktree, where an agent may commit it. So the child gets its own Gemini home
 * (GEMINI_CLI_HOME=<threadDir>/gemini-home, read as `~` for `~/.gemini`): settings.json is the
 * user's plus our server, and every other entry of the user's ~/.gemini (credentials, trusted
 * folders, extensions, history) is a symbolic link to the user's, so the child is logged in as the
 * user. Gemini starts stdio MCP servers only in a trusted folder; GEMINI_CLI_TRUST_WORKSPACE=true
 * trusts the worktree for this run (what `--skip-trust` does). Checked against Gemini CLI 0.61.
 */
export function geminiLaunch(input: RunnerInput): LaunchSpec {
  const geminiHome = join(input.threadDir, 'gemini-home');
  const userDir = join(input.baseEnv.GEMINI_CLI_HOME || userHome(input.baseEnv), '.gemini');
  const childDir = join(geminiHome, '.gemini');
  privateDir(childDir);
  for (const name of listDir(userDir)) if (name !== 'settings.json') linkTo(join(userDir, name), join(childDir, name));
  const settingsPath = join(userDir, 'settings.json');
  const settings = geminiSettings(readTextIfExists(settingsPath), settingsPath, serverEntry(input));
  return {
    argv: ['gemini', ...modelArgs(input.model), `--prompt-interactive=${input.prompt}`],
    env: { ...identityEnv(input), GEMINI_CLI_HOME: geminiHome, GEMINI_CLI_TRUST_WORKSPACE: 'true' },
    cwd: input.cwd,
    files: [{ path: join(childDir, 'settings.json'), content: `${JSON.stringify(settings, null, 2)}\n`, mode: 0o600 }],
    exitKeys: ['/exit'],
  };
}

type Json = Record<string, unknown>;

/**
 * The user's settings with `mcpServers.codestrator` set (`trust: true` allows its tools without a
 * confirmation) and kept out of the user's `mcp.excluded` / added to `mcp.allowed` when those lists
 * exist. Gemini reads settings as JSON with comments, so comments are stripped the same way.
 */
function geminiSettings(text: string | null, path: string, entry: ServerEntry): Json {
  const settings = text === null ? {} : parseSettings(text, path);
  settings.mcpServers = { ...asObject(settings.mcpServers), codestrator: { ...entry, trust: true } };
  const mcp = asObject(settings.mcp);
  if (Array.isArray(mcp.allowed) && !mcp.allowed.includes('codestrator')) mcp.allowed = [...(mcp.allowed as unknown[]), 'codestrator'];
  if (Array.isArray(mcp.excluded)) mcp.excluded = mcp.excluded.filter((name) => name !== 'codestrator');
  if (settings.mcp !== undefined) settings.mcp = mcp;
  return settings;
}

function parseSettings(text: string, path: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripJsonComments(text));
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); Gemini CLI would refuse it too. Fix it and spawn again.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${path} does not hold a JSON object; Gemini CLI would ignore it. Fix it and spawn again.`);
  }
  return parsed as Json;
}

function asObject(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Json) } : {};
}

/** Removes `//` and `/* *\/` comments outside strings. */
export function stripJsonComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      i = end - 1;
    } else if (char === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (char === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
      out += ' ';
    } else out += char;
  }
  return out;
}

function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return text.length;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
