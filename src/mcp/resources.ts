import { ErrorCode, McpError, type ReadResourceResult, type Resource } from '@modelcontextprotocol/sdk/types.js';
import { type Dirent, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { nodeFiles } from '../app/files.js';
import { MIRROR_ROLE } from '../core/mirror.js';
import type { McpBackend } from './server.js';

type Item = Record<string, unknown>;

/** The JSON snapshot of the repository's coordination state. */
export const STATUS_URI = 'codestrator://status';
const MIRROR_PREFIX = 'codestrator://mirror/';
/** mirror.refresh's default file; listed even before its first render, since reading it renders it. */
const DEFAULT_MIRROR = 'status.md';
/** "Resource not found" in the MCP versions this server speaks (2024-11-05 to 2025-11-25). */
const RESOURCE_NOT_FOUND = -32002;
const OPEN_QUEUE_STATES = new Set(['queued', 'checking', 'waiting', 'blocked_by_review']);
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

/** Markdown files of the mirror directory (relative paths, `/`-separated), status.md always among them. */
function mirrorFiles(mirrorDir: string): string[] {
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(mirrorDir, { withFileTypes: true, recursive: true });
  } catch {
    // No directory yet: only status.md, which reading renders.
  }
  const files = entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.md'))
    .map((entry) => relative(mirrorDir, join(entry.parentPath, entry.name)).split(sep).join('/'));
  return [...new Set([DEFAULT_MIRROR, ...files])].sort();
}

const mirrorUri = (file: string) => MIRROR_PREFIX + file.split('/').map(encodeURIComponent).join('/');

/** resources/list: the status snapshot and every Markdown file of the mirror. */
export async function listResources(backend: McpBackend): Promise<Resource[]> {
  const { mirrorDir } = await backend.locations();
  return [
    {
      uri: STATUS_URI,
      name: 'status',
      description:
        'Snapshot (JSON): open sessions, cases in progress, live locks, child threads, the open merge queue and its last finished items.',
      mimeType: 'application/json',
    },
    ...mirrorFiles(mirrorDir).map((file) => ({
      uri: mirrorUri(file),
      name: `mirror/${file}`,
      description: 'The ledger as deterministic Markdown (.codestrator/mirror/); brought up to date when read.',
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
 * A mirror file as it is now: rendered again (mirror.refresh, deterministic) when the ledger moved
 * on or when the last render went to another file, then read. mirror.refresh is reserved to the
 * doc-mirror-manager role; the server takes that role here because the reader asked for the mirror.
 */
async function readMirror(backend: McpBackend, mirrorDir: string, file: string): Promise<string> {
  const path = join(mirrorDir, ...file.split('/'));
  const status = await backend.call('mirror.status');
  if (status.outdated === true || status.md_path !== path || !nodeFiles.exists(path)) {
    await backend.call('mirror.refresh', { requester_role: MIRROR_ROLE, target_path: file });
  }
  const text = nodeFiles.readText(path);
  if (text === null) throw new McpError(ErrorCode.InternalError, `The mirror file ${path} vanished while it was read; read it again.`);
  return text;
}

/** resources/read: the status snapshot or a mirror file; any other URI is "resource not found". */
export async function readResource(backend: McpBackend, uri: string): Promise<ReadResourceResult> {
  if (uri === STATUS_URI) {
    return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(await statusSnapshot(backend)) }] };
  }
  const { mirrorDir } = await backend.locations();
  const file = mirrorFileOf(uri, mirrorDir);
  if (file === undefined) {
    throw new McpError(
      RESOURCE_NOT_FOUND,
      `Unknown resource ${JSON.stringify(uri)}. Resources: ${STATUS_URI} and ${MIRROR_PREFIX}<file>.md for each Markdown file of the mirror (resources/list lists them).`,
      { uri },
    );
  }
  return { contents: [{ uri, mimeType: 'text/markdown', text: await readMirror(backend, mirrorDir, file) }] };
}
