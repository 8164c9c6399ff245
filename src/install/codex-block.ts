import { scanToml, type TomlEntry } from './toml-scan.js';
import { InstallError, SyntaxErrorAt } from './types.js';

/** The argv an MCP client runs to start codestrator's server. */
export interface ServerCommand {
  command: string;
  args: string[];
}

/** First line of the managed block; matched by its prefix so later wording changes still match. */
export const BLOCK_START = '# >>> codestrator (managed by `codestrator install`; edits inside are replaced) >>>';
const START_PREFIX = '# >>> codestrator';
/** Last line of the managed block. */
export const BLOCK_END = '# <<< codestrator <<<';

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

/** A TOML basic string: JSON's escapes are valid TOML; DEL must also be escaped in TOML. */
export function tomlString(value: string): string {
  return JSON.stringify(value).replace(/\u007f/g, '\\u007F');
}

/** The config with the managed block written (replaced in place, or appended after one blank line). */
export function installCodexBlock(text: string | null, server: ServerCommand, file: string): { text: string; separator: string | null } {
  const source = text ?? '';
  const entries = scan(source, file);
  const eol = source.includes('\r\n') ? '\r\n' : '\n';
  const block = codexBlock(server, eol);
  const span = findBlock(source, file);
  refuseOutsideDefinitions(entries, span, file);
  let next: string;
  let separator: string | null = null;
  if (span) next = source.slice(0, span.start) + block + source.slice(span.end);
  else {
    separator = source === '' || source.endsWith(eol + eol) ? '' : source.endsWith(eol) ? eol : eol + eol;
    next = source + separator + block;
  }
  scan(next, file);
  return { text: next, separator };
}

/**
 * The config without the managed block and the separator install put before it (`separator`
 * from the manifest; without one, a single blank line is taken as ours). No block: unchanged.
 */
export function removeCodexBlock(text: string, separator: string | null, file: string): string {
  const span = findBlock(text, file);
  if (!span) return text;
  let before = text.slice(0, span.start);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const ours = separator ?? (before.endsWith(eol + eol) ? eol : '');
  if (before.endsWith(ours)) before = before.slice(0, before.length - ours.length);
  return before + text.slice(span.end);
}

/** Whether the file holds a managed block (and where its lines are). */
export function findBlock(text: string, file: string): { start: number; end: number; firstLine: number; lastLine: number } | null {
  const lines = text.split('\n');
  let offset = 0;
  let open: { start: number; line: number } | null = null;
  let found: { start: number; end: number; firstLine: number; lastLine: number } | null = null;
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '').trimEnd();
    const next = offset + raw.length + (index < lines.length - 1 ? 1 : 0);
    if (line.startsWith(START_PREFIX)) {
      if (open || found) throw blockError(file, index + 1, 'a second codestrator block starts');
      open = { start: offset, line: index + 1 };
    } else if (line === BLOCK_END) {
      if (!open) throw blockError(file, index + 1, 'a codestrator block ends without a start line');
      found = { start: open.start, end: next, firstLine: open.line, lastLine: index + 1 };
      open = null;
    }
    offset = next;
  }
  if (open) throw blockError(file, open.line, `the codestrator block has no end line ("${BLOCK_END}")`);
  return found;
}

function blockError(file: string, line: number, what: string): InstallError {
  return new InstallError(
    `${file} line ${line}: ${what}.`,
    `Keep exactly one block from "${START_PREFIX} …" to "${BLOCK_END}" (or delete it), then run again.`,
  );
}

function scan(text: string, file: string): TomlEntry[] {
  try {
    return scanToml(text);
  } catch (error) {
    if (!(error instanceof SyntaxErrorAt)) throw error;
    throw new InstallError(`${file} is not valid TOML: ${error.message}.`, 'Fix the file and run again; nothing was written.');
  }
}

/** Refuses a codestrator server defined outside the block: the block would duplicate its keys. */
function refuseOutsideDefinitions(entries: TomlEntry[], span: { firstLine: number; lastLine: number } | null, file: string): void {
  for (const entry of entries) {
    if (span && entry.line >= span.firstLine && entry.line <= span.lastLine) continue;
    const [first, second] = entry.path;
    if (first !== 'mcp_servers') continue;
    if (entry.path.length === 1 && entry.kind === 'value') {
      throw new InstallError(
        `${file} line ${entry.line}: mcp_servers is an inline value; TOML forbids adding the [mcp_servers.codestrator] table to it.`,
        'Write your servers as [mcp_servers.<name>] tables, then run again.',
      );
    }
    if (second === 'codestrator') {
      const after = span && entry.line > span.lastLine && entry.kind === 'value';
      throw new InstallError(
        `${file} line ${entry.line}: ${entry.path.join('.')} is defined outside codestrator's managed block.`,
        after
          ? 'A key written after the block lands in its [mcp_servers.codestrator] table: put a table header before it, or move it above the block.'
          : 'Remove your own [mcp_servers.codestrator] definition (the installer writes it inside its managed block), then run again.',
      );
    }
  }
}
