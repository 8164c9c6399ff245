/**
 * Repository configuration, read from `.codestrator/config.json`. Every field is optional; the
 * defaults below apply with no file at all. Parsed and validated in app/config.ts.
 */
export interface RepoConfig {
  /** Branch the merge queue lands on; default: the repository's main branch (see GitPort.mainBranch). */
  target_branch: string | null;
  /** Command run on the merged tree before publishing; null = no gate. */
  gate: { command: string | string[]; timeout_seconds: number } | null;
  /** Whether a merge-queue item needs an APPROVE verdict on its merge request. */
  review_required: boolean;
  lock_ttl_seconds: number;
  heartbeat_timeout_seconds: number;
  merge_lock_ttl_seconds: number;
  /** Cap on the patch returned by merge.review_context, in bytes. */
  review_diff_max_bytes: number;
  /** A child silent this long is idle: its pending messages are typed into its pane. */
  idle_delivery_seconds: number;
  /** Ceiling on a session's live children: a spawn's max_concurrent_children may lower it, never raise it. */
  max_concurrent_children: number;
  /** The agent a merge.review.request_auto reviewer runs as, unless the call names one; null = the spawn default (codex). */
  reviewer: ChildAgent | null;
}

/** Which agent a child runs: a runner kind plus what that runner needs. */
export interface ChildAgent {
  runner: string;
  command?: string[];
  script_path?: string;
  model?: string;
}

export const DEFAULT_CONFIG: RepoConfig = {
  target_branch: null,
  gate: null,
  review_required: false,
  lock_ttl_seconds: 600,
  heartbeat_timeout_seconds: 300,
  merge_lock_ttl_seconds: 900,
  review_diff_max_bytes: 200_000,
  idle_delivery_seconds: 20,
  max_concurrent_children: 6,
  reviewer: null,
};

export const CONFIG_FILE = 'config.json';
