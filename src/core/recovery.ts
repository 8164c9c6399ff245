import { join } from 'node:path/posix';
import type { CoreContext } from './context.js';
import { auditRecovery, isDeadProcess } from './holders.js';
import { LockNames, namedLockState, takeOverDeadLocks } from './named-locks.js';
import { withWorktreeAdmin } from './worktree-create.js';

/**
 * Recovery as a first-class path: work a process left behind when it died (named locks, worktrees
 * being created, queue items being checked, gate runs and their temporary worktrees) is found by
 * its holder process being gone, then finished or rolled back. The same code runs on a process's
 * first call, before each queue run, and in `codestrator doctor` (system.doctor).
 */

export type FindingKind = 'named_lock' | 'creating_worktree' | 'checking_item' | 'gate_process' | 'gate_worktree';

export interface RecoveryFinding {
  kind: FindingKind;
  /** What it is about, e.g. `worktree 4 (/repo/.codestrator/worktrees/x)`. */
  target: string;
  /** Why it is interrupted work. */
  problem: string;
  /** What the repair does (did, once applied). */
  repair: string;
}

export interface RecoveryReport {
  findings: RecoveryFinding[];
  applied: boolean;
}

interface CreatingRow {
  id: number;
  path: string;
  branch: string;
  creator_process: string | null;
  creating_from: string | null;
  updated_at: number;
}

interface CheckingRow {
  id: number;
  state: string;
  processor: string | null;
  gate_process: string | null;
  gate_dir: string | null;
}

/** A `creating` row without a recorded creator (made before creators were recorded) is stale after the admin lease. */
const LEGACY_CREATING_MS = 600_000;

const gone = (key: string | null) => `its process ${key ?? '(unrecorded)'} is gone`;

/** Worktrees left `creating` by a dead creator: the half-made worktree and branch go, the row is dropped or planned again. */
async function creatingWorktrees(ctx: CoreContext, apply: boolean): Promise<RecoveryFinding[]> {
  const rows = ctx.store
    .read((sql) =>
      sql.all<CreatingRow>("SELECT id, path, branch, creator_process, creating_from, updated_at FROM worktrees WHERE status = 'creating'"),
    )
    .filter((row) =>
      row.creator_process === null ? ctx.now() - row.updated_at > LEGACY_CREATING_MS : isDeadProcess(ctx, row.creator_process),
    );
  const findings: RecoveryFinding[] = [];
  for (const row of rows) {
    const planned = row.creating_from === 'planned';
    findings.push({
      kind: 'creating_worktree',
      target: `worktree ${row.id} (${row.path})`,
      problem: `left creating: ${gone(row.creator_process)}`,
      repair: `remove the half-created worktree and branch ${row.branch}; ${planned ? 'the row is planned again' : 'drop the row'}`,
    });
    if (!apply) continue;
    await withWorktreeAdmin(ctx, `recover:${row.id}`, async () => {
      await ctx.git.removeWorktree(row.path);
      await ctx.git.deleteBranch(row.branch);
    });
    ctx.store.write((sql) => {
      const still = "id = ? AND status = 'creating' AND creator_process IS ?";
      const done = planned
        ? sql.run(`UPDATE worktrees SET status = 'planned', creator_process = NULL, creating_from = NULL, updated_at = ? WHERE ${still}`, [
            ctx.now(),
            row.id,
            row.creator_process,
          ])
        : sql.run(`DELETE FROM worktrees WHERE ${still}`, [row.id, row.creator_process]);
      if (done.changes > 0) auditRecovery(sql, ctx, 'recovery.worktree', `worktree ${row.id}`, findings.at(-1)!.repair);
    });
  }
  return findings;
}

/**
 * Queue items whose processor is gone go back to the queue; a gate still running for a gone
 * processor (or for an item no longer checking) is stopped, and its temporary worktree removed.
 */
