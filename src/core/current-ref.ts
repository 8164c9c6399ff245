import type { CoreContext } from './context.js';
import { CodestratorError, invalid, notFound } from './errors.js';
import { checkOwnership, requireOwner } from './identity.js';
import { fenceOf, fencedView } from './fence.js';
import { parseJson, toJson } from './json.js';
import type { Sql } from './ports.js';
import { type CheckpointRow, type LockRow, type TaskRow, type WorktreeRow, lockWire } from './rows.js';
import { nextStep } from './steps.js';
import { dependenciesOf, getTask } from './tasks.js';

export interface CurrentRefRow {
  id: number;
  owner_key: string;
  session_id: number | null;
  thread_id: number | null;
  case_id: number | null;
  status: 'active' | 'completed';
  next_action: string | null;
  summary: string | null;
  required_files: string;
  checkpoint_id: number | null;
  version: number;
  acked_version: number | null;
  acked_at: number | null;
  created_at: number;
  updated_at: number;
}

/** The compact view must fit this many bytes of JSON whatever the ledger holds. */
export const COMPACT_LIMIT_BYTES = 1024;

export interface RefUpdate {
  caseId?: number | null;
  status: 'active' | 'completed';
  nextAction?: string | null;
  summary?: string | null;
  requiredFiles?: readonly string[];
  checkpointId?: number | null;
}

