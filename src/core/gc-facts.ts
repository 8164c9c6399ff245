import { isAbsolute, join, relative } from 'node:path/posix';
import type { CoreContext } from './context.js';
import { isOwnerLive } from './identity.js';
import type { Sql } from './ports.js';
import { BRANCH_PREFIX, gitStep } from './worktree-create.js';
import { OPEN_STATES } from './queue-states.js';

/** A `creating` row older than this is a reservation whose process died before activating it. */
export const STALE_RESERVATION_MS = 10 * 60_000;
const OPEN_QUEUE_STATES = `(${OPEN_STATES.map((state) => `'${state}'`).join(', ')})`;
const FINAL_QUEUE_STATES = "('merged', 'conflict', 'gate_failed', 'cancelled')";

/** What gc knows about one worktree row when it decides (see planGc in gc.ts). */
export interface GcFacts {
  worktreeId: number;
  path: string;
  branch: string;
  status: 'planned' | 'creating' | 'active' | 'merged';
  /** Why gc must leave the row alone (codestrator did not name its branch or path); null when gc may act. */
  foreign: string | null;
  /** The directory is on disk. */
  exists: boolean;
  branchExists: boolean;
  /** Changed paths in the checkout (staged, unstaged, untracked); empty when clean or missing. */
  dirtyPaths: string[];
  /** How the branch is in the target: its tip is an ancestor, or each of its commits has an identical patch there. */
  merged: 'ancestor' | 'identical patch' | null;
  /** Commits on the branch missing from the target (0 when merged by ancestry). */
  ahead: number;
  /** Merged by ancestry with the tip still at the commit it was created at: nothing was ever committed. */
  untouched: boolean;
  /** The owner still holding it, e.g. `live session:3`; null when none. */
  heldBy: string | null;
  /** An in-progress case of its owner, e.g. `case 12 of session:3`; null when none. */
  activeCase: string | null;
  /** An open merge-queue item for it, e.g. `item 4, checking`; null when none. */
  openQueueItem: string | null;
  /** Child worktrees (parent_worktree_id) still active whose branches are not in the target. */
  unmergedChildren: number[];
  /** The branch is checked out in its own directory. */
  ownCheckout: boolean;
  /** Where else the branch is checked out (`the main checkout` or a path); null when nowhere else. */
  checkedOutElsewhere: string | null;
  /** Gate logs of finished merge-queue items for it, inside the logs directory. */
  logs: string[];
}

interface CandidateRow {
  id: number;
  path: string;
  branch: string;
  base_sha: string;
  status: 'planned' | 'creating' | 'active' | 'merged';
  owner_session_id: number | null;
  owner_thread_id: number | null;
  creator_process: string | null;
}

const creatorRuns = (ctx: CoreContext, key: string | null) => key !== null && ctx.processes?.isRunning(key) === true;

/** Facts from the database, read in one snapshot. */
interface LedgerFacts {
  heldBy: string | null;
  activeCase: string | null;
  openQueueItem: string | null;
  children: { id: number; branch: string }[];
  logs: string[];
}

const inside = (dir: string, path: string) => {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel);
};

function foreignReason(row: CandidateRow, worktreesDir: string): string | null {
  if (!row.branch.startsWith(BRANCH_PREFIX)) {
    return `not created by codestrator: branch ${row.branch} is outside ${BRANCH_PREFIX} (worktree.remove removes it)`;
  }
  // Also a worktree placed at a caller's path (worktree.create / spawn with path): that directory is the caller's.
  if (!inside(worktreesDir, row.path)) return `at a caller's path: ${row.path} is outside ${worktreesDir} (worktree.remove removes it)`;
  return null;
}

/**
 * Who still holds the worktree: its owner thread while unfinished, its owner session while live,
 * or a suspended session that was never closed (its root thread still runs, and a resume would
 * hand this worktree over), which session.cleanup closes. `keys` are every owner key it answers to.
 */
function holder(sql: Sql, row: CandidateRow, now: number): { heldBy: string | null; keys: string[] } {
  const thread = row.owner_thread_id === null ? null : `thread:${row.owner_thread_id}`;
  const session = row.owner_session_id === null ? null : `session:${row.owner_session_id}`;
  const root = sql.get<{ root_thread_id: number | null }>('SELECT root_thread_id FROM sessions WHERE id = ?', [row.owner_session_id]);
  const rootThread = root?.root_thread_id ? `thread:${root.root_thread_id}` : null;
  let heldBy: string | null = null;
  if (thread && isOwnerLive(sql, thread, now)) heldBy = `live ${thread}`;
  else if (session && isOwnerLive(sql, session, now)) heldBy = `live ${session}`;
  else if (rootThread && isOwnerLive(sql, rootThread, now)) heldBy = `${session}, suspended but not closed (session.cleanup closes it)`;
  return { heldBy, keys: [thread, session, rootThread].filter((key) => key !== null) };
}

