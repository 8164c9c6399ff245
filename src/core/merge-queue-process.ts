import { join } from 'node:path/posix';
import { repairInterruptedPublishes } from './checkout-journal.js';
import type { CoreContext } from './context.js';
import { checkpoint, selfProcess } from './holders.js';
import { ownerKeyOf } from './identity.js';
import { toJson } from './json.js';
import { describeConflict, lockConflicts, sessionOwnerKeys } from './lock-check.js';
import { LockNames, releaseIfHeld, tryNamedLock, waitForNamedLock } from './named-locks.js';
import { publishBranch } from './publish.js';
import type { WorktreeRow } from './rows.js';
import { type QueueRow, type QueueState, queueWire } from './merge-queue.js';
import { recoverQueue } from './recovery.js';
import { gitStep, withWorktreeAdmin } from './worktree-create.js';

/** How an item's check ended: its next state and why. */
interface Verdict {
  state: QueueState;
  reason: string;
  conflictFiles?: string[];
  mergeCommit?: string;
  targetBefore?: string;
  gateLogPath?: string;
  gateLogTail?: string;
}

/** Attempts before an item whose target keeps moving is parked as waiting. */
const MAX_ATTEMPTS = 5;

/** The claim records the processor's process, so an item whose processor died is recovered at once. */
const CLAIM = `UPDATE merge_queue SET state = 'checking', reason = 'checking', started_at = ?, updated_at = ?, attempts = attempts + 1,
    processor = ?, gate_process = NULL, gate_dir = NULL
  WHERE id = ? AND state IN ('queued', 'waiting') RETURNING *`;

/** Claims the oldest queued (or waiting) item not yet tried in this run: exactly one processor wins it. */
function claimNext(ctx: CoreContext, skip: ReadonlySet<number>): QueueRow | undefined {
  return ctx.store.write((sql) => {
    const candidates = sql.all<QueueRow>("SELECT * FROM merge_queue WHERE state IN ('queued', 'waiting') ORDER BY id");
    const row = candidates.find((candidate) => !skip.has(candidate.id));
    if (!row) return undefined;
    const now = ctx.now();
    return sql.get<QueueRow>(CLAIM, [now, now, selfProcess(ctx), row.id]);
  });
}

/** Claims one queued (or waiting) item by id; undefined if it is in any other state. */
export function claimItem(ctx: CoreContext, id: number): QueueRow | undefined {
  return ctx.store.write((sql) => {
    const now = ctx.now();
    return sql.get<QueueRow>(CLAIM, [now, now, selfProcess(ctx), id]);
  });
}

function record(ctx: CoreContext, item: QueueRow, verdict: Verdict): QueueRow {
  return ctx.store.write((sql) => {
    const now = ctx.now();
    const final = !['queued', 'waiting', 'blocked_by_review'].includes(verdict.state);
    const row = sql.get<QueueRow>(
      `UPDATE merge_queue SET state = ?, reason = ?, conflict_files = ?, merge_commit = ?, target_before = ?, gate_log_path = coalesce(?, gate_log_path),
         gate_log_tail = coalesce(?, gate_log_tail), finished_at = ?, updated_at = ? WHERE id = ? RETURNING *`,
      [
        verdict.state,
        verdict.reason,
        toJson(verdict.conflictFiles ?? []),
        verdict.mergeCommit ?? null,
        verdict.targetBefore ?? null,
        verdict.gateLogPath ?? null,
        verdict.gateLogTail ?? null,
        final ? now : null,
        now,
        item.id,
      ],
    )!;
    if (verdict.state === 'merged') {
      sql.run("UPDATE worktrees SET status = 'merged', updated_at = ? WHERE id = ? AND kind = 'task'", [now, item.source_worktree_id]);
      if (item.merge_request_id !== null)
        sql.run("UPDATE merge_requests SET status = 'merged', updated_at = ? WHERE id = ?", [now, item.merge_request_id]);
    }
    return row;
  });
}

