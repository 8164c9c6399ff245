import type { ServerEntry } from './shared.js';

/**
 * The child's CODEX_HOME/config.toml: the user's config.toml kept as it is, except any earlier
 * `codestrator` MCP server entry, plus ours, which:
 * - runs codestrator's server with the child's identity in `env` (Codex hands an MCP server only
 *   HOME, LANG, PATH, SHELL and TERM of its own environment);
 * - says `default_tools_approval_mode = "approve"` (`codex exec` refuses every MCP call that is
 *   not read-only otherwise);
 * - says `required = true`, so Codex waits for the server before its first turn and exits with an
 *   error if it cannot start, instead of working on without codestrator's tools.
 * Checked against Codex CLI 0.169 (`codex mcp get codestrator --json`, `codex exec --strict-config`).
 */
export function codexConfigToml(userConfig: string | null, entry: ServerEntry, threadId: number): string {
  const kept = userConfig === null ? [] : withoutCodestrator(userConfig.split(/\r?\n/));
  while (kept.length > 0 && kept[kept.length - 1]!.trim() === '') kept.pop();
  const ours = [
    `# Added by codestrator for thread ${threadId}: its own MCP server, acting as this thread.`,
    '[mcp_servers.codestrator]',
    `command = ${tomlString(entry.command)}`,
    `args = [${entry.args.map(tomlString).join(', ')}]`,
    'required = true',
    'default_tools_approval_mode = "approve"',
    '',
    '[mcp_servers.codestrator.env]',
    ...Object.entries(entry.env).map(([key, value]) => `${tomlKey(key)} = ${tomlString(value)}`),
  ];
  return [...kept, ...(kept.length > 0 ? [''] : []), ...ours, ''].join('\n');
}

/**
 * A TOML basic string: JSON's escapes are all valid TOML; DEL must be escaped in TOML, not in JSON.
 * (Paths and argv never hold lone surrogates, the one thing JSON can escape and TOML cannot hold.)
 */
export function tomlString(value: string): string {
  return JSON.stringify(value).replace(/\u007f/g, '\\u007F');
}

function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

const TARGET = ['mcp_servers', 'codestrator'];

/**
 * Drops every definition of mcp_servers.codestrator, in the forms TOML allows: its tables and
 * sub-tables (`[mcp_servers.codestrator]`, `[mcp_servers.codestrator.env]`, quoted or spaced),
 * a `codestrator = {…}` key under `[mcp_servers]`, and dotted keys at the top level. A value that
 * spans lines (an array) is dropped whole. Lines inside multi-line strings are left alone.
 */
function withoutCodestrator(lines: string[]): string[] {
  const kept: string[] = [];
  let table: string[] = [];
  let multiline: 'keep' | 'drop' | null = null; // inside a multi-line string: are its lines kept?
  let value: { depth: number; drop: boolean } | null = null; // a value (array, table) spanning lines
  for (const line of lines) {
    const opensOrCloses = countDelimiters(line) % 2 === 1;
    if (multiline) {
      if (multiline === 'keep') kept.push(line);
      if (opensOrCloses) multiline = null;
      continue;
    }
    if (value) {
      if (!value.drop) kept.push(line);
      value.depth += bracketDelta(line);
      if (value.depth <= 0) value = null;
      continue;
    }
    const header = /^\s*\[\[?([^\]]*)\]\]?\s*(#.*)?$/.exec(line);
    if (header) table = keyPath(header[1]!);
    const key = header ? null : KEY.exec(line);
    const drop = startsWith(table, TARGET) || (key !== null && startsWith([...table, ...keyPath(key[1]!)], TARGET));
    if (!drop) kept.push(line);
    const depth = key ? bracketDelta(line) : 0;
    if (depth > 0) value = { depth, drop };
    else if (opensOrCloses) multiline = drop ? 'drop' : 'keep';
  }
  return kept;
}

const SEGMENT = `(?:[A-Za-z0-9_-]+|"(?:[^"\\\\]|\\\\.)*"|'[^']*')`;
/** A key-value line's key, bare, quoted or dotted. */
const KEY = new RegExp(`^\\s*(${SEGMENT}(?:\\s*\\.\\s*${SEGMENT})*)\\s*=`);

/** `a."b.c".'d'` → ['a', 'b.c', 'd']. */
function keyPath(text: string): string[] {
  const parts: string[] = [];
  const part = /\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(?:\.|$)/gy;
  let match: RegExpExecArray | null;
  while ((match = part.exec(text)) !== null && match[0] !== '') {
    const quoted = match[2];
    parts.push(match[1] ?? (quoted !== undefined ? unescapeBasic(quoted) : match[3]!));
  }
  return parts;
}

/** A basic string's escapes; TOML's \UXXXXXXXX is not JSON, so such a key is compared as written. */
function unescapeBasic(text: string): string {
  try {
    return JSON.parse(`"${text}"`) as string;
  } catch {
    return text;
  }
}

function startsWith(path: string[], prefix: string[]): boolean {
  return prefix.every((segment, index) => path[index] === segment);
}

/** Opening minus closing brackets and braces outside strings and comments. */
function bracketDelta(line: string): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === '\\' && quote === '"') i++;
      else if (char === quote) quote = null;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '#') break;
    else if (char === '[' || char === '{') depth++;
    else if (char === ']' || char === '}') depth--;
  }
  return depth;
}

function countDelimiters(line: string): number {
  return (line.match(/"""|'''/g) ?? []).length;
}
