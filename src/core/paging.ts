import { invalid } from './errors.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  count: number;
  next_cursor?: string;
}

/** Lists page by id: the cursor is the last id seen, opaque to callers. */
export function cursorId(request: PageRequest): number {
  if (request.cursor === undefined) return 0;
  if (!/^c[0-9]+$/.test(request.cursor)) {
    throw invalid('cursor is not one this server returned.', 'cursor', 'Pass next_cursor from the previous page unchanged.');
  }
  return Number(request.cursor.slice(1));
}

export const pageLimit = (request: PageRequest): number => Math.min(request.limit ?? DEFAULT_LIMIT, MAX_LIMIT);

/** Builds a page from rows fetched with LIMIT limit + 1 in ascending id order. */
export function toPage<R extends { id: number }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const page: Page<T> = { items: kept.map(map), count: kept.length };
  if (more) page.next_cursor = `c${kept[kept.length - 1]!.id}`;
  return page;
}
