import type { CoreContext } from './context.js';
import type { Sql } from './ports.js';

/**
 * Lease holders as processes: every lease records the process key (`<machine>/<pid>/<start time>`)
 * of the process that took it, so a holder that died is known at once, not when its lease runs out.
 */

/** This process's key; null in bare contexts without a process port. */
export const selfProcess = (ctx: CoreContext): string | null => ctx.processes?.self ?? null;

/** Whether the process is known to be gone: unknown (no key, no port, another machine) is never dead. */
export function isDeadProcess(ctx: CoreContext, key: string | null | undefined): boolean {
  if (!key || !ctx.processes) return false;
  return key !== ctx.processes.self && ctx.processes.isRunning(key) === false;
}

/** Records a recovery step (a takeover, a rollback) in audit_events, as the process that did it. */
export function auditRecovery(sql: Sql, ctx: CoreContext, method: string, target: string, reason: string): void {
  sql.run('INSERT INTO audit_events (method, actor_key, target, reason, created_at) VALUES (?, ?, ?, ?, ?)', [
    method,
    selfProcess(ctx) === null ? null : `process:${selfProcess(ctx)}`,
    target,
    reason,
    ctx.now(),
  ]);
}

/** A fault-injection point (tests kill the process there); a no-op otherwise. */
export const checkpoint = (ctx: CoreContext, point: string): void => ctx.processes?.checkpoint(point);
