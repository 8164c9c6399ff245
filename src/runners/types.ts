/**
 * Runners turn "start this agent on this prompt in this worktree as this thread" into a launch
 * spec: an argument vector, environment and files, started directly (never through a shell).
 */

export const RUNNER_KINDS = ['codex', 'codex_exec', 'claude', 'claude_exec', 'gemini', 'command', 'script'] as const;
export type RunnerKind = (typeof RUNNER_KINDS)[number];

export interface RunnerInput {
  kind: RunnerKind;
  /** The full initial prompt (role template + context pack + assignment). */
  prompt: string;
  /** The child's worktree: its working directory. */
  cwd: string;
  /** Identity the child's MCP server acts as. */
  sessionId: number;
  threadId: number;
  /** How to start codestrator's MCP server: [node, <abs>/bin/codestrator.js, 'mcp']. */
  serverCommand: readonly string[];
  /** The repository's main worktree (CODESTRATOR_REPO for the child's server). */
  repoPath: string;
  /** A private directory for this thread: CODEX_HOME, MCP config files, event logs, last message. */
  threadDir: string;
  /** The user's environment (HOME, PATH, CODEX_HOME…) the runner starts from. */
  baseEnv: Readonly<Record<string, string | undefined>>;
  /** For `command`: the argv to run. */
  command?: readonly string[];
  /** For `script`: the path of the JSON script the built-in scripted agent follows. */
  scriptPath?: string;
  /** Optional model name passed to the CLI. */
  model?: string;
  /**
   * What the agent may change: `workspace-write` (its worktree) for workers, `read-only` for
   * reviewers and researchers. Mapped to each CLI's own sandbox or permission mode.
   */
  access?: 'read-only' | 'workspace-write';
  /** For codex runners: the argv that replaces the `codex` program (e.g. ["npx", "codex"]). */
  program?: readonly string[];
}

export interface LaunchFile {
  path: string;
  content: string;
  /** File mode, e.g. 0o600 for files holding config. */
  mode?: number;
}

export interface LaunchSpec {
  argv: string[];
  /** Variables to set on top of the base environment (identity, CODEX_HOME…). */
  env: Record<string, string>;
  cwd: string;
  /** Files written before launch (MCP config, CODEX_HOME/config.toml…). */
  files: LaunchFile[];
  /** Where a headless runner's JSONL events are kept (parsed into the thread's status). */
  eventsPath?: string;
  /** Where a headless runner writes its last message. */
  lastMessagePath?: string;
  /** How to ask the agent to exit on its own before signals (typed into the pane), if it has a way. */
  exitKeys?: string[];
}

/** What a runner's event stream says about the thread, in codestrator's terms. */
export interface RunnerEvent {
  status?: 'running' | 'completed' | 'failed';
  /** A short human line for the thread's last output. */
  text?: string;
  usage?: { input_tokens?: number; output_tokens?: number; cached_input_tokens?: number };
  error?: string;
}
