/**
 * Ports: what the domain needs from the outside world. Adapters (store/, git/) satisfy these
 * structurally; the entry module (app.ts) wires them. Nothing here imports an adapter.
 */

export type SqlValue = string | number | bigint | null;
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

/** One SQL session inside a transaction. */
export interface Sql {
  get<T>(sql: string, params?: SqlParams): T | undefined;
  all<T>(sql: string, params?: SqlParams): T[];
  run(sql: string, params?: SqlParams): { changes: number; lastInsertRowid: number };
}

export interface WriteOptions {
  /**
   * Whether the writes count as a ledger change for the mirror (default true).
   * Heartbeats pass false so they never make the mirror look outdated.
   */
  ledger?: boolean;
}

/** Transactions: reads see one snapshot; writes run under BEGIN IMMEDIATE and are retried on SQLITE_BUSY. */
export interface Store {
  read<T>(fn: (sql: Sql) => T): T;
  write<T>(fn: (sql: Sql) => T, options?: WriteOptions): T;
  readonly schemaVersion: number;
  readonly path: string;
}

/** git, bound to one repository (its main worktree root). */
export interface GitPort {
  /** The branch new work starts from: the main worktree's checked-out branch, else origin's HEAD, main or master. */
  mainBranch(): Promise<string>;
  /** Full sha of a ref; throws when it does not resolve. */
  resolveCommit(ref: string): Promise<string>;
  /** Local branch names (without refs/heads/) starting with the prefix. */
  listBranches(prefix: string): Promise<Set<string>>;
  addWorktree(options: { path: string; branch: string; base: string }): Promise<void>;
  /** Removes a worktree (forced) and prunes its admin files; a missing one is not an error. */
  removeWorktree(path: string): Promise<void>;
  /** Deletes a local branch; a missing one is not an error. */
  deleteBranch(branch: string): Promise<void>;
  /** Points a worktree codestrator created at its hook wrappers (pre-commit lock check; the repository's own hooks still run). */
  installHooks(worktreePath: string): Promise<void>;
  /** A worktree on no branch at `commit` (for gate runs). */
  addDetachedWorktree(path: string, commit: string): Promise<void>;
  /** Whether git accepts the name as a branch name. */
  isValidBranchName(name: string): Promise<boolean>;

  /** Merges `theirs` into `ours` in memory: no checkout, index or ref changes. */
  mergeTree(ours: string, theirs: string): Promise<{ clean: boolean; tree: string; conflicts: string[] }>;
  commitTree(options: { tree: string; parents: readonly string[]; message: string }): Promise<string>;
  /** Compare-and-swap of a branch: moves it to `next` only if it is still at `expected`. */
  updateBranch(branch: string, next: string, expected: string, reason: string): Promise<boolean>;
  /** Brings a clean checkout from `from` to `to`; false (and nothing changed) if local edits are in the way. */
  advanceCheckout(worktreePath: string, from: string, to: string): Promise<boolean>;
  /** Brings a checkout left behind by an interrupted update from `from` to `to`; blocked (nothing changed) if others' edits are in the way. */
  finishCheckout(
    worktreePath: string,
    from: string,
    to: string,
  ): Promise<{ state: 'matches' | 'advanced' | 'restored' } | { state: 'blocked'; why: string; paths: string[] }>;
  /** Stages and commits everything in a checkout (hooks off); returns the commit. */
  commitAll(worktreePath: string, message: string): Promise<string>;

  /** Changed paths in a checkout (staged, unstaged, and untracked unless `untracked: false`); empty when clean. */
  dirtyPaths(worktreePath: string, options?: { untracked?: boolean }): Promise<string[]>;
  /** Paths changed on `head` since it forked from `base`. */
  changedFiles(base: string, head: string): Promise<string[]>;
  aheadBehind(base: string, head: string): Promise<{ ahead: number; behind: number }>;
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /** Every commit of `head` missing from `base` has an identical patch in `base`. */
  patchesApplied(base: string, head: string): Promise<boolean>;
  /** branch → path of the worktree where it is checked out. */
  checkedOutBranches(): Promise<Map<string, string>>;
  diff(base: string, head: string, maxBytes: number): Promise<{ stat: string; patch: string; bytes: number; truncated: boolean }>;
  commitsBetween(base: string, head: string, limit?: number): Promise<{ sha: string; author: string; date: number; subject: string }[]>;
}

/** Runs the configured gate command on a merged tree. */
export interface GatePort {
  run(run: {
    cwd: string;
    command: string | readonly string[];
    timeoutMs: number;
    logPath: string;
    /** Called once the gate runs, with the pid that leads its process group (so recovery can stop an orphaned gate). */
    onStart?: (pid: number) => void;
  }): Promise<{
    exitCode: number | null;
    timedOut: boolean;
    durationMs: number;
    tail: string;
  }>;
}

/** A tmux pane, as tmux reports it. */
export interface PaneState {
  paneId: string;
  windowId: string;
  sessionName: string;
  pid: number;
  dead: boolean;
  deadStatus: number | null;
}

/** What runtime.tmux.ensure found and did (see TmuxPort.ensureInstalled). */
export interface TmuxInstallReport {
  status: 'ready' | 'installed' | 'manual_required';
  version: string | null;
  package_manager: string | null;
  privilege: 'root' | 'sudo -n' | 'user' | 'password required' | null;
  attempts: { command: string[]; exit_code: number | null; output: string }[];
  manual_commands: string[];
  reason?: string;
}

