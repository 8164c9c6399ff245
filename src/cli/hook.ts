import { REFUSED_EXIT_CODE, stagedPaths } from '../git/hooks.js';
import { runGit } from '../git/run-git.js';
import type { Dispatcher } from '../registry/dispatch.js';

/** lock.check takes at most this many paths per call. */
const BATCH = 10_000;

interface Conflict {
  path: string;
  lock_id: number;
  scope_type: string;
  scope_path: string;
  owner: string;
  lease_until: number;
  expires_in_seconds: number;
}

const warn = (reason: string) =>
  process.stderr.write(`codestrator: warning: the lock check was skipped (${reason}); this commit is not checked against locks.\n`);

/**
 * `codestrator hook <name>`, run by the wrappers codestrator installs in its worktrees.
 * pre-commit refuses a commit that touches a path locked by another owner, naming the lock, its
 * holder and expiry, with REFUSED_EXIT_CODE (the wrapper lets any other failure through); any
 * other hook name is a no-op (exit 0).
 *
 * When codestrator itself is broken (no readable state, git or the database failing), the hook
 * warns and lets the commit through: a broken coordinator must never stop people committing.
 */
export async function runHook(dispatcher: Dispatcher, name: string): Promise<number> {
  if (name !== 'pre-commit') return 0;
  let worktree: string;
  let paths: string[];
  try {
    worktree = (await runGit(process.cwd(), ['rev-parse', '--show-toplevel'])).stdout.trim();
    paths = await stagedPaths(process.cwd(), process.env.GIT_INDEX_FILE);
  } catch (err) {
    warn(err instanceof Error ? err.message : String(err));
    return 0;
  }
  const conflicts: Conflict[] = [];
  for (let start = 0; start < paths.length; start += BATCH) {
    const outcome = await dispatcher.call('lock.check', { paths: paths.slice(start, start + BATCH), worktree_path: worktree });
    if (!outcome.ok) {
      warn(`${outcome.error.error.code}: ${outcome.error.error.message}`);
      return 0;
    }
    conflicts.push(...(outcome.result.conflicts as Conflict[]));
  }
  for (const c of conflicts) {
    process.stderr.write(
      `codestrator: ${c.path} is locked by ${c.owner} (lock ${c.lock_id}, ${c.scope_type} ${c.scope_path}) until ${new Date(c.lease_until).toISOString()} (in ${c.expires_in_seconds} s). Ask the holder or wait; commit with --no-verify only if you must.\n`,
    );
  }
  return conflicts.length > 0 ? REFUSED_EXIT_CODE : 0;
}
