import type { RepoConfig } from './config.js';
import type { FilesPort, GatePort, GitPort, Store, Workspace } from './ports.js';

/** Who is calling: a session, or a thread acting inside a session. */
export interface Actor {
  sessionId?: number;
  threadId?: number;
}

/** Everything a domain function may use. Built per call by the dispatcher. */
export interface CoreContext {
  store: Store;
  git: GitPort;
  files: FilesPort;
  gate: GatePort;
  workspace: Workspace;
  /** `.codestrator/config.json` merged over the defaults, as of this call. */
  config: RepoConfig;
  /** Identity taken from the call's params, else from CODESTRATOR_SESSION_ID / CODESTRATOR_THREAD_ID. */
  actor: Actor;
  now(): number;
}
