import { tomlString } from '../runners/codex-config.js';
import { scanToml, type TomlEntry } from './toml-scan.js';
import { InstallError, SyntaxErrorAt } from './types.js';

/** The argv an MCP client runs to start codestrator's server. */
export interface ServerCommand {
  command: string;
  args: string[];
}

/**
 * Marker comments around the table install writes. They only help a reader: Codex drops or moves
 * them when it rewrites the file (`codex mcp add`), so the entry is found by its TOML table, and the
 * markers are removed wherever they are. The start line is matched by its prefix.
 */
const BLOCK_START = '# >>> codestrator (managed by `codestrator install`; edits to this table are replaced) >>>';
const START_PREFIX = '# >>> codestrator';
const BLOCK_END = '# <<< codestrator <<<';
const TABLE = ['mcp_servers', 'codestrator'];

/**
 * Passed through to the server (Codex hands an MCP server only HOME, LANG, PATH, SHELL, TERM and
 * the variables named here): the caller's identity, and where the repository and state are, so
 * the server sees the same workspace as the CLI in that shell.
 */
const ENV_VARS = [
  'CODESTRATOR_SESSION_ID',
  'CODESTRATOR_THREAD_ID',
  'CODESTRATOR_REPO',
  'CODESTRATOR_STATE_DIR',
  'CODESTRATOR_TMUX_SOCKET',
];
/** Seconds. Processing the merge queue runs the gate (default timeout 900 s) inside one tool call. */
export const TOOL_TIMEOUT_SEC = 960;
/** Seconds. The server answers initialize without touching the disk; this covers a cold node start. */
export const STARTUP_TIMEOUT_SEC = 20;

/** The managed block, each line ended by eol. Keys checked against Codex CLI 0.169 (`codex mcp get --json`). */
export function codexBlock(server: ServerCommand, eol: string): string {
  return [
    BLOCK_START,
    '[mcp_servers.codestrator]',
    `command = ${tomlString(server.command)}`,
    `args = [${server.args.map(tomlString).join(', ')}]`,
    `env_vars = [${ENV_VARS.map(tomlString).join(', ')}]`,
    // `codex exec` refuses every MCP call that is not read-only unless tools are approved.
    'default_tools_approval_mode = "approve"',
    `startup_timeout_sec = ${STARTUP_TIMEOUT_SEC}`,
    `tool_timeout_sec = ${TOOL_TIMEOUT_SEC}`,
    BLOCK_END,
    '',
  ].join(eol);
}

/**
 * The config with codestrator's table written: an existing one (with its sub-tables and our marker
 * lines) is replaced where it is, else the block is appended after one blank line (`separator` is
 * then what was put before it). Refuses a `[mcp_servers.codestrator]` that is not codestrator's.
 */
export function installCodexBlock(text: string | null, server: ServerCommand, file: string): { text: string; separator: string | null } {
  const source = text ?? '';
  const found = locate(source, file);
  if (found.table && !found.table.ours) throw foreignTable(file, found.table.line);
  const eol = source.includes('\r\n') ? '\r\n' : '\n';
  const block = codexBlock(server, eol);
  let next: string;
  let separator: string | null = null;
  if (found.table) next = without(source, found.ranges, 0, found.table.at) + block + without(source, found.ranges, found.table.at);
  else {
    const rest = without(source, found.ranges);
    separator = rest === '' || rest.endsWith(eol + eol) ? '' : rest.endsWith(eol) ? eol : eol + eol;
    next = rest + separator + block;
  }
  scan(next, file);
  return { text: next, separator };
}

/**
 * The config without codestrator's table, its sub-tables and our marker lines, and without the
 * separator install put before it (`separator` from the manifest; without one, a single blank line
 * is taken as ours) when it is still there. A table that is not codestrator's is left (`foreign`).
 */
export function removeCodexBlock(text: string, separator: string | null, file: string): { text: string; foreign: boolean } {
  const found = locate(text, file);
  if (found.table && !found.table.ours) return { text, foreign: true };
  if (found.ranges.length === 0) return { text, foreign: false };
  const at = found.table?.at ?? found.ranges[0]!.start;
  let head = without(text, found.ranges, 0, at);
  const tail = without(text, found.ranges, at);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const ours = separator ?? (head.endsWith(eol + eol) ? eol : '');
  const kept = head.slice(0, head.length - ours.length);
  // Only while it is still there, and never so that two lines join into one.
  if (head.endsWith(ours) && (kept === '' || tail === '' || kept.endsWith('\n') || /^\r?\n/.test(tail))) head = kept;
  const next = head + tail;
  scan(next, file);
  return { text: next, foreign: false };
}

interface Range {
  start: number;
  end: number;
}

/** Where codestrator's entry is in a Codex config. */
interface Found {
  /** Whole lines to remove, sorted and merged: each section of the table and each marker line. */
  ranges: Range[];
  /** The table: where it starts (its start marker when directly above), its line, and whether it is ours. */
  table: { at: number; line: number; ours: boolean } | null;
}

/**
 * Finds `[mcp_servers.codestrator]` and its sub-tables (each from its header to its last key's line)
 * and the marker lines. The table is ours when our start marker is directly above it, or when it
 * runs our server (Codex rewrites the file without the marker): node on `…/dist/cli/main.js mcp`.
 */
