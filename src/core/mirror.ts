import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import type { CoreContext } from './context.js';
import { displayLine } from './control-chars.js';
import { CodestratorError, invalid } from './errors.js';
import { parseJson } from './json.js';
import type { Sql } from './ports.js';
import type { LockRow, SessionRow, StepRow, TaskRow, WorktreeRow } from './rows.js';

export const MIRROR_ROLE = 'doc-mirror-manager';
const DEFAULT_FILE = 'status.md';

interface Meta {
  ledger_version: number;
  mirror_version: number;
  mirror_path: string | null;
}

const readMeta = (sql: Sql) => sql.get<Meta>('SELECT ledger_version, mirror_version, mirror_path FROM meta WHERE id = 1')!;

/** Keeps user text on one line, from breaking Markdown tables, and its control characters escaped. */
const cell = (text: string | null | undefined) =>
  displayLine(text ?? '')
    .replace(/\|/g, '\\|')
    .trim();

const BOX: Record<string, string> = { done: '[x]', in_progress: '[~]', blocked: '[!]', cancelled: '[-]', todo: '[ ]' };

function renderTasks(sql: Sql, out: string[]): void {
  const tasks = sql.all<TaskRow>('SELECT * FROM tasks ORDER BY id');
  const steps = sql.all<StepRow>('SELECT * FROM steps ORDER BY case_id, order_no');
  const children = new Map<number | null, TaskRow[]>();
  for (const task of tasks) {
    const list = children.get(task.parent_id) ?? [];
    list.push(task);
    children.set(task.parent_id, list);
  }
  const stepsOf = new Map<number, StepRow[]>();
  for (const step of steps) {
    const list = stepsOf.get(step.case_id);
    if (list) list.push(step);
    else stepsOf.set(step.case_id, [step]);
  }
  out.push('## Tasks', '');
  if (tasks.length === 0) out.push('_No tasks._', '');
  const walk = (parent: number | null, depth: number) => {
    for (const task of children.get(parent) ?? []) {
      const indent = '  '.repeat(depth);
      const owner = task.owner_key && task.status === 'in_progress' ? ` — ${task.owner_key}` : '';
      out.push(`${indent}- ${BOX[task.status] ?? '[ ]'} ${task.level} #${task.id}: ${cell(task.title)} (${task.status}${owner})`);
      if (task.level === 'case') {
        for (const step of stepsOf.get(task.id) ?? []) {
          const box = step.result === 'pass' ? '[x]' : step.result === 'skip' ? '[-]' : '[!]';
          out.push(
            `${indent}  - ${box} step ${step.order_no}: ${cell(step.title)} — ${step.result}${step.notes ? `: ${cell(step.notes)}` : ''}`,
          );
        }
        const planned = parseJson<string[]>(task.steps_planned, []);
        const checked = new Set((stepsOf.get(task.id) ?? []).map((step) => step.title));
        for (const title of planned.filter((t) => !checked.has(t))) out.push(`${indent}  - [ ] step: ${cell(title)} (not checked)`);
      }
      walk(task.id, depth + 1);
    }
  };
  walk(null, 0);
  out.push('');
}

function renderTable(out: string[], title: string, header: string[], rows: string[][]): void {
  out.push(`## ${title}`, '');
  if (rows.length === 0) {
    out.push(`_None._`, '');
    return;
  }
  out.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
  for (const row of rows) out.push(`| ${row.join(' | ')} |`);
  out.push('');
}

/** The whole ledger as Markdown. Deterministic: the same database content gives the same bytes. */
export function renderMirror(sql: Sql, ledgerVersion: number): string {
  const out: string[] = [
    '# codestrator state mirror',
    '',
    `Ledger version: ${ledgerVersion}. Generated from the database; edits here are not read back.`,
    '',
  ];
  const sessions = sql.all<SessionRow>('SELECT * FROM sessions ORDER BY id');
  renderTable(
    out,
    'Sessions',
    // Liveness (last seen) is left out on purpose: heartbeats are not ledger changes.
    ['id', 'status', 'role', 'request', 'worktree'],
    sessions.map((s) => [String(s.id), s.status, cell(s.agent_role), cell(s.user_request), s.worktree_id ? `#${s.worktree_id}` : '-']),
  );
  renderTasks(sql, out);
  const locks = sql.all<LockRow>("SELECT * FROM locks WHERE state = 'active' ORDER BY id");
  renderTable(
    out,
    'Locks',
    // Lease times are left out: lock heartbeats are not ledger changes.
    ['id', 'scope', 'owner', 'fence'],
    locks.map((l) => [String(l.id), `${l.scope_type} \`${cell(l.scope_path)}\``, l.owner_key, String(l.fence)]),
  );
  const worktrees = sql.all<WorktreeRow>("SELECT * FROM worktrees WHERE status != 'creating' ORDER BY id");
  renderTable(
    out,
    'Worktrees',
    ['id', 'kind', 'branch', 'path', 'owner', 'status'],
    worktrees.map((w) => [
      String(w.id),
      w.kind,
      `\`${cell(w.branch)}\``,
      `\`${cell(w.path)}\``,
      w.owner_session_id ? `session:${w.owner_session_id}` : '-',
      w.status,
    ]),
  );
  const nodes = sql.all<{ id: number; node_type: string; title: string; status: string; approval_state: string; parent_id: number | null }>(
    'SELECT id, node_type, title, status, approval_state, parent_id FROM graph_nodes ORDER BY id',
  );
  const edgeCount = sql.get<{ n: number }>('SELECT count(*) AS n FROM graph_edges')!.n;
  renderTable(
    out,
    `Planning graph (${nodes.length} nodes, ${edgeCount} edges)`,
    ['id', 'type', 'title', 'status', 'approval', 'parent'],
    nodes.map((n) => [String(n.id), n.node_type, cell(n.title), n.status, n.approval_state, n.parent_id ? `#${n.parent_id}` : '-']),
  );
  const inbox = sql.all<{ receiver_thread_id: number; pending: number; delivered: number }>(
    `SELECT receiver_thread_id, sum(status = 'pending') AS pending, sum(status = 'delivered') AS delivered
     FROM inbox_messages GROUP BY receiver_thread_id ORDER BY receiver_thread_id`,
  );
  renderTable(
    out,
    'Inbox',
    ['thread', 'pending', 'delivered'],
    inbox.map((i) => [`thread:${i.receiver_thread_id}`, String(i.pending), String(i.delivered)]),
  );
  return out.join('\n');
}

