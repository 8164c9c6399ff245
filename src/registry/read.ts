import type { WireError } from '../core/errors.js';
import type { CallOptions, Dispatcher } from './dispatch.js';

type Item = Record<string, unknown>;

/** A call that failed inside a read of several calls; carries the structured error. */
export class CallFailed extends Error {
  constructor(readonly wire: WireError) {
    super(wire.error.message);
    this.name = 'CallFailed';
  }
}

/**
 * Reads for supervisors (CLI views, dashboard, the status resource): one call's result, or
 * CallFailed. They are observer calls, so naming a session to scope a list does not keep it live.
 */
export async function readResult(dispatcher: Dispatcher, method: string, params: Item = {}, options: CallOptions = {}): Promise<Item> {
  const outcome = await dispatcher.call(method, params, { observer: true, ...options });
  if (!outcome.ok) throw new CallFailed(outcome.error);
  return outcome.result;
}

/** Every item of a list method, page after page (views show the whole state). */
export async function readAll(dispatcher: Dispatcher, method: string, params: Item = {}, options: CallOptions = {}): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: unknown;
  do {
    const page = await readResult(
      dispatcher,
      method,
      { ...params, limit: 500, ...(typeof cursor === 'string' ? { cursor } : {}) },
      options,
    );
    items.push(...((page.items as Item[] | undefined) ?? []));
    cursor = page.next_cursor;
  } while (typeof cursor === 'string');
  return items;
}
