import { identityEnv } from './shared.js';
import type { LaunchSpec, RunnerInput } from './types.js';

/**
 * Any command, run as given (no shell). It learns who it is from the environment: the identity
 * variables, and CODESTRATOR_SERVER_COMMAND (JSON argv) if it wants to start codestrator's MCP
 * server itself. codestrator writes no configuration for it.
 */
export function commandLaunch(input: RunnerInput): LaunchSpec {
  const argv = [...(input.command ?? [])];
  if (argv.length === 0 || !argv[0]) throw new Error('The command runner needs `command`: the argv to run, e.g. ["my-agent", "--flag"].');
  return {
    argv,
    env: { ...identityEnv(input), CODESTRATOR_SERVER_COMMAND: JSON.stringify(input.serverCommand) },
    cwd: input.cwd,
    files: [],
  };
}
