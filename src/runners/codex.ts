import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { codexConfigToml } from './codex-config.js';
import {
  eventsPathOf,
  identityEnv,
  linkTo,
  modelArgs,
  privateDir,
  readTextIfExists,
  removeLink,
  serverEntry,
  underTeeEvents,
  userHome,
  codexSandboxArgs,
} from './shared.js';
import type { LaunchSpec, RunnerInput } from './types.js';

/**
 * Codex CLI. `codex`: the interactive TUI with the prompt as its first message; `codex_exec`:
 * headless `codex exec --json`, its JSONL events kept by tee-events and its last message written
 * to `<threadDir>/last-message.txt`. The prompt goes after `--`, so a prompt that starts with `-`
 * or reads like a subcommand (`review`, `resume`) is still the prompt (checked with Codex 0.169).
 *
 * Each child gets its own CODEX_HOME (`<threadDir>/codex-home`), since parallel Codex processes
 * corrupt a shared one: config.toml is the user's plus our MCP server entry (codex-config.ts), and
 * auth.json is a symbolic link to the user's, not a copy. Codex refreshes ChatGPT tokens by
 * rewriting auth.json in place (it opens the path with truncate, which follows the link), and the
 * refresh token rotates: a copy refreshed by a child would leave the user's own file holding a
 * spent refresh token, logging the user out. Through the link, every process sees the new tokens.
 */
export function codexLaunch(input: RunnerInput, mode: { exec: boolean }): LaunchSpec {
  const codexHome = join(input.threadDir, 'codex-home');
  const userCodexHome = input.baseEnv.CODEX_HOME || join(userHome(input.baseEnv), '.codex');
  shareAuth(join(userCodexHome, 'auth.json'), join(codexHome, 'auth.json'));
  const config = codexConfigToml(readTextIfExists(join(userCodexHome, 'config.toml')), serverEntry(input), input.threadId);
  const common = {
    env: { ...identityEnv(input), CODEX_HOME: codexHome },
    cwd: input.cwd,
    files: [{ path: join(codexHome, 'config.toml'), content: config, mode: 0o600 }],
  };
  const codex = input.program && input.program.length > 0 ? [...input.program] : ['codex'];
  if (!mode.exec)
    return { ...common, argv: [...codex, ...codexSandboxArgs(input), ...modelArgs(input.model), '--', input.prompt], exitKeys: ['/exit'] };
  const eventsPath = eventsPathOf(input);
  const lastMessagePath = join(input.threadDir, 'last-message.txt');
  const argv = [
    ...codex,
    'exec',
    '--json',
    '--output-last-message',
    lastMessagePath,
    ...codexSandboxArgs(input),
    ...modelArgs(input.model),
    '--',
    input.prompt,
  ];
  return { ...common, argv: underTeeEvents(eventsPath, argv), eventsPath, lastMessagePath };
}

/** Links the user's auth.json into the child's home; without one (API key in the environment, keyring) there is nothing to share. */
function shareAuth(userAuth: string, childAuth: string): void {
  privateDir(dirname(childAuth));
  if (existsSync(userAuth)) linkTo(userAuth, childAuth);
  else removeLink(childAuth);
}
