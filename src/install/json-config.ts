import { jsonStyle, removeMember, setMember } from './json-edit.js';
import { memberOf, parseJsonTree, type JsonMember, type JsonObject } from './json-tree.js';
import { InstallError, SyntaxErrorAt } from './types.js';

/** Where a JSON config is and how codestrator's entry in it is known. */
export interface JsonConfigContext {
  /** The path shown in messages. */
  file: string;
  /** JSON with comments (Gemini's settings). */
  comments: boolean;
  /** Whether the manifest says codestrator install wrote this file's entry. */
  owned: boolean;
  /** Keys the installer created earlier (from the manifest), e.g. ["mcpServers"]. */
  createdKeys: readonly string[];
}

/**
 * The config with `mcpServers.codestrator` = entry, every other byte kept. Refuses an existing
 * `codestrator` entry that codestrator install did not write (uninstall would remove it).
 */
export function installJsonServer(text: string | null, entry: object, ctx: JsonConfigContext): { text: string; createdKeys: string[] } {
  const source = text === null || text.trim() === '' ? '{}\n' : text;
  const root = parseRoot(source, ctx);
  const style = jsonStyle(source, root);
  const servers = serversOf(root, ctx);
  const createdKeys = new Set(ctx.createdKeys);
  let next: string;
  if (!servers) {
    next = setMember(source, root, 'mcpServers', { codestrator: entry }, style);
    createdKeys.add('mcpServers');
  } else {
    const existing = memberOf(servers, 'codestrator');
    if (existing && !ctx.owned && !looksInstalled(source, existing)) {
      throw new InstallError(
        `${ctx.file} already has an mcpServers.codestrator entry that codestrator install did not write.`,
        'Remove that entry (or rename it) and run install again; the installer will not overwrite it.',
      );
    }
    next = setMember(source, servers, 'codestrator', entry, style);
  }
  parseRoot(next, ctx); // the edit must leave valid JSON; a failure here is a bug, not the user's file
  return { text: next, createdKeys: [...createdKeys].sort() };
}

/** What uninstall did to a JSON config. */
export interface JsonUninstall {
  text: string;
  /** The root object has no members left. */
  empty: boolean;
  /** An entry named codestrator was left because codestrator install did not write it. */
  foreign: boolean;
}

/** The config without codestrator's entry, and without an `mcpServers` it created and left empty. */
export function uninstallJsonServer(text: string, ctx: JsonConfigContext): JsonUninstall {
  let root = parseRoot(text, ctx);
  const servers = serversOf(root, ctx);
  const existing = servers && memberOf(servers, 'codestrator');
  if (!servers || !existing) return { text, empty: root.members.length === 0, foreign: false };
  if (!ctx.owned && !looksInstalled(text, existing)) return { text, empty: false, foreign: true };
  let next = removeMember(text, servers, 'codestrator');
  root = parseRoot(next, ctx);
  const left = serversOf(root, ctx)!;
  if (left.members.length === 0 && ctx.createdKeys.includes('mcpServers')) {
    next = removeMember(next, root, 'mcpServers');
    root = parseRoot(next, ctx);
  }
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