async function queueItems(ctx: CoreContext, apply: boolean, newlyLocked: boolean): Promise<RecoveryFinding[]> {
  const lockHeld = namedLockState(ctx, LockNames.mainMerge).held;
  const rows = ctx.store.read((sql) =>
    sql.all<CheckingRow>(
      "SELECT id, state, processor, gate_process, gate_dir FROM merge_queue WHERE state = 'checking' OR gate_process IS NOT NULL OR gate_dir IS NOT NULL",
    ),
  );
  const findings: RecoveryFinding[] = [];
  for (const row of rows) {
    const orphan = isDeadProcess(ctx, row.processor) || (row.processor === null && (newlyLocked || !lockHeld));
    if (row.state === 'checking' && !orphan) continue;
    const gateRuns = row.gate_process !== null && ctx.processes?.isRunning(row.gate_process) === true;
    const steps = [
      ...(row.state === 'checking' ? ['requeue it'] : []),
      ...(gateRuns ? [`stop its gate (process group ${row.gate_process!.split('/')[1]})`] : []),
      ...(row.gate_dir ? [`remove its gate worktree ${row.gate_dir}`] : []),
    ];
    findings.push({
      kind: row.state === 'checking' ? 'checking_item' : gateRuns ? 'gate_process' : 'gate_worktree',
      target: `queue item ${row.id}`,
      problem:
        row.state === 'checking'
          ? `left checking: processor ${gone(row.processor)}`
          : `a gate run of this ${row.state} item was left behind`,
      repair: steps.join('; '),
    });
    if (!apply) continue;
    if (gateRuns) ctx.processes!.stopGroup(Number(row.gate_process!.split('/')[1]));
    if (row.gate_dir) await withWorktreeAdmin(ctx, `recover:gate-${row.id}`, () => ctx.git.removeWorktree(row.gate_dir!));
    ctx.store.write((sql) => {
      const requeue =
        row.state === 'checking' ? ", state = 'queued', reason = 'previous processor stopped; retrying', processor = NULL" : '';
      const done = sql.run(
        `UPDATE merge_queue SET gate_process = NULL, gate_dir = NULL, updated_at = ?${requeue} WHERE id = ? AND state = ? AND processor IS ?`,
        [ctx.now(), row.id, row.state, row.processor],
      );
      if (done.changes > 0) auditRecovery(sql, ctx, 'recovery.queue', `queue item ${row.id}`, findings.at(-1)!.repair);
    });
  }
  return findings;
}

/** Temporary gate worktrees no queue item accounts for (a processor died before recording, or a record was lost). */
async function strayGateWorktrees(ctx: CoreContext, apply: boolean): Promise<RecoveryFinding[]> {
  const tmp = join(ctx.workspace.stateDir, 'tmp');
  const known = new Set(
    ctx.store
      .read((sql) => sql.all<{ gate_dir: string }>('SELECT gate_dir FROM merge_queue WHERE gate_dir IS NOT NULL'))
      .map((r) => r.gate_dir),
  );
  const findings: RecoveryFinding[] = [];
  for (const name of ctx.files.listDir(tmp).filter((entry) => entry.startsWith('gate-'))) {
    const path = join(tmp, name);
    if (known.has(path)) continue;
    findings.push({ kind: 'gate_worktree', target: path, problem: 'a temporary gate worktree no queue item uses', repair: 'remove it' });
    if (apply) await withWorktreeAdmin(ctx, 'recover:gate', () => ctx.git.removeWorktree(path));
  }
  return findings;
}

/** Named locks whose holder process is gone: taken over (released) and recorded. */
function deadLocks(ctx: CoreContext, apply: boolean): RecoveryFinding[] {
  return takeOverDeadLocks(ctx, { dryRun: !apply }).map((lock) => ({
    kind: 'named_lock',
    target: `named lock ${lock.name}`,
    problem: `held by ${lock.holder} until ${new Date(lock.lease_until!).toISOString()}, but ${gone(lock.holder_process)}`,
    repair: 'release it (the takeover is recorded in audit_events)',
  }));
}

/** The queue part, run before each queue run under the main-merge lock (`newlyLocked`: this run just took it). */
export async function recoverQueue(ctx: CoreContext, options: { newlyLocked: boolean }): Promise<RecoveryFinding[]> {
  return [...(await queueItems(ctx, true, options.newlyLocked)), ...(await strayGateWorktrees(ctx, true))];
}

/** Queue items and gate runs left by dead processors (what worktree.gc shows beside the worktrees it removes). */
export async function recoverGates(ctx: CoreContext, options: { apply: boolean }): Promise<RecoveryFinding[]> {
  const findings = await queueItems(ctx, options.apply, false);
  // A stray gate worktree is only sure to be stray when no processor is running the queue.
  if (!namedLockState(ctx, LockNames.mainMerge).held) findings.push(...(await strayGateWorktrees(ctx, options.apply)));
  return findings;
}

/**
 * Finds interrupted work and, with `apply`, repairs it: what a process's first call and
 * `codestrator doctor --apply` run. Without apply nothing changes (doctor's dry run).
 */
export async function recoverInterrupted(ctx: CoreContext, options: { apply: boolean }): Promise<RecoveryReport> {
  const findings = [
    ...deadLocks(ctx, options.apply),
    ...(await creatingWorktrees(ctx, options.apply)),
    ...(await recoverGates(ctx, options)),
  ];
  return { findings, applied: options.apply };
}