/** tmux, addressed by pane and window ids (never `session:0`). */
export interface TmuxPort {
  version(): Promise<string | null>;
  hasSession(name: string): Promise<boolean>;
  sessionOption(name: string, option: string): Promise<string | null>;
  openWindow(
    spec: { session: string; windowName: string; cwd: string; argv: readonly string[] },
    sessionTag: { option: string; value: string },
  ): Promise<PaneState>;
  /**
   * Opens a child's pane in the session's shared children window (more windows past perWindow
   * panes), lays the window out, and titles the pane; creates and tags the session on first use.
   */
  openPane(
    spec: {
      session: string;
      windowName: string;
      cwd: string;
      argv: readonly string[];
      title: string;
      split?: 'vertical' | 'horizontal';
      perWindow?: number;
    },
    sessionTag: { option: string; value: string },
  ): Promise<PaneState & { windowName: string; layout: string }>;
  /** Lays a window out again (tiled, even-vertical…); a missing window is no error. */
  selectLayout(windowId: string, layout: string): Promise<void>;
  /** Closes one pane; a missing pane is no error. */
  killPane(paneId: string): Promise<void>;
  /**
   * tmux on env's PATH; when missing and autoInstall, installs it only where that needs no password
   * (root, brew, or `sudo -n`), never prompting; else manual_required with the exact commands.
   */
  ensureInstalled(options: { env: Readonly<Record<string, string | undefined>>; autoInstall: boolean }): Promise<TmuxInstallReport>;
  listPanes(): Promise<PaneState[]>;
  typeText(paneId: string, text: string): Promise<void>;
  sendKey(paneId: string, key: string): Promise<void>;
  capture(paneId: string, lines?: number): Promise<string>;
  killWindow(windowId: string): Promise<void>;
  killSession(name: string): Promise<void>;
  listWindows(session: string): Promise<string[]>;
  /** Signals a pane's whole process group (the runner and everything it started). */
  signalProcessGroup(pid: number, signal: 'SIGTERM' | 'SIGKILL' | 'SIGINT'): void;
  /** Installs tmux without any prompt where that is possible (root with apt-get); returns what it did. */
  install(): Promise<{ installed: boolean; log: string }>;
  /** The `-L <socket>` arguments a person needs to reach the same tmux server (empty for the default one). */
  readonly socketArgs: readonly string[];
  /** The `-L` socket name of the server this port talks to; null for the default server. */
  readonly socket: string | null;
  /** The same operations on the server with that socket name (null: the default server); this port when it is the same. */
  on(socket: string | null): TmuxPort;
}

/** Builds how a runner (codex, claude, gemini, command, script) is started; see runners/types.ts. */
export interface RunnerPort {
  build(input: RunnerLaunchInput): RunnerLaunch;
  /** Absolute path of a program shipped in the package's dist/runners (e.g. pane-wrap.js). */
  program(name: string): string;
  /** What a headless runner's JSONL event stream says: final status, last message, token usage. */
  summarize(events: string): {
    status: 'running' | 'completed' | 'failed' | 'unknown';
    last_text?: string;
    usage: { input_tokens?: number; cached_input_tokens?: number; output_tokens?: number };
    error?: string;
  };
}

export interface RunnerLaunchInput {
  kind: string;
  prompt: string;
  cwd: string;
  sessionId: number;
  threadId: number;
  serverCommand: readonly string[];
  repoPath: string;
  threadDir: string;
  baseEnv: Readonly<Record<string, string | undefined>>;
  command?: readonly string[];
  scriptPath?: string;
  model?: string;
  access?: 'read-only' | 'workspace-write';
  /** For codex runners: the argv that replaces the `codex` program (thread.child.spawn codex_command). */
  program?: readonly string[];
}

export interface RunnerLaunch {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  files: { path: string; content: string; mode?: number }[];
  eventsPath?: string;
  lastMessagePath?: string;
  exitKeys?: string[];
}

/** The few file operations the domain needs. */
export interface FilesPort {
  exists(path: string): boolean;
  /** The file's text, or null when it does not exist. */
  readText(path: string): string | null;
  /** Writes through a temp file and rename, so readers never see half a file. */
  writeAtomic(path: string, text: string, mode?: number): void;
  /** Names of the entries of a directory; empty when it does not exist. */
  listDir(dir: string): string[];
  /** Removes a regular file; false when there is none. */
  removeFile(path: string): boolean;
  /** The path with every symlink resolved, or null when it does not exist. */
  realPath(path: string): string | null;
}

/** Where this repository's state lives. */
export interface Workspace {
  /** Root of the main worktree (where the repo's `.git` directory sits). */
  repoPath: string;
  repoName: string;
  stateDir: string;
  dbPath: string;
  worktreesDir: string;
  logsDir: string;
  mirrorDir: string;
}

/**
 * Processes on this machine, for leases that know their holder: a holder is named by a process key
 * `<machine>/<pid>/<start time>`, since a pid alone is reused.
 */
export interface ProcessPort {
  /** This process's key. */
  readonly self: string;
  /** The key of another process on this machine; null when it does not run. */
  keyOf(pid: number): string | null;
  /** Whether the process named by the key runs: false when it is gone (or its pid was reused); null when it is on another machine. */
  isRunning(key: string): boolean | null;
  /** Kills a process group (SIGKILL); a gone group is no error. */
  stopGroup(pid: number): void;
  /** Fault injection for tests: kills this process at once (SIGKILL) when CODESTRATOR_FAULT names the point. */
  checkpoint(point: string): void;
}