/** Pre-merge checks that need only the ledger: source present, children merged, review, locks. */
async function ledgerChecks(ctx: CoreContext, item: QueueRow, targetTip: string, sourceTip: string): Promise<Verdict | undefined> {
  const facts = ctx.store.read((sql) => {
    const source = sql.get<WorktreeRow>('SELECT * FROM worktrees WHERE id = ?', [item.source_worktree_id]);
    const children = sql.all<WorktreeRow>("SELECT * FROM worktrees WHERE parent_worktree_id = ? AND status = 'active'", [
      item.source_worktree_id,
    ]);
    const review =
      item.merge_request_id !== null
        ? sql.get<{ status: string }>('SELECT status FROM merge_requests WHERE id = ?', [item.merge_request_id])
        : undefined;
    return { source, children, review };
  });
  if (!facts.source || facts.source.status === 'removed')
    return { state: 'cancelled', reason: `source worktree ${item.source_worktree_id} no longer exists` };
  const unmerged: string[] = [];
  for (const child of facts.children)
    if (!(await ctx.git.isAncestor(child.branch, sourceTip))) unmerged.push(`${child.id} (${child.branch})`);
  if (unmerged.length > 0)
    return { state: 'waiting', reason: `child worktrees have unmerged work: ${unmerged.join(', ')}; run worktree.merge_to_parent first` };
  // A BLOCK verdict holds an item whether or not review is required.
  if (facts.review?.status === 'blocked')
    return { state: 'blocked_by_review', reason: `merge request ${item.merge_request_id} was blocked by its review` };
  // An item that came with a merge request waits for its APPROVE, whatever review_required says.
  if (item.merge_request_id !== null && facts.review?.status !== 'approved' && facts.review?.status !== 'merged')
    return {
      state: 'blocked_by_review',
      reason: `merge request ${item.merge_request_id} is ${facts.review?.status ?? 'missing'}: it needs an APPROVE verdict (merge.review.submit) before it lands`,
    };
  if (ctx.config.review_required && item.merge_request_id === null)
    return {
      state: 'blocked_by_review',
      reason: 'review is required: queue the item with a merge_request_id and get an APPROVE verdict',
    };
  const changed = await gitStep('list changed files', ctx.git.changedFiles(targetTip, sourceTip));
  // The lock rule of every path to a branch (lock-check.ts): commits made with --no-verify or
  // another core.hooksPath are caught here, whether or not the holder is still seen.
  const blocking = ctx.store.read((sql) => lockConflicts(sql, ctx, changed, sessionOwnerKeys(sql, facts.source!.owner_session_id)));
  if (blocking.length > 0)
    return { state: 'waiting', reason: `locked by another owner: ${blocking.slice(0, 5).map(describeConflict).join('; ')}` };
  return undefined;
}

async function runGate(ctx: CoreContext, item: QueueRow, commit: string): Promise<Verdict | undefined> {
  const gate = ctx.config.gate;
  if (!gate) return undefined;
  const dir = join(ctx.workspace.stateDir, 'tmp', `gate-${item.id}-${item.attempts}`);
  const logPath = join(ctx.workspace.logsDir, `gate-${item.id}-${item.attempts}.log`);
  // Recorded before git makes it, so recovery finds the temporary worktree whatever happens next.
  ctx.store.write((sql) => sql.run('UPDATE merge_queue SET gate_dir = ? WHERE id = ?', [dir, item.id]), { ledger: false });
  await gitStep(
    'create the gate worktree',
    withWorktreeAdmin(ctx, `gate:${item.id}`, () => ctx.git.addDetachedWorktree(dir, commit)),
  );
  checkpoint(ctx, 'merge.gate.start');
  ctx.progress?.(`item ${item.id}: gate ${Array.isArray(gate.command) ? gate.command.join(' ') : gate.command}`);
  // The gate runs in its own process group; its process is recorded so recovery can stop an orphaned gate.
  const onStart = (pid: number) => {
    try {
      const key = ctx.processes?.keyOf(pid) ?? null;
      ctx.store.write((sql) => sql.run('UPDATE merge_queue SET gate_process = ? WHERE id = ?', [key, item.id]), { ledger: false });
    } catch {
      // Not recorded: the gate still runs and is waited for; only its recovery after a crash is lost.
    }
    checkpoint(ctx, 'merge.gate.running');
  };
  try {
    const result = await ctx.gate.run({ cwd: dir, command: gate.command, timeoutMs: gate.timeout_seconds * 1000, logPath, onStart });
    if (result.exitCode === 0 && !result.timedOut)
      return { state: 'checking', reason: `gate passed in ${result.durationMs} ms`, gateLogPath: logPath, gateLogTail: result.tail };
    const why = result.timedOut ? `timed out after ${gate.timeout_seconds} s` : `exited with ${result.exitCode}`;
    return { state: 'gate_failed', reason: `gate ${why}`, gateLogPath: logPath, gateLogTail: result.tail };
  } finally {
    await ctx.git.removeWorktree(dir);
    ctx.store.write((sql) => sql.run('UPDATE merge_queue SET gate_process = NULL, gate_dir = NULL WHERE id = ?', [item.id]), {
      ledger: false,
    });
  }
}

