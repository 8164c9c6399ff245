import { addMember, type Insertion, jsonStyle, removeMember, replaceValue } from './json-edit.js';
import { memberOf, parseJsonTree, type JsonMember, type JsonObject } from './json-tree.js';
import { InstallError, SyntaxErrorAt } from './types.js';

/** Where a JSON config is and how codestrator's entry in it is known. */
interface JsonConfigContext {
  /** The path shown in messages. */
  file: string;
  /** JSON with comments (Gemini's settings). */
  comments: boolean;
  /** Whether the manifest says codestrator install wrote this file's entry. */
  owned: boolean;
  /** Keys the installer created earlier (from the manifest), e.g. ["mcpServers"]. */
  createdKeys: readonly string[];
  /** The member install added last (from the manifest) and the bytes that came with it. */
  inserted?: JsonInsertion;
}

/** A member install added (`mcpServers` to the root, or `codestrator` to `mcpServers`) with its bytes. */
export interface JsonInsertion extends Insertion {
  member: 'mcpServers' | 'codestrator';
}

/** JSON's whitespace only: such a file (or none) gets a new root object. */
const BLANK = /^[ \t\r\n]*$/;

/**
 * The config with `mcpServers.codestrator` = entry, every other byte kept. Refuses an existing
 * `codestrator` entry that codestrator install did not write (uninstall would remove it). A blank
 * file gets a new object in front of its whitespace. `inserted` says what a new member brought.
 */
export function installJsonServer(
  text: string | null,
  entry: object,
  ctx: JsonConfigContext,
): { text: string; createdKeys: string[]; inserted?: JsonInsertion } {
  const blank = text === null || BLANK.test(text);
  const source = blank ? '{}' : text;
  const root = parseRoot(source, ctx);
  const style = jsonStyle(blank ? (text ?? '') : source, root);
  const servers = serversOf(root, ctx);
  const createdKeys = new Set(ctx.createdKeys);
  let next: string;
  let inserted = ctx.inserted;
  const existing = servers && memberOf(servers, 'codestrator');
  if (!servers) {
    const added = addMember(source, root, 'mcpServers', { codestrator: entry }, style);
    next = added.text;
    inserted = { member: 'mcpServers', ...added.insertion };
    createdKeys.add('mcpServers');
  } else if (!existing) {
    const added = addMember(source, servers, 'codestrator', entry, style);
    next = added.text;
    inserted = { member: 'codestrator', ...added.insertion };
  } else {
    if (!ctx.owned && !looksInstalled(source, existing)) {
      throw new InstallError(
        `${ctx.file} already has an mcpServers.codestrator entry that codestrator install did not write.`,
        'Remove that entry (or rename it) and run install again; the installer will not overwrite it.',
      );
    }
    next = replaceValue(source, existing, entry, style);
  }
  if (blank) {
    // The whole object is new: it and the line end after it go in front of the blank text.
    next = `${next}${style.eol}${text ?? ''}`;
    inserted = { member: 'mcpServers', before: `{${inserted!.before}`, after: `${inserted!.after}}${style.eol}` };
  }
  parseRoot(next, ctx); // the edit must leave valid JSON; a failure here is a bug, not the user's file
  return { text: next, createdKeys: [...createdKeys].sort(), ...(inserted ? { inserted } : {}) };
}

/** What uninstall did to a JSON config. */
interface JsonUninstall {
  text: string;
  /** The root object has no members left (or the file is blank again). */
  empty: boolean;
  /** An entry named codestrator was left because codestrator install did not write it. */
  foreign: boolean;
}

/**
 * The config without codestrator's entry, and without an `mcpServers` it created and left empty:
 * exactly the bytes install added when they are still in place (so the file comes back byte for
 * byte), else the member and its separator.
 */
export function uninstallJsonServer(text: string, ctx: JsonConfigContext): JsonUninstall {
  let root = parseRoot(text, ctx);
  const servers = serversOf(root, ctx);
  const existing = servers && memberOf(servers, 'codestrator');
  if (!servers || !existing) return { text, empty: root.members.length === 0, foreign: false };
  if (!ctx.owned && !looksInstalled(text, existing)) return { text, empty: false, foreign: true };
  const created = ctx.createdKeys.includes('mcpServers');
  const inserted = ctx.inserted;
  let next: string;
  if (created && servers.members.length === 1 && inserted?.member === 'mcpServers') next = removeMember(text, root, 'mcpServers', inserted);
  else {
    next = removeMember(text, servers, 'codestrator', inserted?.member === 'codestrator' ? inserted : undefined);
    root = parseRoot(next, ctx);
    if (created && serversOf(root, ctx)!.members.length === 0) next = removeMember(next, root, 'mcpServers');
  }
  if (BLANK.test(next)) return { text: next, empty: true, foreign: false };
  root = parseRoot(next, ctx);
  return { text: next, empty: root.members.length === 0, foreign: false };
}

function parseRoot(text: string, ctx: JsonConfigContext): JsonObject {
  let root;
  try {
    root = parseJsonTree(text, { comments: ctx.comments });
  } catch (error) {
    if (!(error instanceof SyntaxErrorAt)) throw error;
    throw new InstallError(
      `${ctx.file} is not valid JSON${ctx.comments ? ' (comments allowed)' : ''}: ${error.message}.`,
      'Fix the file (or move it away) and run again; nothing was written.',
    );
  }
  if (root.type !== 'object') throw new InstallError(`${ctx.file} does not hold a JSON object.`, 'Fix the file and run again.');
  return root;
}

function serversOf(root: JsonObject, ctx: JsonConfigContext): JsonObject | undefined {
  const servers = memberOf(root, 'mcpServers')?.value;
  if (servers && servers.type !== 'object') {
    throw new InstallError(`${ctx.file}: "mcpServers" is not an object.`, 'Fix the file and run again.');
  }
  return servers;
}

/**
 * An entry codestrator install wrote on some machine: node on `<package>/dist/cli/main.js mcp`.
 * Lets a clone that has the committed config (but not the installer's manifest) reinstall.
 */
function looksInstalled(text: string, member: JsonMember): boolean {
  try {
    const value = JSON.parse(text.slice(member.value.start, member.value.end)) as { args?: unknown };
    const args = value.args;
    return Array.isArray(args) && args.length === 2 && args[1] === 'mcp' && /[/\\]dist[/\\]cli[/\\]main\.js$/.test(String(args[0]));
  } catch {
    return false;
  }
}
