import type { CoreContext } from './context.js';
import { CodestratorError } from './errors.js';
import { checkOwnership, isOwnerLive, ownerKeyOf, requireOwner } from './identity.js';
import { toJson } from './json.js';
import type { Sql } from './ports.js';
import { type StepRow, type TaskRow, stepWire, taskWire } from './rows.js';
import { nextStep, stepCounts } from './steps.js';
import { compactRef, upsertRef, writeCheckpoint } from './current-ref.js';
import { dependenciesOf, getCase, getTask, rolledUpField } from './tasks.js';
import { rollUp } from './rollup.js';
import { scopePathIn } from './locks.js';

/** Fixture entries that are numbers (or "12" / "#12") name cases whose output is supplied as a fixture. */
function fixtureCaseIds(fixtures: readonly (string | number)[]): Set<number> {
  const ids = new Set<number>();
  for (const entry of fixtures) {
    if (typeof entry === 'number') ids.add(entry);
    else if (/^#?[1-9][0-9]*$/.test(entry.trim())) ids.add(Number(entry.trim().replace('#', '')));
  }
  return ids;
}

function normalizeFiles(sql: Sql, ctx: CoreContext, files: readonly string[] | undefined): string[] | undefined {
  return files?.map((file, index) => scopePathIn(sql, ctx, file, `required_files.${index}`, false));
}

const describeNext = (step: { title: string; last_result: string | null } | null, fallback: string): string =>
  step ? `${step.last_result === 'fail' ? 'fix and re-check' : 'run'} step: ${step.title}` : fallback;

export interface BeginCaseInput {
  case_id: number;
  input_contract?: Record<string, unknown>;
  fixtures?: (string | number)[];
  required_files?: string[];
  steps?: string[];
}

/**
 * case.begin: an atomic claim. Refused while another live owner holds the case, while the caller
 * holds another active case, and while a declared dependency is unfinished and not a fixture.
 * Re-beginning one's own case resumes it. Writes a checkpoint and the owner's current ref.
 */
export function beginCase(ctx: CoreContext, input: BeginCaseInput) {
  const owner = requireOwner(ctx.actor, 'case.begin');
  return ctx.store.write((sql) => {
    const now = ctx.now();
    const row = getCase(sql, input.case_id);
    if (row.status === 'done' || row.status === 'cancelled') {
      throw new CodestratorError('PRECONDITION_FAILED', `Case ${row.id} is ${row.status}.`, {
        field: 'case_id',
        hint: row.status === 'done' ? 'Reopen it with task.update status=todo to run it again.' : 'Pick another case (resume.next).',
      });
    }
    const resumed = row.status === 'in_progress' && row.owner_key === owner;
    let takenOverFrom: string | null = null;
    if (row.status === 'in_progress' && !resumed && row.owner_key) {
      if (isOwnerLive(sql, row.owner_key, now)) {
        throw new CodestratorError('CONFLICT', `Case ${row.id} is held by ${row.owner_key}, which is live.`, {
          field: 'case_id',
          hint: 'Pick another case with resume.next, or ask the holder through inbox.send.',
          data: { holder: row.owner_key },
        });
      }
      takenOverFrom = row.owner_key;
    }
    const held = sql.get<TaskRow>("SELECT * FROM tasks WHERE owner_key = ? AND level = 'case' AND status = 'in_progress' AND id != ?", [
      owner,
      row.id,
    ]);
    if (held) {
      throw new CodestratorError('CONFLICT', `${owner} already holds case ${held.id} (${held.title}); one active case per owner.`, {
        field: 'case_id',
        hint: `Complete case ${held.id} with case.complete first.`,
        data: { active_case_id: held.id },
      });
    }
    if (row.assignee_thread_id !== null && row.assignee_thread_id !== ctx.actor.threadId) {
      throw new CodestratorError('PRECONDITION_FAILED', `Case ${row.id} is assigned to thread ${row.assignee_thread_id}.`, {
        field: 'case_id',
      });
    }
    if (row.assignee_session_id !== null && row.assignee_session_id !== ctx.actor.sessionId) {
      throw new CodestratorError('PRECONDITION_FAILED', `Case ${row.id} is assigned to session ${row.assignee_session_id}.`, {
        field: 'case_id',
      });
    }
    const fixtures = input.fixtures ?? [];
    const asFixture = fixtureCaseIds(fixtures);
    const blocking = dependenciesOf(sql, row.id)
      .map((id) => getTask(sql, id))
      .filter((dep) => dep.status !== 'done' && !asFixture.has(dep.id));
    if (blocking.length > 0) {
      throw new CodestratorError(
        'PRECONDITION_FAILED',
        `Case ${row.id} depends on unfinished ${blocking.map((dep) => `case ${dep.id} (${dep.status})`).join(', ')}.`,
        {
          field: 'fixtures',
          hint: 'Finish those first, or list their ids in fixtures if their output is supplied as a fixture.',
          data: { blocking: blocking.map((dep) => dep.id) },
        },
      );
    }
    const requiredFiles = normalizeFiles(sql, ctx, input.required_files);
    const sets = [
      "status = 'in_progress'",
      'owner_key = ?',
      'owner_session_id = ?',
      'owner_thread_id = ?',
      'updated_at = ?',
      'started_at = coalesce(started_at, ?)',
    ];
    const params: (string | number | null)[] = [owner, ctx.actor.sessionId ?? null, ctx.actor.threadId ?? null, now, now];
    if (input.input_contract !== undefined || !resumed) {
      sets.push('input_contract = ?');
      params.push(toJson(input.input_contract ?? {}));
    }
    if (input.fixtures !== undefined || !resumed) {
      sets.push('fixtures = ?');
      params.push(toJson(fixtures));
    }
    if (requiredFiles !== undefined) {
      sets.push('required_files = ?');
      params.push(toJson(requiredFiles));
    }
    if (input.steps !== undefined) {
      sets.push('steps_planned = ?');
      params.push(toJson(input.steps));
    }
    sql.run(`UPDATE tasks SET ${sets.join(', ')} WHERE id = ?`, [...params, row.id]);
    if (takenOverFrom) {
      // The previous owner's resume point must stop pointing at a case it no longer holds.
      sql.run(
        "UPDATE current_refs SET status = 'completed', version = version + 1, updated_at = ? WHERE owner_key = ? AND case_id = ? AND status = 'active'",
        [now, takenOverFrom, row.id],
      );
    }
    const rolledUp = rollUp(sql, row.id, now);
    const updated = getTask(sql, row.id);
    const next = nextStep(sql, updated);
    const nextAction = describeNext(next, 'run the first step and record it with step.check');
    const checkpoint = writeCheckpoint(sql, ctx, {
      caseId: row.id,
      event: 'case.begin',
      ownerKey: owner,
      summary: resumed ? 'case resumed by its owner' : takenOverFrom ? `case taken over from ${takenOverFrom}` : 'case begun',
      nextAction,
      snapshot: { input_contract: input.input_contract ?? null, fixtures, resumed, taken_over_from: takenOverFrom },
    });
    upsertRef(sql, ctx, owner, {
      caseId: row.id,
      status: 'active',
      nextAction,
      summary: checkpoint.summary,
      requiredFiles: requiredFiles ?? JSON.parse(updated.required_files ?? '[]'),
      checkpointId: checkpoint.id,
    });
    return {
      case: taskWire(updated, dependenciesOf(sql, row.id)),
      checkpoint_id: checkpoint.id,
      resumed,
      taken_over_from: takenOverFrom,
      current_ref: compactRef(ctx, owner),
      ...rolledUpField(rolledUp),
    };
  });
}

/** The case must be active and held by the caller (or force, recorded). */
function requireHeldCase(sql: Sql, ctx: CoreContext, caseId: number, method: string, force?: boolean, reason?: string): TaskRow {
  const row = getCase(sql, caseId);
  if (row.status !== 'in_progress' || !row.owner_key) {
    throw new CodestratorError('PRECONDITION_FAILED', `Case ${row.id} is ${row.status}, not in progress.`, {
      field: 'case_id',
      hint: 'Begin it with case.begin first.',
    });
  }
  checkOwnership(sql, ctx.actor, { method, ownerKey: row.owner_key, target: `case ${row.id}`, force, reason, now: ctx.now() });
  return row;
}

export interface CheckStepInput {
  case_id: number;
  step_title: string;
  result: 'pass' | 'fail' | 'skip';
  notes?: string;
  artifacts?: string[];
  required_files?: string[];
  force?: boolean;
  reason?: string;
}

/** step.check: records a step's real result (a failed attempt stays recorded as failed) and checkpoints. */
export function checkStep(ctx: CoreContext, input: CheckStepInput) {
  return ctx.store.write((sql) => {
    const row = requireHeldCase(sql, ctx, input.case_id, 'step.check', input.force, input.reason);
    const ownerKey = row.owner_key!;
    const requiredFiles = normalizeFiles(sql, ctx, input.required_files);
    const orderNo = (sql.get<{ n: number | null }>('SELECT max(order_no) AS n FROM steps WHERE case_id = ?', [row.id])!.n ?? 0) + 1;
    const stepId = sql.run(
      'INSERT INTO steps (case_id, order_no, title, result, notes, artifacts, owner_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [row.id, orderNo, input.step_title, input.result, input.notes ?? null, toJson(input.artifacts ?? []), ownerKey, ctx.now()],
    ).lastInsertRowid;
    if (requiredFiles !== undefined)
      sql.run('UPDATE tasks SET required_files = ?, updated_at = ? WHERE id = ?', [toJson(requiredFiles), ctx.now(), row.id]);
    else sql.run('UPDATE tasks SET updated_at = ? WHERE id = ?', [ctx.now(), row.id]);
    const next = nextStep(sql, row);
    const nextAction = describeNext(
      next,
      input.result === 'fail' ? `fix and re-check step: ${input.step_title}` : 'run the next step, or complete the case',
    );
    const checkpoint = writeCheckpoint(sql, ctx, {
      caseId: row.id,
      event: 'step.check',
      stepId,
      ownerKey,
      summary: `step ${orderNo} ${input.step_title}: ${input.result}`,
      nextAction,
      snapshot: {
        step_title: input.step_title,
        result: input.result,
        notes: input.notes ?? null,
        artifacts: input.artifacts ?? [],
        checked_by: ownerKeyOf(ctx.actor) ?? null,
      },
    });
    upsertRef(sql, ctx, ownerKey, {
      caseId: row.id,
      status: 'active',
      nextAction,
      summary: checkpoint.summary,
      ...(requiredFiles !== undefined ? { requiredFiles } : {}),
      checkpointId: checkpoint.id,
    });
    return {
      step: stepWire(sql.get<StepRow>('SELECT * FROM steps WHERE id = ?', [stepId])!),
      checkpoint_id: checkpoint.id,
      next_step: next,
      step_counts: stepCounts(sql, row.id),
    };
  });
}

export interface CompleteCaseInput {
  case_id: number;
  summary: string;
  next_action: string;
  required_files?: string[];
  force?: boolean;
  reason?: string;
}

/** case.complete: only by the holder (or force); marks the case done and closes the owner's current ref. */
export function completeCase(ctx: CoreContext, input: CompleteCaseInput) {
  return ctx.store.write((sql) => {
    const row = requireHeldCase(sql, ctx, input.case_id, 'case.complete', input.force, input.reason);
    const ownerKey = row.owner_key!;
    const now = ctx.now();
    const requiredFiles = normalizeFiles(sql, ctx, input.required_files);
    sql.run("UPDATE tasks SET status = 'done', summary = ?, next_action = ?, completed_at = ?, updated_at = ? WHERE id = ?", [
      input.summary,
      input.next_action,
      now,
      now,
      row.id,
    ]);
    if (requiredFiles !== undefined) sql.run('UPDATE tasks SET required_files = ? WHERE id = ?', [toJson(requiredFiles), row.id]);
    const rolledUp = rollUp(sql, row.id, now);
    const updated = getTask(sql, row.id);
    const counts = stepCounts(sql, row.id);
    const unchecked = nextStep(sql, updated);
    const checkpoint = writeCheckpoint(sql, ctx, {
      caseId: row.id,
      event: 'case.complete',
      ownerKey,
      summary: input.summary,
      nextAction: input.next_action,
      snapshot: { step_counts: counts, completed_by: ownerKeyOf(ctx.actor) ?? null },
    });
    upsertRef(sql, ctx, ownerKey, {
      caseId: row.id,
      status: 'completed',
      nextAction: input.next_action,
      summary: input.summary,
      ...(requiredFiles !== undefined ? { requiredFiles } : {}),
      checkpointId: checkpoint.id,
    });
    return {
      case: taskWire(updated, dependenciesOf(sql, row.id)),
      checkpoint_id: checkpoint.id,
      step_counts: counts,
      unchecked_step: unchecked,
      warning: counts.fail > 0 || unchecked ? 'Completed with failed or unchecked planned steps; they stay recorded.' : undefined,
      ...rolledUpField(rolledUp),
    };
  });
}
