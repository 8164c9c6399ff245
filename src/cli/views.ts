import { printableJson } from '../core/control-chars.js';
import type { Dispatcher } from '../registry/dispatch.js';
import { CallFailed, readAll as all, readResult } from '../registry/read.js';
import { cellText as text, inSeconds, table } from './table.js';

type Item = Record<string, unknown>;
type Column = [header: string, cell: (item: Item, now: number) => string];

/** One read-only CLI view: where its rows come from and how they print. */
interface View {
  name: string;
  description: string;
  rows(dispatcher: Dispatcher): Promise<Item[]>;
  columns: Column[];
}

export const VIEWS: readonly View[] = [
  {
    name: 'tasks',
    description: 'The task ledger: every task with level, status, parent and owner',
    rows: (d) => all(d, 'task.list'),
    columns: [
      ['ID', (t) => text(t.id)],
      ['LEVEL', (t) => text(t.level)],
      ['STATUS', (t) => text(t.status)],
      ['PARENT', (t) => text(t.parent_id)],
      ['OWNER', (t) => text(t.owner_key)],
      ['TITLE', (t) => text(t.title)],
    ],
  },
  {
    name: 'locks',
    description: 'Live file and prefix locks with holder and expiry',
    rows: (d) => all(d, 'lock.list'),
    columns: [
      ['ID', (l) => text(l.id)],
      ['SCOPE', (l) => `${text(l.scope_type)} ${text(l.scope_path)}`],
      ['OWNER', (l) => text(l.owner_key)],
      ['FENCE', (l) => text(l.fence)],
      ['EXPIRES', (l, now) => inSeconds(l.lease_until, now)],
    ],
  },
  {
    name: 'threads',
    description: 'Child agents of the open sessions: runner, status and why, and the read-only attach command',
    rows: async (d) => {
      const sessions = await all(d, 'session.list');
      const lists = await Promise.all(sessions.map((s) => all(d, 'thread.child.list', { session_id: s.id })));
      return lists.flat();
    },
    columns: [
      ['ID', (t) => text(t.id)],
      ['SESSION', (t) => text(t.session_id)],
      ['RUNNER', (t) => text(t.runner)],
      ['STATUS', (t) => text(t.status)],
      ['REASON', (t) => text(t.status_reason)],
      ['TITLE', (t) => text(t.title)],
    ],
  },
  {
    name: 'queue',
    description: 'The main-merge queue: each item with its state and reason',
    rows: (d) => all(d, 'merge.main.list'),
    columns: [
      ['ID', (q) => text(q.id)],
      ['STATE', (q) => text(q.state)],
      ['SOURCE', (q) => text(q.source_branch)],
      ['TARGET', (q) => text(q.target_branch)],
      ['REASON', (q) => text(q.reason)],
    ],
  },
  {
    name: 'conflicts',
    description: 'Predicted conflicts between active branches and with the target (git merge-tree; nothing is touched)',
    rows: async (d) => {
      const report = (await readResult(d, 'worktree.conflicts')) as { target_branch: string; branches: Item[]; pairs: Item[] };
      const withTarget = report.branches
        .filter((b) => (b.conflicts_with_target as string[]).length > 0)
        .map((b) => ({ between: `${text(b.branch)} ↔ ${report.target_branch}`, kind: 'conflict', files: b.conflicts_with_target }));
      const pairs = report.pairs.flatMap((p) => [
        ...((p.conflict_files as string[]).length > 0
          ? [{ between: `${text(p.a_branch)} ↔ ${text(p.b_branch)}`, kind: 'conflict', files: p.conflict_files }]
          : []),
        ...((p.overlapping_clean as string[]).length > 0
          ? [{ between: `${text(p.a_branch)} ↔ ${text(p.b_branch)}`, kind: 'overlap (clean)', files: p.overlapping_clean }]
          : []),
      ]);
      return [...withTarget, ...pairs];
    },
    columns: [
      ['BETWEEN', (c) => text(c.between)],
      ['KIND', (c) => text(c.kind)],
      ['FILES', (c) => (c.files as string[]).join(', ')],
    ],
  },
];

/** Prints a view as a table (or JSON with --json); errors go to stderr as the structured error. */
export async function renderView(dispatcher: Dispatcher, view: View, json: boolean): Promise<number> {
  let rows: Item[];
  try {
    rows = await view.rows(dispatcher);
  } catch (err) {
    if (!(err instanceof CallFailed)) throw err;
    process.stderr.write(`${JSON.stringify(err.wire, null, 2)}\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(`${printableJson({ items: rows, count: rows.length }, 2)}\n`);
    return 0;
  }
  const now = Date.now();
  if (rows.length === 0) {
    process.stdout.write(`No ${view.name}.\n`);
    return 0;
  }
  process.stdout.write(
    table(
      view.columns.map(([header]) => header),
      rows.map((row) => view.columns.map(([, cell]) => cell(row, now))),
    ),
  );
  return 0;
}
