import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_DIR_NAME, locateWorkspace, unknownStateDir } from '../app/workspace.js';
import { REFUSED_EXIT_CODE, stagedPaths } from '../git/hooks.js';
import { locateRepository } from '../git/repository.js';
import { runGit } from '../git/run-git.js';
import type { Dispatcher } from '../registry/dispatch.js';

/** lock.check takes at most this many paths per call. */
const BATCH = 10_000;

/** Set to a reason, it lets a commit through when the check cannot run; the reason is recorded. */
export const HOOK_OVERRIDE_VAR = 'CODESTRATOR_HOOK_OVERRIDE';
/** Where overrides are recorded, under the state dir: the database is what could not be used. */
export const HOOK_OVERRIDE_LOG = 'hook-overrides.log';

interface Conflict {
  path: string;
  lock_id: number;
  scope_type: string;
  scope_path: string;
  owner: string;
  lease_until: number;
  expires_in_seconds: number;
}

/** The state dir to record an override in: the configured one when it holds state, else the repository's own. */
async function overrideLog(cwd: string): Promise<string> {
  try {
    const workspace = await locateWorkspace(cwd, process.env);
    if (existsSync(workspace.dbPath)) return join(workspace.stateDir, HOOK_OVERRIDE_LOG);
  } catch {
    // Fall back to the repository's own state dir.
  }
  const location = await locateRepository(cwd).catch(() => undefined);
  return join(location?.mainRoot ?? cwd, STATE_DIR_NAME, HOOK_OVERRIDE_LOG);
}

/**
 * The check could not run: the commit is refused, unless CODESTRATOR_HOOK_OVERRIDE gives a
 * reason, which is appended (time, checkout, reason, what failed) to the override log.
 */
async function cannotCheck(reason: string): Promise<number> {
  const override = process.env[HOOK_OVERRIDE_VAR]?.trim();
  if (!override) {
    process.stderr.write(
      `codestrator: the lock check could not run (${reason}), so this commit is refused: its paths are not checked against locks.\n` +
        `codestrator: fix the cause, or commit with ${HOOK_OVERRIDE_VAR}="<why>" to go ahead; the override is recorded.\n`,
    );
    return REFUSED_EXIT_CODE;
  }
  const log = await overrideLog(process.cwd());
  const entry = { at: new Date().toISOString(), checkout: process.cwd(), reason: override, failure: reason };
  try {
    mkdirSync(join(log, '..'), { recursive: true });
    appendFileSync(log, `${JSON.stringify(entry)}\n`);
  } catch (err) {
    process.stderr.write(`codestrator: the override could not be recorded in ${log} (${String(err)}); the commit is refused.\n`);
    return REFUSED_EXIT_CODE;
  }
  process.stderr.write(`codestrator: warning: the lock check could not run (${reason}); overridden ("${override}"), recorded in ${log}.\n`);
  return 0;
}

/**
 * `codestrator hook <name>`, run by the wrappers codestrator installs in its worktrees (and the
 * main checkout). pre-commit refuses a commit that touches a path locked by another owner
 * (lock.check, the rule of core/lock-check.ts), naming the lock, its holder and expiry, with
 * REFUSED_EXIT_CODE; any other hook name is a no-op (exit 0).
 *
 * When the check cannot run (the database busy past its retry budget, bad identity variables,
 * a CODESTRATOR_STATE_DIR with no state in it, git failing) the commit is refused too, with the
 * cause: an unchecked commit could land a locked edit. CODESTRATOR_HOOK_OVERRIDE="<reason>" lets
 * it through, recorded.
 */
export async function runHook(dispatcher: Dispatcher, name: string): Promise<number> {
  if (name !== 'pre-commit') return 0;
  let worktree: string;
  let paths: string[];
  try {
    const unknown = await unknownStateDir(process.cwd(), process.env);
    if (unknown) return await cannotCheck(unknown);
    worktree = (await runGit(process.cwd(), ['rev-parse', '--show-toplevel'])).stdout.trim();
    paths = await stagedPaths(process.cwd(), process.env.GIT_INDEX_FILE);
  } catch (err) {
    return cannotCheck(err instanceof Error ? err.message : String(err));
  }
  const conflicts: Conflict[] = [];
  for (let start = 0; start < paths.length; start += BATCH) {
    const outcome = await dispatcher.call('lock.check', { paths: paths.slice(start, start + BATCH), worktree_path: worktree });
    if (!outcome.ok) return cannotCheck(`${outcome.error.error.code}: ${outcome.error.error.message}`);
    conflicts.push(...(outcome.result.conflicts as Conflict[]));
  }
  for (const c of conflicts) {
    process.stderr.write(
      `codestrator: ${c.path} is locked by ${c.owner} (lock ${c.lock_id}, ${c.scope_type} ${c.scope_path}) until ${new Date(c.lease_until).toISOString()} (in ${c.expires_in_seconds} s). Ask the holder or wait; commit with --no-verify only if you must (the merge queue still checks the lock).\n`,
    );
  }
  return conflicts.length > 0 ? REFUSED_EXIT_CODE : 0;
}
