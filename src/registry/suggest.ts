/** Levenshtein distance, for "did you mean" hints on unknown names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** Up to three known names close to the input (or containing it). */
export function closestNames(input: string, names: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(input.length / 3));
  return names
    .map((name) => ({ name, d: name.includes(input) && input.length > 3 ? 1 : distance(input, name) }))
    .filter((entry) => entry.d <= limit)
    .sort((a, b) => a.d - b.d || a.name.localeCompare(b.name))
    .slice(0, 3)
    .map((entry) => entry.name);
}