function statusOf(meta: Meta, defaultPath: string) {
  return {
    ledger_version: meta.ledger_version,
    db_version: meta.ledger_version,
    md_version: meta.mirror_version,
    outdated: meta.ledger_version !== meta.mirror_version,
    md_path: meta.mirror_path ?? defaultPath,
  };
}

export function mirrorStatus(ctx: CoreContext) {
  return ctx.store.read((sql) => statusOf(readMeta(sql), join(ctx.workspace.mirrorDir, DEFAULT_FILE)));
}

/** Resolves target_path inside the mirror directory; anything escaping it is refused. */
function mirrorTarget(ctx: CoreContext, target: string | undefined): string {
  const dir = ctx.workspace.mirrorDir;
  if (target === undefined) return join(dir, DEFAULT_FILE);
  const resolved = isAbsolute(target) ? normalize(target) : join(dir, target);
  const rel = relative(dir, resolved);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..') || !rel.endsWith('.md')) {
    throw invalid(`target_path must name a .md file inside ${dir}.`, 'target_path');
  }
  return resolved;
}

/**
 * No mirror write follows a symlink: from the repository (or the state directory, when it lives
 * elsewhere) down to the file, each existing entry must be where its path says. A mirror directory
 * replaced by a link to /tmp or $HOME would otherwise be written through.
 */
function assertNoSymlink(ctx: CoreContext, path: string): void {
  const { repoPath, stateDir } = ctx.workspace;
  const inside = (dir: string, child: string) => child.startsWith(dir + sep);
  const base = inside(repoPath, stateDir) ? repoPath : stateDir;
  const realBase = ctx.files.realPath(base) ?? base;
  let current = base;
  for (const part of relative(base, path).split(sep)) {
    const parent = current;
    current = join(current, part);
    const real = ctx.files.realPath(current);
    if (real === null) {
      // Absent, or a link to nothing: a dangling link still shows in its directory.
      if (ctx.files.listDir(parent).includes(part)) throw throughLink(current, 'a broken link');
      return;
    }
    if (real !== join(realBase, relative(base, current))) throw throughLink(current, real);
  }
}

const throughLink = (path: string, target: string) =>
  new CodestratorError('PRECONDITION_FAILED', `${path} is a symbolic link (to ${target}); the mirror is never written through a link.`, {
    field: 'target_path',
    hint: `Remove the link (rm ${path}); mirror.refresh creates a plain directory and file in its place.`,
  });

/**
 * mirror.refresh: renders the ledger from one snapshot and writes it atomically, recording the
 * ledger version it was rendered from (so a concurrent write keeps the mirror outdated).
 */
export function refreshMirror(ctx: CoreContext, input: { requester_role: string; target_path?: string }) {
  if (input.requester_role.trim() !== MIRROR_ROLE) {
    throw new CodestratorError('PRECONDITION_FAILED', `mirror.refresh is reserved to requester_role=${MIRROR_ROLE}.`, {
      field: 'requester_role',
    });
  }
  const path = mirrorTarget(ctx, input.target_path);
  assertNoSymlink(ctx, path);
  const rendered = ctx.store.read((sql) => {
    const meta = readMeta(sql);
    return { meta, markdown: renderMirror(sql, meta.ledger_version) };
  });
  // Writing inside the write transaction orders refreshes: an older render never overwrites a newer one.
  return ctx.store.write(
    (sql) => {
      const meta = readMeta(sql);
      const stale = meta.mirror_version > rendered.meta.ledger_version && meta.mirror_path === path;
      if (!stale) {
        ctx.files.writeAtomic(path, rendered.markdown);
        sql.run('UPDATE meta SET mirror_version = ?, mirror_path = ? WHERE id = 1', [rendered.meta.ledger_version, path]);
      }
      return {
        outdated_before_refresh: rendered.meta.ledger_version !== rendered.meta.mirror_version,
        path,
        bytes: Buffer.byteLength(rendered.markdown),
        mirror_status: statusOf(readMeta(sql), path),
      };
    },
    { ledger: false },
  );
}