/** Creates or rewrites the owner's single current ref (one row per owner), bumping its version. */
export function upsertRef(sql: Sql, ctx: CoreContext, ownerKey: string, update: RefUpdate): void {
  const now = ctx.now();
  const existing = sql.get<CurrentRefRow>('SELECT * FROM current_refs WHERE owner_key = ?', [ownerKey]);
  const requiredFiles = update.requiredFiles !== undefined ? toJson(update.requiredFiles) : (existing?.required_files ?? '[]');
  if (!existing) {
    sql.run(
      `INSERT INTO current_refs (owner_key, session_id, thread_id, case_id, status, next_action, summary, required_files, checkpoint_id, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        ownerKey,
        ctx.actor.sessionId ?? null,
        ctx.actor.threadId ?? null,
        update.caseId ?? null,
        update.status,
        update.nextAction ?? null,
        update.summary ?? null,
        requiredFiles,
        update.checkpointId ?? null,
        now,
        now,
      ],
    );
    return;
  }
  sql.run(
    `UPDATE current_refs SET case_id = ?, status = ?, next_action = ?, summary = ?, required_files = ?, checkpoint_id = ?,
       version = version + 1, updated_at = ? WHERE id = ?`,
    [
      update.caseId !== undefined ? update.caseId : existing.case_id,
      update.status,
      update.nextAction !== undefined ? update.nextAction : existing.next_action,
      update.summary !== undefined ? update.summary : existing.summary,
      requiredFiles,
      update.checkpointId !== undefined ? update.checkpointId : existing.checkpoint_id,
      now,
      existing.id,
    ],
  );
}

export interface CheckpointInput {
  caseId: number;
  event: string;
  ownerKey: string | null;
  summary: string | null;
  nextAction: string | null;
  stepId?: number;
  snapshot: Record<string, unknown>;
}

export function writeCheckpoint(sql: Sql, ctx: CoreContext, input: CheckpointInput): CheckpointRow {
  const id = sql.run(
    'INSERT INTO checkpoints (case_id, event, step_id, owner_key, summary, next_action, snapshot, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [input.caseId, input.event, input.stepId ?? null, input.ownerKey, input.summary, input.nextAction, toJson(input.snapshot), ctx.now()],
  ).lastInsertRowid;
  return sql.get<CheckpointRow>('SELECT * FROM checkpoints WHERE id = ?', [id])!;
}

/** Shortens text to at most `max` code points (never splitting a surrogate pair), flagging the cut. */
const clip = (text: string | null, max: number, flag: { truncated: boolean }): string | null => {
  if (text === null || text.length <= max) return text;
  const points = Array.from(text);
  if (points.length <= max) return text;
  flag.truncated = true;
  return points.slice(0, max - 1).join('') + '…';
};

/** The minimum to continue: case, next step, last checkpoint, next action, required files; under 1 KB. */
function compactView(sql: Sql, ref: CurrentRefRow) {
  const flag = { truncated: false };
  const row = ref.case_id ? getTask(sql, ref.case_id) : undefined;
  const checkpoint = ref.case_id
    ? sql.get<CheckpointRow>('SELECT * FROM checkpoints WHERE case_id = ? ORDER BY id DESC LIMIT 1', [ref.case_id])
    : undefined;
  const step = row ? nextStep(sql, row) : null;
  const files = parseJson<string[]>(ref.required_files, []);
  const build = (textMax: number, fileCount: number) => {
    if (files.length > fileCount) flag.truncated = true;
    return {
      ref_id: ref.id,
      version: ref.version,
      status: ref.status,
      acked: ref.acked_version === ref.version,
      case: row ? { id: row.id, title: clip(row.title, textMax, flag), status: row.status } : null,
      next_step: step ? { title: clip(step.title, textMax, flag), last_result: step.last_result } : null,
      next_action: clip(ref.next_action, textMax, flag),
      last_checkpoint: checkpoint
        ? { id: checkpoint.id, event: checkpoint.event, summary: clip(checkpoint.summary, textMax, flag), at: checkpoint.created_at }
        : null,
      required_files: files.slice(0, fileCount).map((file) => clip(file, textMax, flag)),
      truncated: false,
    };
  };
  // Shrink until it fits: long titles and file lists are clipped, never the ids.
  for (const [textMax, fileCount] of [
    [200, 12],
    [120, 8],
    [80, 4],
    [40, 2],
    [20, 0],
  ] as const) {
    flag.truncated = false;
    const view = build(textMax, fileCount);
    view.truncated = flag.truncated;
    if (Buffer.byteLength(JSON.stringify(view)) < COMPACT_LIMIT_BYTES - 24) return view;
  }
  const view = build(12, 0);
  view.truncated = true;
  return view;
}

/** The owner's compact ref, or null when it has none active. Used by session.context too. */
export function compactRef(ctx: CoreContext, ownerKey: string) {
  return ctx.store.read((sql) => {
    const ref = sql.get<CurrentRefRow>("SELECT * FROM current_refs WHERE owner_key = ? AND status = 'active'", [ownerKey]);
    return ref ? compactView(sql, ref) : null;
  });
}

function resumeExtras(sql: Sql, row: TaskRow) {
  return {
    steps: sql.all('SELECT order_no, title, result, notes, created_at FROM steps WHERE case_id = ? ORDER BY order_no', [row.id]),
    planned_steps: parseJson<string[]>(row.steps_planned, []),
    input_contract: parseJson<unknown>(row.input_contract, null),
    fixtures: parseJson<unknown[]>(row.fixtures, []),
    description: row.description,
  };
}

function handoffExtras(sql: Sql, ctx: CoreContext, row: TaskRow, ref: CurrentRefRow) {
  const parents = sql.all<{ id: number; level: string; title: string; status: string }>(
    `WITH RECURSIVE up(id) AS (SELECT parent_id FROM tasks WHERE id = ? UNION ALL SELECT t.parent_id FROM tasks t JOIN up ON t.id = up.id WHERE t.parent_id IS NOT NULL)
     SELECT t.id, t.level, t.title, t.status FROM tasks t JOIN up ON t.id = up.id`,
    [row.id],
  );
  const dependencies = dependenciesOf(sql, row.id).map((id) => {
    const dep = getTask(sql, id);
    return { id, title: dep.title, status: dep.status };
  });
  const now = ctx.now();
  const locks = sql
    .all<LockRow>("SELECT * FROM locks WHERE owner_key = ? AND state = 'active' AND lease_until > ? ORDER BY id", [ref.owner_key, now])
    .map((lock) => lockWire(lock, now));
  const sessionId =
    ref.session_id ??
    (ref.thread_id
      ? sql.get<{ session_id: number }>('SELECT session_id FROM threads WHERE id = ?', [ref.thread_id])?.session_id
      : undefined);
  const worktree = sessionId
    ? sql.get<WorktreeRow>('SELECT w.* FROM worktrees w JOIN sessions s ON s.worktree_id = w.id WHERE s.id = ?', [sessionId])
    : undefined;
  return {
    parents,
    dependencies,
    locks_held: locks,
    worktree: worktree ? { id: worktree.id, path: worktree.path, branch: worktree.branch } : { path: ctx.workspace.repoPath, branch: null },
    recent_checkpoints: sql.all(
      'SELECT id, event, summary, next_action, created_at FROM checkpoints WHERE case_id = ? ORDER BY id DESC LIMIT 5',
      [row.id],
    ),
  };
}

export interface CurrentRefInput {
  mode?: 'compact' | 'resume' | 'handoff';
  next_action?: string;
  summary?: string;
  required_files?: string[];
}

/**
 * work.current_ref: reads the caller's resume point in one of three sizes; with next_action,
 * summary or required_files it first records them (a checkpoint on the active case).
 */
export function currentRef(ctx: CoreContext, input: CurrentRefInput) {
  const owner = requireOwner(ctx.actor, 'work.current_ref');
  const sets = input.next_action !== undefined || input.summary !== undefined || input.required_files !== undefined;
  const read = (sql: Sql) => {
    const fence = ctx.actor.sessionId !== undefined ? fenceOf(sql, ctx.actor.sessionId) : undefined;
    if (fence) return fencedView(sql, ctx, owner, fence);
    const ref = sql.get<CurrentRefRow>("SELECT * FROM current_refs WHERE owner_key = ? AND status = 'active'", [owner]);
    if (!ref) {
      return {
        source: 'none',
        owner,
        current_ref: null,
        hint: 'No active work. Call resume.next for the next ready case, then case.begin.',
      };
    }
    const mode = input.mode ?? 'compact';
    const view: Record<string, unknown> = { source: 'current_refs', owner, mode, current_ref: compactView(sql, ref) };
    const row = ref.case_id ? getTask(sql, ref.case_id) : undefined;
    if (row && mode !== 'compact') Object.assign(view, { summary: ref.summary, case_detail: resumeExtras(sql, row) });
    if (row && mode === 'handoff') Object.assign(view, handoffExtras(sql, ctx, row, ref));
    return view;
  };
  if (!sets) return ctx.store.read(read);
  return ctx.store.write((sql) => {
    const ref = sql.get<CurrentRefRow>("SELECT * FROM current_refs WHERE owner_key = ? AND status = 'active'", [owner]);
    const active = sql.get<TaskRow>("SELECT * FROM tasks WHERE owner_key = ? AND level = 'case' AND status = 'in_progress'", [owner]);
    const caseId = active?.id ?? ref?.case_id ?? null;
    let checkpointId: number | undefined;
    if (caseId !== null) {
      checkpointId = writeCheckpoint(sql, ctx, {
        caseId,
        event: 'current_ref.set',
        ownerKey: owner,
        summary: input.summary ?? null,
        nextAction: input.next_action ?? null,
        snapshot: { required_files: input.required_files ?? null },
      }).id;
    }
    upsertRef(sql, ctx, owner, {
      caseId,
      status: 'active',
      ...(input.next_action !== undefined ? { nextAction: input.next_action } : {}),
      ...(input.summary !== undefined ? { summary: input.summary } : {}),
      ...(input.required_files !== undefined ? { requiredFiles: input.required_files } : {}),
      ...(checkpointId !== undefined ? { checkpointId } : {}),
    });
    return read(sql);
  });
}

/** work.current_ref.ack: the owner confirms it has loaded this version of its ref. */
export function ackCurrentRef(ctx: CoreContext, input: { ref_id: number; version?: number; force?: boolean; reason?: string }) {
  return ctx.store.write(
    (sql) => {
      const ref = sql.get<CurrentRefRow>('SELECT * FROM current_refs WHERE id = ?', [input.ref_id]);
      if (!ref) throw notFound('Current ref', input.ref_id, 'ref_id');
      checkOwnership(sql, ctx.actor, {
        method: 'work.current_ref.ack',
        ownerKey: ref.owner_key,
        target: `current ref ${ref.id}`,
        force: input.force,
        reason: input.reason,
        now: ctx.now(),
      });
      if (input.version !== undefined && input.version !== ref.version) {
        throw new CodestratorError('CONFLICT', `Current ref ${ref.id} is at version ${ref.version}, not ${input.version}.`, {
          field: 'version',
          hint: 'Read work.current_ref again and acknowledge what it returns.',
        });
      }
      if (ref.status !== 'active') throw invalid(`Current ref ${ref.id} is ${ref.status}; there is nothing to acknowledge.`, 'ref_id');
      sql.run('UPDATE current_refs SET acked_version = version, acked_at = ? WHERE id = ?', [ctx.now(), ref.id]);
      const updated = sql.get<CurrentRefRow>('SELECT * FROM current_refs WHERE id = ?', [ref.id])!;
      return { current_ref: compactView(sql, updated), acked_at: updated.acked_at };
    },
    { ledger: false },
  );
}
