import type { RecoveryReport } from '../core/recovery.js';
import type { Dispatcher } from '../registry/dispatch.js';
import { table } from './table.js';

/**
 * `codestrator doctor [--apply] [--json]`: work a dead process left behind (system.doctor), as a
 * table or JSON; a dry run unless --apply.
 */
export async function renderDoctor(dispatcher: Dispatcher, options: { apply: boolean; json: boolean }): Promise<number> {
  const outcome = await dispatcher.call('system.doctor', { apply: options.apply });
  if (!outcome.ok) {
    process.stderr.write(`${JSON.stringify(outcome.error, null, 2)}\n`);
    return 1;
  }
  const report = outcome.result as unknown as RecoveryReport;
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const out: string[] = [];
  const n = report.findings.length;
  if (n > 0) {
    out.push(
      table(
        ['KIND', 'TARGET', 'PROBLEM', report.applied ? 'REPAIRED' : 'REPAIR'],
        report.findings.map((f) => [f.kind, f.target, f.problem, f.repair]),
      ),
    );
  }
  if (n === 0) out.push('nothing to repair: no work left behind by a dead process\n');
  else
    out.push(
      report.applied
        ? `repaired ${n} finding${n === 1 ? '' : 's'}\n`
        : `dry run: pass --apply to repair ${n} finding${n === 1 ? '' : 's'}\n`,
    );
  process.stdout.write(out.join(''));
  return 0;
}
