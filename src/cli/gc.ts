import { basename } from 'node:path';
import type { GcResult } from '../core/gc.js';
import type { Dispatcher } from '../registry/dispatch.js';
import { callShowingProgress } from './progress.js';
import { table } from './table.js';

const worktrees = (n: number) => `${n} worktree${n === 1 ? '' : 's'}`;

/**
 * `codestrator gc [--apply] [--json]`: what worktree.gc removes and keeps, as a table or JSON.
 */
export async function renderGc(dispatcher: Dispatcher, options: { apply: boolean; json: boolean }): Promise<number> {
  const outcome = await callShowingProgress(dispatcher, 'worktree.gc', { apply: options.apply });
  if (!outcome.ok) {
    process.stderr.write(`${JSON.stringify(outcome.error, null, 2)}\n`);
    return 1;
  }
  const result = outcome.result as unknown as GcResult;
  const logsDeleted = result.dry_run ? [] : result.remove.flatMap((item) => item.logs);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  const rows = [
    ...result.remove.map((item) => ({ ...item, action: result.dry_run ? 'remove' : 'removed' })),
    ...result.keep.map((item) => ({ ...item, action: result.dry_run ? 'keep' : 'kept' })),
  ].sort((a, b) => a.worktree_id - b.worktree_id);
  const out: string[] = [];
  if (rows.length > 0) {
    out.push(
      table(
        ['ACTION', 'WORKTREE', 'BRANCH', 'REASON'],
        rows.map((row) => [row.action, `${row.worktree_id} ${basename(row.path)}`, row.branch, row.reason]),
      ),
    );
  }
  const n = result.remove.length;
  if (result.dry_run) out.push(n === 0 ? 'dry run: nothing to remove\n' : `dry run: pass --apply to remove ${worktrees(n)}\n`);
  else out.push(`removed ${worktrees(n)}${logsDeleted.length > 0 ? ` and ${logsDeleted.length} log files` : ''}\n`);
  process.stdout.write(out.join(''));
  return 0;
}
