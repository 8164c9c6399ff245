import { join } from 'node:path';
import { GitRepository } from '../git/repository.js';
import { runGate } from '../gate/run-gate.js';
import type { Services } from '../registry/dispatch.js';
import { packageRoot } from '../registry/bundle-info.js';
import { SqliteStore } from '../store/database.js';
import { TmuxClient } from '../tmux/client.js';
import { loadConfig } from './config.js';
import { nodeFiles } from './files.js';
import { callerOrigin } from './origin.js';
import { nodeProcesses } from './processes.js';
import { recoverInterrupted } from '../core/recovery.js';
import { runnerAdapter } from './runners.js';
import { resolveWorkspace } from './workspace.js';

/**
 * The one place where adapters are built and handed to the registry. `agent`: the services of an
 * agent's own MCP server, which know where that agent runs (its origin). `recoverOnStart` (default
 * true): repair what dead processes left before the first call.
 */
export async function openServices(
  cwd: string,
  env: NodeJS.ProcessEnv,
  options: { agent?: boolean; recoverOnStart?: boolean } = {},
): Promise<Services> {
  const workspace = await resolveWorkspace(cwd, env);
  const services: Services = {
    workspace,
    store: new SqliteStore(workspace.dbPath),
    git: new GitRepository(workspace.repoPath, {
      argv: [process.execPath, join(packageRoot, 'bin', 'codestrator.js'), 'hook', 'pre-commit'],
      dir: join(workspace.stateDir, 'hooks'),
    }),
    files: nodeFiles,
    gate: { run: runGate },
    tmux: new TmuxClient(env.CODESTRATOR_TMUX_SOCKET ? { socket: env.CODESTRATOR_TMUX_SOCKET } : {}),
    runners: runnerAdapter,
    runtime: {
      templatesDir: join(packageRoot, 'templates', 'roles'),
      serverCommand: [process.execPath, join(packageRoot, 'bin', 'codestrator.js'), 'mcp'],
      baseEnv: env,
    },
    config: () => loadConfig(workspace.stateDir),
    processes: nodeProcesses(env),
    ...(options.agent ? { origin: callerOrigin(cwd, env) } : {}),
  };
  // `codestrator doctor` opts out, so its dry run shows what is left instead of repairing it first.
  if (options.recoverOnStart ?? true) await recoverOnStart(services);
  return services;
}

/**
 * The first call of a process that opens the store finishes or rolls back what dead processes left
 * (recovery.ts). Best effort: a failure here must not make the call fail.
 */
async function recoverOnStart(services: Services): Promise<void> {
  try {
    await recoverInterrupted({ ...services, config: services.config(), actor: {}, now: Date.now }, { apply: true });
  } catch {
    // `codestrator doctor` shows what is left.
  }
}
