import type { CoreContext } from './context.js';
import { ownerKeyOf } from './identity.js';
import { conflictingLocks, scopePathIn } from './locks.js';
import { parseJson } from './json.js';
import { getTask } from './tasks.js';
import { changedFilesByBranch } from './conflicts.js';
import type { WorktreeRow } from './rows.js';
import { isUnder } from './scope-path.js';
import { targetBranch } from './target.js';

export interface DecideInput {
  changed_files?: number;
  estimate_minutes?: number;
  risk?: number;
  parallel_workers?: number;
  conflicting_paths?: number;
  paths?: string[];
  task_id?: number;
}

/** Score at or above which a separate worktree is recommended. */
export const WORKTREE_THRESHOLD = 12;

interface PathFacts {
  paths: string[];
  locked: Map<string, number[]>;
  others: WorktreeRow[];
}

/** Normalised paths (given, or the required_files of a task's cases) and the other owners' locks on them. */
function pathFacts(ctx: CoreContext, input: DecideInput): PathFacts {
  return ctx.store.read((sql) => {
    const raw = [...(input.paths ?? [])];
    if (input.task_id !== undefined) {
      getTask(sql, input.task_id);
      const rows = sql.all<{ required_files: string | null }>(
        `WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT t.id FROM tasks t JOIN sub ON t.parent_id = sub.id)
         SELECT t.required_files FROM tasks t JOIN sub ON t.id = sub.id WHERE t.level = 'case'`,
        [input.task_id],
      );
      for (const row of rows) raw.push(...parseJson<string[]>(row.required_files, []));
    }
    const now = ctx.now();
    const owner = ownerKeyOf(ctx.actor);
    const paths = [...new Set(raw.map((path, index) => scopePathIn(sql, ctx, path, `paths.${index}`, true)))];
    const locked = new Map<string, number[]>();
    for (const path of paths) {
      const holders = conflictingLocks(sql, { scope_type: 'prefix', scope_path: path }, owner, now);
      if (holders.length > 0)
        locked.set(
          path,
          holders.map((lock) => lock.id),
        );
    }
    // Other sessions' active branches: work there on the same paths is a merge conflict waiting to happen.
    const others = sql.all<WorktreeRow>(
      "SELECT * FROM worktrees WHERE status = 'active' AND (owner_session_id IS NULL OR owner_session_id != ?)",
      [ctx.actor.sessionId ?? -1],
    );
    return { paths, locked, others };
  });
}

/**
 * scheduler.decide_worktree: the contract's weighted score. With paths (or a task whose cases
 * name required_files) it also counts the paths other owners hold locks on, and the paths other
 * sessions' active branches already changed (from the conflict predictor's diff of each branch).
 */
export async function decideWorktree(ctx: CoreContext, input: DecideInput) {
  const facts = pathFacts(ctx, input);
  const changedElsewhere = new Map<string, number[]>();
  if (facts.paths.length > 0 && facts.others.length > 0) {
    const target = await targetBranch(ctx).catch(() => null);
    if (target) {
      const changed = await changedFilesByBranch(ctx, target, facts.others);
      for (const path of facts.paths) {
        const ids = facts.others.filter((row) => changed.get(row.id)?.some((file) => isUnder(file, path))).map((row) => row.id);
        if (ids.length > 0) changedElsewhere.set(path, ids);
      }
    }
  }
  const contested = new Set([...facts.locked.keys(), ...changedElsewhere.keys()]);
  const changedFiles = input.changed_files ?? facts.paths.length;
  const conflicting = (input.conflicting_paths ?? 0) + contested.size;
  const terms: [string, number, number][] = [
    ['changed_files', changedFiles, changedFiles],
    ['estimate_minutes', input.estimate_minutes ?? 0, Math.ceil((input.estimate_minutes ?? 0) / 15)],
    ['risk', input.risk ?? 0, 3 * (input.risk ?? 0)],
    ['parallel_workers', input.parallel_workers ?? 0, 2 * (input.parallel_workers ?? 0)],
    ['conflicting_paths', conflicting, 2 * conflicting],
  ];
  const score = terms.reduce((sum, [, , points]) => sum + points, 0);
  const reasons = terms.filter(([, value]) => value > 0).map(([name, value, points]) => `${name}=${value}(+${points})`);
  if (facts.locked.size > 0) reasons.push(`locked_by_others=${[...facts.locked.keys()].join(',')}`);
  if (changedElsewhere.size > 0) reasons.push(`changed_on_other_branches=${[...changedElsewhere.keys()].join(',')}`);
  return {
    mode: score >= WORKTREE_THRESHOLD ? 'worktree' : 'shared',
    score,
    threshold: WORKTREE_THRESHOLD,
    reasons,
    locked_paths: [...facts.locked].map(([path, lockIds]) => ({ path, lock_ids: lockIds })),
    changed_on_other_branches: [...changedElsewhere].map(([path, worktreeIds]) => ({ path, worktree_ids: worktreeIds })),
  };
}
