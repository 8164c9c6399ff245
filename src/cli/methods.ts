import type { Dispatcher } from '../registry/dispatch.js';
import { table } from './table.js';

/** `codestrator methods [name]`: the method list as a table, or one method's schema and example. */
export async function renderMethods(dispatcher: Dispatcher, method: string | undefined, json: boolean): Promise<number> {
  const outcome = await dispatcher.call('system.describe', method === undefined ? {} : { method });
  if (!outcome.ok) {
    process.stderr.write(`${JSON.stringify(outcome.error, null, 2)}\n`);
    return 1;
  }
  if (json || method !== undefined) {
    process.stdout.write(`${JSON.stringify(outcome.result, null, 2)}\n`);
    return 0;
  }
  const items = outcome.result.items as { method: string; tool: string; summary: string }[];
  process.stdout.write(
    table(
      ['METHOD', 'TOOL', 'SUMMARY'],
      items.map((item) => [item.method, item.tool, item.summary]),
    ),
  );
  return 0;
}
