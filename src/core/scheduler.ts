import type { CoreContext } from './context.js';
import { ownerKeyOf } from './identity.js';
import { conflictingLocks, scopePathIn } from './locks.js';
import { parseJson } from './json.js';
import { getTask } from './tasks.js';

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

/**
 * scheduler.decide_worktree: the contract's weighted score. With paths (or a task whose cases
 * name required_files) it also counts the paths that collide with other owners' live locks.
 */
export function decideWorktree(ctx: CoreContext, input: DecideInput) {
  return ctx.store.read((sql) => {
    const paths = [...(input.paths ?? [])];
    if (input.task_id !== undefined) {
      getTask(sql, input.task_id);
      const rows = sql.all<{ required_files: string | null }>(
        `WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT t.id FROM tasks t JOIN sub ON t.parent_id = sub.id)
         SELECT t.required_files FROM tasks t JOIN sub ON t.id = sub.id WHERE t.level = 'case'`,
        [input.task_id],
      );
      for (const row of rows) paths.push(...parseJson<string[]>(row.required_files, []));
    }
    const now = ctx.now();
    const owner = ownerKeyOf(ctx.actor);
    const locked = new Map<string, number[]>();
    for (const [index, path] of [...new Set(paths)].entries()) {
      const scopePath = scopePathIn(sql, ctx, path, `paths.${index}`, true);
      const holders = conflictingLocks(sql, { scope_type: 'prefix', scope_path: scopePath }, owner, now);
      if (holders.length > 0)
        locked.set(
          scopePath,
          holders.map((lock) => lock.id),
        );
    }
    const changedFiles = input.changed_files ?? new Set(paths).size;
    const conflicting = (input.conflicting_paths ?? 0) + locked.size;
    const terms: [string, number, number][] = [
      ['changed_files', changedFiles, changedFiles],
      ['estimate_minutes', input.estimate_minutes ?? 0, Math.ceil((input.estimate_minutes ?? 0) / 15)],
      ['risk', input.risk ?? 0, 3 * (input.risk ?? 0)],
      ['parallel_workers', input.parallel_workers ?? 0, 2 * (input.parallel_workers ?? 0)],
      ['conflicting_paths', conflicting, 2 * conflicting],
    ];
    const score = terms.reduce((sum, [, , points]) => sum + points, 0);
    const reasons = terms.filter(([, value]) => value > 0).map(([name, value, points]) => `${name}=${value}(+${points})`);
    if (locked.size > 0) reasons.push(`locked_by_others=${[...locked.keys()].join(',')}`);
    return {
      mode: score >= WORKTREE_THRESHOLD ? 'worktree' : 'shared',
      score,
      threshold: WORKTREE_THRESHOLD,
      reasons,
      locked_paths: [...locked].map(([path, lockIds]) => ({ path, lock_ids: lockIds })),
    };
  });
}
