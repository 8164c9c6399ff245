import { ErrorCode, McpError, type ReadResourceResult, type Resource } from '@modelcontextprotocol/sdk/types.js';
import { type Dirent, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { nodeFiles } from '../app/files.js';
import { MIRROR_ROLE } from '../core/mirror.js';
import type { McpBackend } from './server.js';
import { OPEN_STATES } from '../core/queue-states.js';

type Item = Record<string, unknown>;

/** The JSON snapshot of the repository's coordination state. */
const STATUS_URI = 'codestrator://status';
const MIRROR_PREFIX = 'codestrator://mirror/';
/** mirror.refresh's default file; listed (once the state exists) even before its first render, since reading it renders it. */
const DEFAULT_MIRROR = 'status.md';
/** "Resource not found" in the MCP versions this server speaks (2024-11-05 to 2025-11-25). */
const RESOURCE_NOT_FOUND = -32002;
const OPEN_QUEUE_STATES = new Set<string>(OPEN_STATES);
/** Finished queue items kept in the snapshot; merge.main.list has the whole history. */
const RECENT_FINISHED = 10;

/** The fields of each kind of row the snapshot keeps: enough to decide what to look at next. */
const FIELDS = {
  sessions: ['id', 'status', 'live', 'agent_role', 'user_request', 'worktree_id', 'last_seen_at'],
  cases: ['id', 'title', 'owner_key', 'parent_id', 'started_at'],
  locks: ['id', 'scope_type', 'scope_path', 'owner_key', 'fence', 'lease_until'],
  threads: ['id', 'session_id', 'role', 'runner', 'status', 'status_reason', 'title', 'worktree_id', 'updated_at'],
  queue: ['id', 'state', 'reason', 'source_branch', 'target_branch', 'conflict_files', 'updated_at'],
} as const;

const pick = (keys: readonly string[]) => (item: Item) =>
  Object.fromEntries(keys.filter((key) => key in item).map((key) => [key, item[key]]));

/**
 * Markdown files of the mirror directory (relative paths, `/`-separated), status.md always among
 * them. Walked by hand, building the paths on the way: Dirent.parentPath needs Node 20.12.
 */
function mirrorFiles(mirrorDir: string): string[] {
  const files: string[] = [];
  const walk = (dir: string, prefix: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // No directory yet: only status.md, which reading renders.
    }
    for (const entry of entries) {
      const file = prefix + entry.name;
      if (entry.isDirectory()) walk(join(dir, entry.name), `${file}/`);
      else if (entry.isFile() && entry.name.endsWith('.md')) files.push(file);
    }
  };
  walk(mirrorDir, '');
  return [...new Set([DEFAULT_MIRROR, ...files])].sort();
}

const mirrorUri = (file: string) => MIRROR_PREFIX + file.split('/').map(encodeURIComponent).join('/');

const STATUS_RESOURCE: Resource = {
  uri: STATUS_URI,
  name: 'status',
  description:
    'Snapshot (JSON): open sessions, cases in progress, live locks, child threads, the open merge queue and its last finished items. ' +
    'Where codestrator has no state yet (no .codestrator/), an empty snapshot with initialized: false and how to start; reading it creates nothing.',
  mimeType: 'application/json',
};

/** How each mirror file is served: the file codestrator renders is brought up to date, any other is read as it is. */
function describeMirrorFile(file: string): string {
  return file === DEFAULT_MIRROR
    ? 'The ledger as deterministic Markdown (.codestrator/mirror/status.md); brought up to date when read.'
    : 'A Markdown file of .codestrator/mirror/; the last file mirror.refresh rendered is brought up to date when read, any other is served as it is.';
}

/**
 * resources/list: the status snapshot, and every Markdown file of the mirror once the state exists.
 * Clients list resources on connect in any repository, so this never creates the state.
 */
export async function listResources(backend: McpBackend): Promise<Resource[]> {
  const where = await backend.locations();
  if (!where.initialized) return [STATUS_RESOURCE];
  return [
    STATUS_RESOURCE,
    ...mirrorFiles(where.mirrorDir).map((file) => ({
      uri: mirrorUri(file),
      name: `mirror/${file}`,
      description: describeMirrorFile(file),
      mimeType: 'text/markdown',
    })),
  ];
}

/** Children of this server's session; a server that acts as no session sees every open session's. */
async function childThreads(backend: McpBackend, sessions: Item[]): Promise<Item[]> {
  try {
    return await backend.all('thread.child.list');
  } catch (err) {
    const wire = err instanceof McpError ? (err.data as { code?: string; field?: string } | undefined) : undefined;
    if (wire?.code !== 'INVALID_ARGUMENT' || wire.field !== 'session_id') throw err;
  }
  const lists = await Promise.all(sessions.map((session) => backend.all('thread.child.list', { session_id: session.id })));
  return lists.flat();
}

