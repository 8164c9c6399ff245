/** A plain-text table with left-aligned columns; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** A cell: one line, "-" for nothing. */
export const cellText = (value: unknown): string => (value === null || value === undefined ? '-' : String(value).replace(/\s+/g, ' '));

/** "in 42s" for an epoch-ms deadline, "-" for none. */
export const inSeconds = (ms: unknown, now: number): string =>
  typeof ms === 'number' ? `in ${Math.max(0, Math.round((ms - now) / 1000))}s` : '-';