function locate(text: string, file: string): Found {
  const entries = scan(text, file);
  const sections: Range[] = [];
  const values: TomlEntry[] = [];
  let current: Range | null = null;
  let header: TomlEntry | null = null;
  for (const entry of entries) {
    if (entry.kind !== 'value') {
      current = isOurs(entry.path) ? { start: lineStart(text, entry.start), end: lineEnd(text, entry.end) } : null;
      if (current) sections.push(current);
      if (current && !header) header = entry;
    } else if (current) {
      current.end = Math.max(current.end, lineEnd(text, entry.end));
      values.push(entry);
    } else refuseOutside(entry, file);
  }
  const markers = markerLines(text, entries);
  for (const marker of markers.filter((line) => !line.start)) {
    const inside = sections.some((section) => section.start < marker.from && marker.from < section.end);
    if (inside) throw keyAfterBlock(file, values.find((value) => value.start > marker.from) ?? header!);
  }
  const ranges = merge([...sections, ...markers.map((line) => ({ start: line.from, end: line.to }))]);
  if (!header) return { ranges, table: null };
  const first = sections[0]!.start;
  const marked = markers.some((line) => line.start && line.to === first);
  const at = ranges.find((range) => range.start <= first && first < range.end)!.start;
  return { ranges, table: { at, line: header.line, ours: marked || runsOurServer(values) } };
}

/** Lines that are exactly our markers, outside any value (a multi-line string may hold such a line). */
function markerLines(text: string, entries: TomlEntry[]): { from: number; to: number; start: boolean }[] {
  const out: { from: number; to: number; start: boolean }[] = [];
  for (let from = 0; from < text.length; from = lineEnd(text, from)) {
    const line = text.slice(from, lineEnd(text, from)).trim();
    if (!line.startsWith(START_PREFIX) && line !== BLOCK_END) continue;
    if (entries.some((entry) => entry.start < from && from < entry.end)) continue;
    out.push({ from, to: lineEnd(text, from), start: line !== BLOCK_END });
  }
  return out;
}

/** The shape every install writes, on any machine: node on `<package>/dist/cli/main.js mcp`. */
function runsOurServer(values: TomlEntry[]): boolean {
  const command = values.find((value) => value.path.length === 3 && value.path[2] === 'command')?.string;
  const args = values.find((value) => value.path.length === 3 && value.path[2] === 'args')?.strings;
  return (
    command !== undefined &&
    /^node[^/\\]*$/i.test(command.split(/[/\\]/).at(-1)!) &&
    args?.length === 2 &&
    /[/\\]dist[/\\]cli[/\\]main\.js$/.test(args[0]!) &&
    args[1] === 'mcp'
  );
}

function isOurs(path: string[]): boolean {
  return path[0] === TABLE[0] && path[1] === TABLE[1];
}

/** A key outside codestrator's tables that defines it anyway: the block would duplicate it. */
function refuseOutside(entry: TomlEntry, file: string): void {
  if (entry.path.length === 1 && entry.path[0] === 'mcp_servers') {
    throw new InstallError(
      `${file} line ${entry.line}: mcp_servers is an inline value; TOML forbids adding the [mcp_servers.codestrator] table to it.`,
      'Write your servers as [mcp_servers.<name>] tables, then run again.',
    );
  }
  if (isOurs(entry.path))
    throw foreignTable(file, entry.line, `${entry.path.join('.')} is defined outside the [mcp_servers.codestrator] table`);
}

function foreignTable(
  file: string,
  line: number,
  what = "mcp_servers.codestrator is defined outside codestrator's managed block",
): InstallError {
  return new InstallError(
    `${file} line ${line}: ${what}, and it is not the server codestrator install writes (node on …/dist/cli/main.js mcp).`,
    'Remove or rename your own [mcp_servers.codestrator] definition (the installer writes its own table), then run again.',
  );
}

function keyAfterBlock(file: string, entry: TomlEntry): InstallError {
  return new InstallError(
    `${file} line ${entry.line}: ${entry.path.join('.')} is written after codestrator's managed block, inside its table.`,
    'A key written after the block lands in its [mcp_servers.codestrator] table: put a table header before it, or move it above the block.',
  );
}

/** text[from, to) without the ranges inside it. */
function without(text: string, ranges: Range[], from = 0, to = text.length): string {
  let out = '';
  let pos = from;
  for (const range of ranges) {
    if (range.start < from || range.end > to) continue;
    out += text.slice(pos, range.start);
    pos = range.end;
  }
  return out + text.slice(pos, to);
}

function merge(ranges: Range[]): Range[] {
  const out: Range[] = [];
  for (const range of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = out.at(-1);
    if (last && range.start <= last.end) last.end = Math.max(last.end, range.end);
    else out.push({ ...range });
  }
  return out;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Just after the newline ending the line that holds offset (or the text's end). */
function lineEnd(text: string, offset: number): number {
  const newline = text.indexOf('\n', offset);
  return newline < 0 ? text.length : newline + 1;
}

function scan(text: string, file: string): TomlEntry[] {
  try {
    return scanToml(text);
  } catch (error) {
    if (!(error instanceof SyntaxErrorAt)) throw error;
    throw new InstallError(`${file} is not valid TOML: ${error.message}.`, 'Fix the file and run again; nothing was written.');
  }
}
