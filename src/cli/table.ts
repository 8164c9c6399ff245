import { displayLine } from '../core/control-chars.js';

/**
 * A plain-text table with left-aligned columns; the last column is not padded. Every cell is
 * one line with control characters escaped: titles are user text and must not drive the terminal.
 */
export function table(header: readonly string[], givenRows: readonly (readonly string[])[]): string {
  const rows = givenRows.map((row) => row.map(displayLine));
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** A cell: one line with control characters escaped, "-" for nothing. */
export const cellText = (value: unknown): string => (value === null || value === undefined ? '-' : displayLine(String(value)));

/** "in 42s" for an epoch-ms deadline, "-" for none. */
export const inSeconds = (ms: unknown, now: number): string =>
  typeof ms === 'number' ? `in ${Math.max(0, Math.round((ms - now) / 1000))}s` : '-';
