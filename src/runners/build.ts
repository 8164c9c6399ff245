import { claudeLaunch } from './claude.js';
import { codexLaunch } from './codex.js';
import { commandLaunch } from './command.js';
import { geminiLaunch } from './gemini.js';
import { scriptLaunch } from './script.js';
import type { LaunchSpec, RunnerInput } from './types.js';

/**
 * How to start a child agent: argv (run directly, never through a shell), environment on top of
 * the base one, working directory, and the files to write first. Every spec's environment carries
 * CODESTRATOR_SESSION_ID, CODESTRATOR_THREAD_ID and CODESTRATOR_REPO, and every MCP server entry
 * written for a child runs `serverCommand` with them.
 *
 * Side effects: the private homes under threadDir (Codex, Gemini) are created here, with their
 * symbolic links to the user's credentials; the caller writes `files`. Throws an Error with a
 * sentence to show when the input cannot be launched (no command, no script, unreadable settings).
 */
export function buildLaunch(input: RunnerInput): LaunchSpec {
  switch (input.kind) {
    case 'codex':
      return codexLaunch(input, { exec: false });
    case 'codex_exec':
      return codexLaunch(input, { exec: true });
    case 'claude':
      return claudeLaunch(input, { exec: false });
    case 'claude_exec':
      return claudeLaunch(input, { exec: true });
    case 'gemini':
      return geminiLaunch(input);
    case 'command':
      return commandLaunch(input);
    case 'script':
      return scriptLaunch(input);
    default:
      throw new Error(`Unknown runner "${String(input.kind)}"; use codex, codex_exec, claude, claude_exec, gemini, command or script.`);
  }
}
