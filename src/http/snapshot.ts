import { OPEN_STATES } from '../core/queue-states.js';
import type { Dispatcher } from '../registry/dispatch.js';
import { CallFailed, readAll as listAll, readResult as result } from '../registry/read.js';
import type { ConflictState } from './conflict-watch.js';
import { type TaskTree, buildTaskTree } from './task-tree.js';
import { type ThreadDetails, type ThreadView } from './thread-view.js';

type Item = Record<string, unknown>;

/** Everything the page shows, as of one tick. */
export interface Snapshot {
  repo: { path: string | null; version: string | null };
  sessions: Item[];
  tasks: TaskTree;
  threads: ThreadView[];
  locks: Item[];
  queue: Item[];
  conflicts: ConflictState;
  /** Sections that could not be read this time (they show their last good value). */
  errors: { section: string; code: string; message: string }[];
}

/** Closed sessions are history: the latest few are shown, the rest only counted. */
const CLOSED_SESSIONS_SHOWN = 5;
/** The queue keeps every item forever; the latest ones are shown. */
const QUEUE_ITEMS_SHOWN = 50;
const OPEN_QUEUE_STATES = new Set<string>(OPEN_STATES);

const pick = (row: Item, keys: readonly string[]): Item =>
  Object.fromEntries(keys.filter((key) => key in row).map((key) => [key, row[key]]));

const SESSION_KEYS = [
  'id',
  'status',
  'live',
  'agent_role',
  'owner',
  'user_request',
  'worktree_id',
  'last_seen_at',
  'started_at',
  'closed_at',
  'close_reason',
];
const LOCK_KEYS = ['id', 'scope_type', 'scope_path', 'owner_key', 'fence', 'lease_until', 'acquired_at'];
const QUEUE_KEYS = [
  'id',
  'state',
  'reason',
  'source_branch',
  'target_branch',
  'merge_request_id',
  'conflict_files',
  'gate_log_tail',
  'attempts',
  'updated_at',
];

/**
 * Computes snapshots through the dispatcher only, like the CLI views: every read is a registry
 * method, so the page shows exactly what an agent or the CLI would see.
 */
export class SnapshotSource {
  private last: Snapshot | undefined;
  private repo: Snapshot['repo'] | undefined;
  /** Worktree id → branch, as of the last sessions read (threads show theirs too). */
  private branches = new Map<unknown, unknown>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly threads: ThreadDetails,
    private readonly conflicts: () => ConflictState,
  ) {}

  /** One snapshot; a section that fails keeps its previous value and is named in `errors`. */
  async collect(): Promise<Snapshot> {
    const errors: Snapshot['errors'] = [];
    const prev = this.last;
    const section = async <T>(name: string, read: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await read();
      } catch (err) {
        const wire = err instanceof CallFailed ? err.wire.error : { code: 'INTERNAL', message: String(err) };
        errors.push({ section: name, code: wire.code, message: wire.message });
        return fallback;
      }
    };
    this.repo ??= await this.readRepo();
    const sessions = await section('sessions', () => this.sessions(), prev?.sessions ?? []);
    const [tasks, threads, locks, queue] = await Promise.all([
      section('tasks', async () => buildTaskTree(await listAll(this.dispatcher, 'task.list')), prev?.tasks ?? buildTaskTree([])),
      section('threads', () => this.threadViews(sessions), prev?.threads ?? []),
      section('locks', async () => (await listAll(this.dispatcher, 'lock.list')).map((row) => pick(row, LOCK_KEYS)), prev?.locks ?? []),
      section('queue', () => this.queue(), prev?.queue ?? []),
    ]);
    const conflicts = this.conflicts();
    if (conflicts.error) errors.push({ section: 'conflicts', code: conflicts.error.code, message: conflicts.error.message });
    this.last = { repo: this.repo, sessions, tasks, threads, locks, queue, conflicts, errors };
    return this.last;
  }

  private async readRepo(): Promise<Snapshot['repo']> {
    const outcome = await this.dispatcher.call('runtime.bundle.info', {});
    if (!outcome.ok) return { path: null, version: null };
    return { path: String(outcome.result.repo_path), version: String(outcome.result.version) };
  }

  /** Open sessions, then the latest closed ones; each with its branch. */
  private async sessions(): Promise<Item[]> {
    const [rows, worktrees] = await Promise.all([
      listAll(this.dispatcher, 'session.list', { include_closed: true }),
      listAll(this.dispatcher, 'worktree.list', { live: false }),
    ]);
    const branches = new Map(worktrees.map((w) => [w.id, w.branch]));
    this.branches = branches;
    const open = rows.filter((row) => row.status !== 'closed');
    const closed = rows.filter((row) => row.status === 'closed').slice(-CLOSED_SESSIONS_SHOWN);
    return [...open, ...closed].map((row) => ({ ...pick(row, SESSION_KEYS), branch: branches.get(row.worktree_id) ?? null }));
  }

  private async threadViews(sessions: readonly Item[]): Promise<ThreadView[]> {
    const lists = await Promise.all(sessions.map((s) => listAll(this.dispatcher, 'thread.child.list', { session_id: s.id })));
    const views = await this.threads.views(lists.flat());
    return views.map((view) => ({ ...view, branch: (this.branches.get(view.worktree_id) as string | undefined) ?? null }));
  }

  /** The latest items, newest first; open items carry their merge request's status for approve/block. */
  private async queue(): Promise<Item[]> {
    const rows = (await listAll(this.dispatcher, 'merge.main.list')).slice(-QUEUE_ITEMS_SHOWN).reverse();
    const requestIds = [
      ...new Set(
        rows.filter((row) => OPEN_QUEUE_STATES.has(String(row.state)) && row.merge_request_id).map((row) => Number(row.merge_request_id)),
      ),
    ];
    const requests = new Map<number, Item>();
    await Promise.all(
      requestIds.map(async (id) => {
        const got = await result(this.dispatcher, 'merge.request.get', { merge_request_id: id });
        const request = got.merge_request as Item;
        const review = got.latest_review as Item | null;
        requests.set(id, { id, status: request.status, verdict: review?.verdict ?? null, summary: review?.summary ?? null });
      }),
    );
    return rows.map((row) => ({ ...pick(row, QUEUE_KEYS), merge_request: requests.get(Number(row.merge_request_id)) ?? null }));
  }
}