function ledgerFacts(sql: Sql, row: CandidateRow, logsDir: string, now: number): LedgerFacts {
  const { heldBy, keys } = holder(sql, row, now);
  const activeCase =
    keys.length === 0
      ? undefined
      : sql.get<{ id: number; owner_key: string }>(
          `SELECT id, owner_key FROM tasks WHERE level = 'case' AND status = 'in_progress'
           AND owner_key IN (${keys.map(() => '?').join(', ')}) ORDER BY id LIMIT 1`,
          keys,
        );
  const queued = sql.get<{ id: number; state: string }>(
    `SELECT id, state FROM merge_queue WHERE source_worktree_id = ? AND state IN ${OPEN_QUEUE_STATES} ORDER BY id LIMIT 1`,
    [row.id],
  );
  const logs = sql
    .all<{ gate_log_path: string }>(
      `SELECT gate_log_path FROM merge_queue
       WHERE source_worktree_id = ? AND state IN ${FINAL_QUEUE_STATES} AND gate_log_path IS NOT NULL ORDER BY id`,
      [row.id],
    )
    .map((log) => (isAbsolute(log.gate_log_path) ? log.gate_log_path : join(logsDir, log.gate_log_path)))
    .filter((path) => inside(logsDir, path));
  return {
    heldBy,
    activeCase: activeCase ? `case ${activeCase.id} of ${activeCase.owner_key}` : null,
    openQueueItem: queued ? `item ${queued.id}, ${queued.state}` : null,
    children: sql.all<{ id: number; branch: string }>(
      "SELECT id, branch FROM worktrees WHERE parent_worktree_id = ? AND status IN ('creating', 'active') ORDER BY id",
      [row.id],
    ),
    logs: [...new Set(logs)],
  };
}

const plannedFacts = (row: CandidateRow, ledger: LedgerFacts): GcFacts => ({
  worktreeId: row.id,
  path: row.path,
  branch: row.branch,
  status: row.status,
  foreign: null,
  exists: false,
  branchExists: false,
  dirtyPaths: [],
  merged: null,
  ahead: 0,
  untouched: false,
  heldBy: ledger.heldBy,
  activeCase: ledger.activeCase,
  openQueueItem: null,
  unmergedChildren: [],
  ownCheckout: false,
  checkedOutElsewhere: null,
  logs: [],
});

/**
 * Gathers the facts for every worktree row gc may consider: planned, active and merged ones, and
 * reservations stuck in `creating` for over STALE_RESERVATION_MS. The database is read in one
 * snapshot, then git is asked. `ids` narrows it to some rows (applyGc re-checks one at a time).
 */
export async function collectFacts(ctx: CoreContext, target: string, options: { ids?: readonly number[] } = {}): Promise<GcFacts[]> {
  const now = ctx.now();
  const { workspace, git } = ctx;
  const snapshot = ctx.store.read((sql) =>
    sql
      .all<CandidateRow>(
        `SELECT id, path, branch, base_sha, status, owner_session_id, owner_thread_id, creator_process FROM worktrees
         WHERE status IN ('planned', 'active', 'merged') OR (status = 'creating' AND created_at < ?) ORDER BY id`,
        [now - STALE_RESERVATION_MS],
      )
      .filter((row) => !options.ids || options.ids.includes(row.id))
      // A reservation whose creator still runs is in progress, however long git takes.
      .filter((row) => row.status !== 'creating' || !creatorRuns(ctx, row.creator_process))
      .map((row) => ({ row, ledger: ledgerFacts(sql, row, workspace.logsDir, now) })),
  );
  if (snapshot.length === 0) return [];
  const branches = await gitStep('list branches', git.listBranches(BRANCH_PREFIX));
  const checkedOut = await gitStep('list worktrees', git.checkedOutBranches());
  const mergeCache = new Map<string, Promise<GcFacts['merged']>>();
  const mergeState = (branch: string) => {
    let state = mergeCache.get(branch);
    if (!state) {
      state = (async () => {
        if (await gitStep(`compare ${branch} with ${target}`, git.isAncestor(branch, target))) return 'ancestor';
        return (await gitStep(`compare ${branch} with ${target}`, git.patchesApplied(target, branch))) ? 'identical patch' : null;
      })();
      mergeCache.set(branch, state);
    }
    return state;
  };
  // Children may be on branches the caller named (worktree.spawn with branch); those are looked up one by one.
  const branchExists = async (branch: string) =>
    branch.startsWith(BRANCH_PREFIX)
      ? branches.has(branch)
      : git.resolveCommit(branch).then(
          () => true,
          () => false,
        );

  const facts: GcFacts[] = [];
  for (const { row, ledger } of snapshot) {
    // A planned worktree has nothing on disk to look at: whatever is at its path or branch name is not its own.
    if (row.status === 'planned') {
      facts.push(plannedFacts(row, ledger));
      continue;
    }
    const foreign = foreignReason(row, workspace.worktreesDir);
    const exists = foreign === null && ctx.files.exists(row.path);
    const hasBranch = foreign === null && branches.has(row.branch);
    const at = foreign === null ? (checkedOut.get(row.branch) ?? null) : null;
    const merged = hasBranch ? await mergeState(row.branch) : null;
    const unmergedChildren: number[] = [];
    for (const child of foreign === null ? ledger.children : []) {
      if ((await branchExists(child.branch)) && (await mergeState(child.branch)) === null) unmergedChildren.push(child.id);
    }
    facts.push({
      worktreeId: row.id,
      path: row.path,
      branch: row.branch,
      status: row.status,
      foreign,
      exists,
      branchExists: hasBranch,
      dirtyPaths: exists ? await gitStep(`read the status of ${row.path}`, git.dirtyPaths(row.path)) : [],
      merged,
      ahead: hasBranch && merged !== 'ancestor' ? (await gitStep('count commits', git.aheadBehind(target, row.branch))).ahead : 0,
      untouched: merged === 'ancestor' && (await gitStep(`resolve ${row.branch}`, git.resolveCommit(row.branch))) === row.base_sha,
      heldBy: ledger.heldBy,
      activeCase: ledger.activeCase,
      openQueueItem: ledger.openQueueItem,
      unmergedChildren,
      ownCheckout: at === row.path,
      checkedOutElsewhere: at === null || at === row.path ? null : at === workspace.repoPath ? 'the main checkout' : at,
      logs: ledger.logs,
    });
  }
  return facts;
}