/** Checks, gates and publishes one claimed item; every path ends in a recorded state. */
async function processItem(ctx: CoreContext, item: QueueRow): Promise<Verdict> {
  ctx.progress?.(`item ${item.id}: checking ${item.source_branch} → ${item.target_branch}`);
  // A checkout a crashed publish left behind is finished first, also before "already contained".
  await repairInterruptedPublishes(ctx);
  const targetTip = await gitStep(`resolve ${item.target_branch}`, ctx.git.resolveCommit(item.target_branch));
  const sourceTip = await gitStep(`resolve ${item.source_branch}`, ctx.git.resolveCommit(item.source_branch));
  if (await ctx.git.isAncestor(sourceTip, targetTip))
    return { state: 'merged', reason: `already contained in ${item.target_branch}`, mergeCommit: targetTip, targetBefore: targetTip };
  const blocked = await ledgerChecks(ctx, item, targetTip, sourceTip);
  if (blocked) return blocked;
  const prediction = await gitStep('predict the merge', ctx.git.mergeTree(targetTip, sourceTip));
  if (!prediction.clean)
    return {
      state: 'conflict',
      reason: `conflicts with ${item.target_branch} in ${prediction.conflicts.join(', ')}`,
      conflictFiles: prediction.conflicts,
    };
  const merge = await gitStep(
    'create the merge commit',
    ctx.git.commitTree({
      tree: prediction.tree,
      parents: [targetTip, sourceTip],
      message: `Merge ${item.source_branch} into ${item.target_branch} (codestrator queue item ${item.id})`,
    }),
  );
  const gated = await runGate(ctx, item, merge);
  if (gated && gated.state !== 'checking') return { ...gated, targetBefore: targetTip };
  ctx.progress?.(`item ${item.id}: publishing onto ${item.target_branch}`);
  checkpoint(ctx, 'merge.publish.before');
  const outcome = await publishBranch(ctx, {
    branch: item.target_branch,
    from: targetTip,
    to: merge,
    reason: `codestrator: queue item ${item.id}`,
  });
  checkpoint(ctx, 'merge.publish.after');
  const gateFacts = gated ? { gateLogPath: gated.gateLogPath!, gateLogTail: gated.gateLogTail! } : {};
  if (outcome.ok) {
    const where = outcome.checkout ? `; checkout ${outcome.checkout} updated` : '';
    return {
      state: 'merged',
      reason: `merged into ${item.target_branch}${where}`,
      mergeCommit: merge,
      targetBefore: targetTip,
      ...gateFacts,
    };
  }
  if (outcome.why === 'moved') {
    return item.attempts >= MAX_ATTEMPTS
      ? { state: 'waiting', reason: `${item.target_branch} kept moving during ${item.attempts} attempts` }
      : { state: 'queued', reason: `${item.target_branch} moved while checking; will retry` };
  }
  return {
    state: 'waiting',
    reason: `the checkout of ${item.target_branch} at ${outcome.checkout} has uncommitted changes (${outcome.paths.slice(0, 5).join(', ')}); nothing was lost, retry after committing them`,
    ...gateFacts,
  };
}

/**
 * Lands one claimed item under `holder`'s main-merge lock: conflict check, merge commit, gate,
 * review, compare-and-swap publish. Every path ends in a recorded state. The one landing path
 * for merge.main.process and the §6 sequence (merge-land.ts).
 */
export async function landClaimed(ctx: CoreContext, item: QueueRow, holder: string): Promise<QueueRow> {
  // Keep the lease ahead of long gates.
  tryNamedLock(ctx, LockNames.mainMerge, holder, ctx.config.merge_lock_ttl_seconds);
  let verdict: Verdict;
  try {
    verdict = await processItem(ctx, item);
  } catch (err) {
    // An unexpected failure parks the item with the reason instead of leaving it 'checking'.
    verdict = { state: 'waiting', reason: `error: ${err instanceof Error ? err.message : String(err)}` };
  }
  return record(ctx, item, verdict);
}

export interface ProcessInput {
  max_items?: number;
  /** How long to wait for the main-merge lock when another processor holds it (default 0: fail at once). */
  wait_seconds?: number;
}

/**
 * merge.main.process: under the main-merge lock, lands queued items one at a time. Items that
 * cannot land yet (waiting) are tried once per run; the lock is released at the end unless the
 * caller held it before.
 */
export async function processQueue(ctx: CoreContext, input: ProcessInput) {
  // A caller without identity (the dashboard, a script) gets a holder of its own for this run, so a
  // second run started from the same process waits or fails instead of re-entering the first's lock.
  const holder = ownerKeyOf(ctx.actor) ?? `process:run-${ctx.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const taken = await waitForNamedLock(ctx, LockNames.mainMerge, holder, {
    ttlSeconds: ctx.config.merge_lock_ttl_seconds,
    waitMs: (input.wait_seconds ?? 0) * 1000,
  });
  const processed: ReturnType<typeof queueWire>[] = [];
  const tried = new Set<number>();
  try {
    // Before each run: items whose processor died go back to the queue, their gates stopped;
    // a checkout update a killed publisher left half done is finished.
    await recoverQueue(ctx, { newlyLocked: !taken.reentered });
    await repairInterruptedPublishes(ctx);
    checkpoint(ctx, 'merge.claim.before');
    while (processed.length < (input.max_items ?? Number.MAX_SAFE_INTEGER)) {
      const item = claimNext(ctx, tried);
      if (!item) break;
      tried.add(item.id);
      checkpoint(ctx, 'merge.claim.after');
      const row = await landClaimed(ctx, item, holder);
      if (row.state === 'queued') tried.delete(row.id);
      processed.push(queueWire(row));
    }
  } finally {
    if (!taken.reentered) releaseIfHeld(ctx, LockNames.mainMerge, holder);
  }
  const counts = ctx.store.read((sql) =>
    sql.all<{ state: string; n: number }>('SELECT state, count(*) AS n FROM merge_queue GROUP BY state ORDER BY state'),
  );
  return { processed, count: processed.length, queue: Object.fromEntries(counts.map((c) => [c.state, c.n])) };
}
