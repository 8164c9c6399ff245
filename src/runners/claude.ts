import { join } from 'node:path';
import { eventsPathOf, identityEnv, modelArgs, serverEntry, underTeeEvents, claudePermissionArgs } from './shared.js';
import type { LaunchSpec, RunnerInput } from './types.js';

/**
 * Claude Code. `claude`: the interactive session with the prompt as its first message;
 * `claude_exec`: headless `claude -p --output-format stream-json --verbose` (Claude Code 2.1
 * refuses stream-json in -p mode without --verbose), its events kept by tee-events.
 *
 * The MCP server comes from `--mcp-config <threadDir>/claude-mcp.json` and its tools are allowed
 * with `--allowedTools mcp__codestrator` (a rule naming the server covers all of its tools). Both
 * options take several values, so the prompt goes after `--`: otherwise it would be read as one
 * more allowed tool. The user's own settings and permissions still apply to everything else.
 */
export function claudeLaunch(input: RunnerInput, mode: { exec: boolean }): LaunchSpec {
  const mcpConfigPath = join(input.threadDir, 'claude-mcp.json');
  const mcpConfig = { mcpServers: { codestrator: { type: 'stdio', ...serverEntry(input) } } };
  const options = [
    '--mcp-config',
    mcpConfigPath,
    '--allowedTools',
    'mcp__codestrator',
    ...claudePermissionArgs(input),
    ...modelArgs(input.model),
  ];
  const common = {
    env: identityEnv(input),
    cwd: input.cwd,
    files: [{ path: mcpConfigPath, content: `${JSON.stringify(mcpConfig, null, 2)}\n`, mode: 0o600 }],
  };
  if (!mode.exec) return { ...common, argv: ['claude', ...options, '--', input.prompt], exitKeys: ['/exit'] };
  const eventsPath = eventsPathOf(input);
  const argv = ['claude', '-p', '--output-format', 'stream-json', '--verbose', ...options, '--', input.prompt];
  return { ...common, argv: underTeeEvents(eventsPath, argv), eventsPath };
}
