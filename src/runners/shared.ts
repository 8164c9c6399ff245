import { mkdirSync, readFileSync, symlinkSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunnerInput } from './types.js';

/** The package root: two levels up from dist/runners/ (or from src/runners/ when run from source). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A program compiled into dist/runners (tee-events.js, script-agent.js), run with this Node. */
export function runnerProgram(name: string): string {
  return join(PACKAGE_ROOT, 'dist', 'runners', name);
}

/**
 * Who the child is: its session, thread and repository, for the child itself and for the `env` of
 * its MCP server entry (Codex hands an MCP server only HOME, LANG, PATH, SHELL and TERM otherwise).
 * A custom state directory is passed on too when it is absolute; a relative one depends on the
 * root server's cwd, which the runner does not know.
 */
export function identityEnv(input: RunnerInput): Record<string, string> {
  const env: Record<string, string> = {
    CODESTRATOR_SESSION_ID: String(input.sessionId),
    CODESTRATOR_THREAD_ID: String(input.threadId),
    CODESTRATOR_REPO: input.repoPath,
  };
  const stateDir = input.baseEnv.CODESTRATOR_STATE_DIR;
  if (stateDir && isAbsolute(stateDir)) env.CODESTRATOR_STATE_DIR = stateDir;
  // A child that lists or waits on threads must look at the tmux server its siblings run on.
  const socket = input.baseEnv.CODESTRATOR_TMUX_SOCKET;
  if (socket) env.CODESTRATOR_TMUX_SOCKET = socket;
  return env;
}

/** The child's codestrator MCP server: `serverCommand`, acting as the child's thread. */
export interface ServerEntry {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export function serverEntry(input: RunnerInput): ServerEntry {
  const [command, ...args] = input.serverCommand;
  if (!command) throw new Error('The runner needs serverCommand (the argv that starts codestrator mcp); it was empty.');
  return { command, args, env: identityEnv(input) };
}

/** Where a headless runner's JSONL events are kept. */
export function eventsPathOf(input: RunnerInput): string {
  return join(input.threadDir, 'events.jsonl');
}

/**
 * A headless runner's argv, run under tee-events: the child runs in a tmux pane, so tee-events
 * keeps its JSONL stdout in eventsPath and shows one readable line per event in the pane.
 */
export function underTeeEvents(eventsPath: string, argv: readonly string[]): string[] {
  return [process.execPath, runnerProgram('tee-events.js'), eventsPath, '--', ...argv];
}

/** `--model=<name>`: the `=` form, so no model name can ever be read as another flag. */
/** Codex's sandbox for the access level (its own default is read-only, which would stop a worker). */
export const codexSandboxArgs = (input: RunnerInput): string[] => (input.access ? ['--sandbox', input.access] : []);

/** Claude's permission mode: edits accepted for workers, plan mode (no edits) for read-only roles. */
export const claudePermissionArgs = (input: RunnerInput): string[] =>
  input.access === 'workspace-write'
    ? ['--permission-mode', 'acceptEdits']
    : input.access === 'read-only'
      ? ['--permission-mode', 'plan']
      : [];

export function modelArgs(model: string | undefined): string[] {
  return model ? [`--model=${model}`] : [];
}

/** The user's home directory, as the base environment has it. */
export function userHome(baseEnv: RunnerInput['baseEnv']): string {
  return baseEnv.HOME || homedir();
}

/** A file's text, or null when it does not exist. */
export function readTextIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Creates a private directory (0700) and its parents. */
export function privateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

/**
 * Makes `link` a symbolic link to `target`, replacing an earlier link (a restart rebuilds the
 * same thread directory). Used to share the user's own files (auth) with a child's private home.
 */
export function linkTo(target: string, link: string): void {
  privateDir(dirname(link));
  removeLink(link);
  symlinkSync(target, link);
}

/** Removes a link or file if present. */
export function removeLink(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
