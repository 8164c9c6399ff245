import type { Actor } from '../core/context.js';
import { GitRepository } from '../git/repository.js';
import { Dispatcher, type Services } from '../registry/dispatch.js';
import { SqliteStore } from '../store/database.js';
import { runGate } from '../gate/run-gate.js';
import { TmuxClient } from '../tmux/client.js';
import { runnerAdapter } from './runners.js';
import { methods } from '../methods/index.js';
import { createRegistry } from '../registry/define.js';
import { join } from 'node:path';
import { packageRoot } from '../registry/bundle-info.js';
import { loadConfig } from './config.js';
import { nodeFiles } from './files.js';
import { resolveWorkspace } from './workspace.js';
import { invalid } from '../core/errors.js';

/** The one place where adapters are built and handed to the registry. */
export async function openServices(cwd: string, env: NodeJS.ProcessEnv): Promise<Services> {
  const workspace = await resolveWorkspace(cwd, env);
  return {
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
  };
}

function parseId(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[1-9][0-9]*$/.test(raw)) throw invalid(`${name}=${JSON.stringify(raw)} is not a positive integer id.`, name);
  return Number(raw);
}

/** Reads CODESTRATOR_SESSION_ID / CODESTRATOR_THREAD_ID: the identity a child agent acts as. */
export function envIdentity(env: NodeJS.ProcessEnv): Actor {
  const actor: Actor = {};
  const sessionId = parseId(env, 'CODESTRATOR_SESSION_ID');
  const threadId = parseId(env, 'CODESTRATOR_THREAD_ID');
  if (sessionId !== undefined) actor.sessionId = sessionId;
  if (threadId !== undefined) actor.threadId = threadId;
  return actor;
}

export const registry = createRegistry(methods);

/** A dispatcher for this process: services are opened on the first call and then kept. */
export function createDispatcher(cwd: string, env: NodeJS.ProcessEnv, options: { adoptSessions?: boolean } = {}): Dispatcher {
  let services: Promise<Services> | undefined;
  return new Dispatcher({
    registry,
    envIdentity: () => envIdentity(env),
    adoptSessions: options.adoptSessions ?? false,
    services: () => {
      services ??= openServices(cwd, env);
      // A failed open (not a repository) must not stick: the next call tries again.
      services.catch(() => (services = undefined));
      return services;
    },
  });
}
