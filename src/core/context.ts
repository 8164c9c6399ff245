import type { RepoConfig } from './config.js';

/** Facts about this installation that child agents need. */
export interface RuntimeOptions {
  templatesDir: string;
  serverCommand: readonly string[];
  baseEnv: Readonly<Record<string, string | undefined>>;
}
import type { FilesPort, GatePort, GitPort, ProcessPort, RunnerPort, Store, TmuxPort, Workspace } from './ports.js';

/** Who is calling: a session, or a thread acting inside a session. */
export interface Actor {
  sessionId?: number;
  threadId?: number;
}

/**
 * Where the agent an MCP server serves runs, as that server sees it: how a restarted agent (a new
 * client and server process) finds its session again.
 */
export interface CallerOrigin {
  /** The server's working directory (real path): agents start in the worktree they work in. */
  cwd: string;
  /** A stable name of the client's terminal (tmux pane, terminal session id or tty), when one is found. */
  terminal: string | null;
  /** This server process, as `pid:starttime` (or the pid where start times are unknown). */
  process: string;
  /** Whether the server process recorded as `process` still runs. */
  isRunning(process: string): boolean;
}

/** Everything a domain function may use. Built per call by the dispatcher. */
export interface CoreContext {
  store: Store;
  git: GitPort;
  files: FilesPort;
  gate: GatePort;
  tmux: TmuxPort;
  runners: RunnerPort;
  /** Which processes run (lease holders, gates); absent in bare contexts, where leases alone decide. */
  processes?: ProcessPort;
  /** Where the package's templates are, how to start codestrator's MCP server, the user's environment. */
  runtime: RuntimeOptions;
  workspace: Workspace;
  /** `.codestrator/config.json` merged over the defaults, as of this call. */
  config: RepoConfig;
  /** Identity taken from the call's params, else from CODESTRATOR_SESSION_ID / CODESTRATOR_THREAD_ID. */
  actor: Actor;
  /** Set for an agent's own MCP server (which adopts the sessions it opens); absent for the CLI and supervisors. */
  origin?: CallerOrigin;
  now(): number;
  /**
   * Where long operations (queue processing, gates, spawns, gc) say what they are doing now; each
   * message names the new current step. Absent when nobody watches (MCP, piped CLI).
   */
  progress?: (step: string) => void;
}
