import type { Actor } from '../core/context.js';
import { invalid } from '../core/errors.js';
import { methods } from '../methods/index.js';
import { createRegistry } from '../registry/define.js';
import { Dispatcher, type Services } from '../registry/dispatch.js';
import { INIT_VAR } from './workspace.js';

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
export function createDispatcher(
  cwd: string,
  env: NodeJS.ProcessEnv,
  options: { adoptSessions?: boolean; recoverOnStart?: boolean } = {},
): Dispatcher {
  let services: Promise<Services> | undefined;
  return new Dispatcher({
    registry,
    envIdentity: () => envIdentity(env),
    adoptSessions: options.adoptSessions ?? false,
    services: (intent = {}) => {
      // workspace.init may create state in a new CODESTRATOR_STATE_DIR, as `codestrator init` may.
      const opened = intent.init ? { ...env, [INIT_VAR]: '1' } : env;
      // Adapters (SQLite, git, tmux, runners) load on the first call, so initialize is answered fast.
      services ??= import('./open-services.js').then((module) =>
        module.openServices(cwd, opened, {
          agent: options.adoptSessions ?? false,
          recoverOnStart: options.recoverOnStart ?? true,
        }),
      );
      // A failed open (not a repository) must not stick: the next call tries again.
      services.catch(() => (services = undefined));
      return services;
    },
  });
}