/** The snapshot where codestrator has no state: the same shape, empty, saying why and how to start. */
function emptySnapshot(reason: string): Item {
  return {
    initialized: false,
    ledger_version: null,
    generated_at: Date.now(),
    sessions: [],
    cases_in_progress: [],
    locks: [],
    threads: [],
    queue: [],
    hint: reason,
  };
}

async function statusSnapshot(backend: McpBackend): Promise<Item> {
  const [mirror, sessions, cases, locks, queue] = await Promise.all([
    backend.call('mirror.status'),
    backend.all('session.list'),
    backend.all('task.list', { level: 'case', status: 'in_progress' }),
    backend.all('lock.list'),
    backend.all('merge.main.list'),
  ]);
  const threads = await childThreads(backend, sessions);
  const finished = queue.filter((item) => !OPEN_QUEUE_STATES.has(String(item.state)));
  const recent = new Set(finished.slice(-RECENT_FINISHED));
  return {
    initialized: true,
    ledger_version: mirror.ledger_version,
    generated_at: Date.now(),
    sessions: sessions.map(pick(FIELDS.sessions)),
    cases_in_progress: cases.map(pick(FIELDS.cases)),
    locks: locks.map(pick(FIELDS.locks)),
    threads: threads.map(pick(FIELDS.threads)),
    queue: queue.filter((item) => OPEN_QUEUE_STATES.has(String(item.state)) || recent.has(item)).map(pick(FIELDS.queue)),
    hint: 'Details: orch_session session.context, orch_task task.get, orch_thread thread.child.status, orch_merge merge.main.status / merge.main.list.',
  };
}

/** The mirror file a URI names, or undefined when it names none (bad encoding, escapes, not Markdown, absent). */
function mirrorFileOf(uri: string, mirrorDir: string): string | undefined {
  if (!uri.startsWith(MIRROR_PREFIX)) return undefined;
  let segments: string[];
  try {
    segments = uri.slice(MIRROR_PREFIX.length).split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..' || /[/\\]/.test(segment))) return undefined;
  const file = segments.join('/');
  return mirrorFiles(mirrorDir).includes(file) ? file : undefined;
}

/**
 * A mirror file as it is now. The file codestrator renders (status.md, or the target of the last
 * mirror.refresh) is rendered again (deterministic) when the ledger moved on, when status.md was
 * not the last render, or when it is missing; any other Markdown file there is someone else's and
 * is served as it is, never overwritten. mirror.refresh is reserved to the doc-mirror-manager role;
 * the server takes that role here because the reader asked for the mirror.
 */
async function readMirror(backend: McpBackend, mirrorDir: string, file: string): Promise<string> {
  const path = join(mirrorDir, ...file.split('/'));
  const status = await backend.call('mirror.status');
  const rendered = file === DEFAULT_MIRROR || status.md_path === path;
  if (rendered && (status.outdated === true || status.md_path !== path || !nodeFiles.exists(path))) {
    await backend.call('mirror.refresh', { requester_role: MIRROR_ROLE, target_path: file });
  }
  const text = nodeFiles.readText(path);
  if (text === null) throw new McpError(ErrorCode.InternalError, `The mirror file ${path} vanished while it was read; read it again.`);
  return text;
}

const notFound = (uri: string, resources: string) =>
  new McpError(RESOURCE_NOT_FOUND, `Unknown resource ${JSON.stringify(uri)}. Resources: ${resources}`, { uri });

/**
 * resources/read: the status snapshot or a mirror file; any other URI is "resource not found".
 * Without state, status is the empty snapshot and there is no mirror, so a read creates nothing.
 */
export async function readResource(backend: McpBackend, uri: string): Promise<ReadResourceResult> {
  const where = await backend.locations();
  if (uri === STATUS_URI) {
    const snapshot = where.initialized ? await statusSnapshot(backend) : emptySnapshot(where.reason);
    return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(snapshot) }] };
  }
  // Without state there is no mirror, and rendering one would create the state.
  if (!where.initialized) throw notFound(uri, `${STATUS_URI} only: ${where.reason}`);
  const file = mirrorFileOf(uri, where.mirrorDir);
  if (file === undefined) {
    throw notFound(uri, `${STATUS_URI} and ${MIRROR_PREFIX}<file>.md for each Markdown file of the mirror (resources/list lists them).`);
  }
  return { contents: [{ uri, mimeType: 'text/markdown', text: await readMirror(backend, where.mirrorDir, file) }] };
}
