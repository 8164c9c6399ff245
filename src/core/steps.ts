import { parseJson } from './json.js';
import type { Sql } from './ports.js';
import type { TaskRow } from './rows.js';

export interface NextStep {
  title: string;
  /** The result of the last attempt at this step, when it was tried and did not pass. */
  last_result: 'fail' | null;
}

/**
 * The next planned step still to do: the first planned title whose latest recorded result is
 * not pass or skip. A failed step stays the next step until a later check passes it.
 */
export function nextStep(sql: Sql, row: TaskRow): NextStep | null {
  const planned = parseJson<string[]>(row.steps_planned, []);
  if (planned.length === 0) return null;
  const latest = new Map<string, string>();
  for (const step of sql.all<{ title: string; result: string }>('SELECT title, result FROM steps WHERE case_id = ? ORDER BY order_no', [
    row.id,
  ])) {
    latest.set(step.title, step.result);
  }
  for (const title of planned) {
    const result = latest.get(title);
    if (result !== 'pass' && result !== 'skip') return { title, last_result: result === 'fail' ? 'fail' : null };
  }
  return null;
}

export function stepCounts(sql: Sql, caseId: number): { pass: number; fail: number; skip: number } {
  const counts = { pass: 0, fail: 0, skip: 0 };
  for (const row of sql.all<{ result: 'pass' | 'fail' | 'skip'; n: number }>(
    'SELECT result, count(*) AS n FROM steps WHERE case_id = ? GROUP BY result',
    [caseId],
  )) {
    counts[row.result] = row.n;
  }
  return counts;
}
