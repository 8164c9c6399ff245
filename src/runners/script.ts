import { identityEnv, runnerProgram } from './shared.js';
import type { LaunchSpec, RunnerInput } from './types.js';

/**
 * The built-in scripted agent (script-agent.ts), which follows the JSON script at scriptPath as a
 * real MCP client of codestrator's server, started from CODESTRATOR_SERVER_COMMAND.
 */
export function scriptLaunch(input: RunnerInput): LaunchSpec {
  if (!input.scriptPath) throw new Error('The script runner needs `scriptPath`: the JSON script the scripted agent follows.');
  return {
    argv: [process.execPath, runnerProgram('script-agent.js'), input.scriptPath],
    env: { ...identityEnv(input), CODESTRATOR_SERVER_COMMAND: JSON.stringify(input.serverCommand) },
    cwd: input.cwd,
    files: [],
  };
}
