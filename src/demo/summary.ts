import { basename, join } from 'node:path';
import { packageRoot } from '../registry/bundle-info.js';
import { type Caller, type LockView, type QueueView, type StepView, type ThreadView, itemsOf, ownerName } from './call.js';
import { runGit } from '../git/run-git.js';
import { AGENTS, SHARED_SCOPE } from './scripts.js';

/** What `codestrator demo --json` prints: the run's outcome, read back from the ledger and git. */
export interface DemoReport {
  repo: string;
  kept: boolean;
  duration_ms: number;
  sessions: { id: number; status: string; user_request: string | null; worktree_id: number | null }[];
  threads: {
    id: number;
    name: string;
    status: string;
    case_id: number;
    branch: string;
    tmux_session: string | null;
    last_report: string | null;
  }[];
  queue: { id: number; name: string; branch: string; state: string; reason: string | null; conflict_files: string[] }[];
  /** Subjects of the agents' commits that are on main now, oldest first. */
  merged: string[];
  /** `git log --oneline main`, newest first. */
  main_log: string[];
  conflicts: { item: number; name: string; paths: string[] }[];
  /** The lock one agent waited for, as the ledger recorded it. */
  lock_wait: {
    scope: string;
    holder: string;
    waiter: string;
    /** The waiter's lock.acquire was refused with LOCKED first (its step notes say so). */
    refused_first: boolean;
    holder_released_at: number | null;
    waiter_acquired_at: number | null;
    /** From the waiter's `blocked` report to its grant; null if the report was not seen. */
    waited_ms: number | null;
  } | null;
  gate: string[];
  dashboard_url: string | null;
  tmux_attach: string | null;
  /** How to look at the kept repository. */
  inspect: string[];
  notices: string[];
}

/** What the run learned along the way that the ledger alone does not give back. */
export interface RunFacts {
  repo: string;
  baseCommit: string;
  names: ReadonlyMap<number, string>;
  caseIds: ReadonlyMap<string, number>;
  threads: ThreadView[];
  branches: ReadonlyMap<number, string>;
  blockedAt: ReadonlyMap<number, number>;
  gate: string[];
  dashboardUrl: string | null;
  tmuxAttach: string | null;
  notices: string[];
}

/** Reads the outcome back from the ledger and main's history (before cleanup removes anything). */
export async function collectReport(call: Caller, facts: RunFacts): Promise<Omit<DemoReport, 'kept' | 'duration_ms'>> {
  const nameOfWorktree = new Map(facts.threads.map((t) => [t.worktree_id, facts.names.get(t.id) ?? `thread ${t.id}`]));
  const [sessions, queue, locks] = await Promise.all([
    call('session.list', { include_closed: true }).then(itemsOf<Record<string, unknown>>),
    call('merge.main.list', {}).then(itemsOf<QueueView>),
    call('lock.list', { include_inactive: true }).then(itemsOf<LockView>),
  ]);
  const log = (args: string[]) => runGit(facts.repo, ['log', ...args, 'main']).then(({ stdout }) => stdout.split('\n').filter(Boolean));
  const merged = (await log(['--no-merges', '--reverse', '--format=%s', `^${facts.baseCommit}`])).filter(Boolean);
  const mainLog = await log(['--oneline']);
  return {
    repo: facts.repo,
    sessions: sessions.map((s) => ({
      id: Number(s.id),
      status: String(s.status),
      user_request: typeof s.user_request === 'string' ? s.user_request : null,
      worktree_id: typeof s.worktree_id === 'number' ? s.worktree_id : null,
    })),
    threads: facts.threads.map((t) => {
      const name = facts.names.get(t.id) ?? `thread ${t.id}`;
      return {
        id: t.id,
        name,
        status: t.status,
        case_id: facts.caseIds.get(name) ?? 0,
        branch: facts.branches.get(t.id) ?? '',
        tmux_session: t.tmux_session,
        last_report: t.last_report,
      };
    }),
    queue: queue.map((q) => ({
      id: q.id,
      name: nameOfWorktree.get(q.source_worktree_id) ?? `worktree ${q.source_worktree_id}`,
      branch: q.source_branch,
      state: q.state,
      reason: q.reason,
      conflict_files: q.conflict_files,
    })),
    merged,
    main_log: mainLog,
    conflicts: queue
      .filter((q) => q.state === 'conflict')
      .map((q) => ({ item: q.id, name: nameOfWorktree.get(q.source_worktree_id) ?? '', paths: q.conflict_files })),
    lock_wait: await lockWait(call, facts, locks),
    gate: facts.gate,
    dashboard_url: facts.dashboardUrl,
    tmux_attach: facts.tmuxAttach,
    inspect: inspectCommands(facts.repo),
    notices: facts.notices,
  };
}

/** worker-2's wait for worker-1's lock on the shared prefix, from the locks table and worker-2's steps. */
async function lockWait(call: Caller, facts: RunFacts, locks: LockView[]): Promise<DemoReport['lock_wait']> {
  const shared = locks.filter((lock) => lock.scope_type === 'prefix' && `${lock.scope_path.replace(/\/$/, '')}/` === SHARED_SCOPE);
  const lockOf = (name: string) => shared.find((lock) => ownerName(facts.names, lock.owner_key) === name);
  const holder = lockOf(AGENTS[0]!.name);
  const waiter = lockOf(AGENTS[1]!.name);
  const waiterCase = facts.caseIds.get(AGENTS[1]!.name);
  if (!holder || !waiter || waiterCase === undefined) return null;
  const steps = ((await call('task.get', { task_id: waiterCase })).steps ?? []) as StepView[];
  const waiterThread = [...facts.names].find(([, name]) => name === AGENTS[1]!.name)?.[0];
  const blockedAt = waiterThread === undefined ? undefined : facts.blockedAt.get(waiterThread);
  return {
    scope: SHARED_SCOPE,
    holder: AGENTS[0]!.name,
    waiter: AGENTS[1]!.name,
    refused_first: steps.some((step) => step.title.includes(SHARED_SCOPE) && (step.notes ?? '').startsWith('refused first')),
    holder_released_at: holder.released_at,
    waiter_acquired_at: waiter.acquired_at,
    waited_ms: blockedAt === undefined ? null : Math.max(0, waiter.acquired_at - blockedAt),
  };
}

/** A path as a shell reads it back (quoted when it holds anything unusual). */
const shellPath = (path: string) => (/^[A-Za-z0-9_./@%+=:-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`);

/** The CLI as it runs here (no `npx` inside the demo repository: it has no codestrator installed). */
const cli = () => `node ${shellPath(join(packageRoot, 'bin', 'codestrator.js'))}`;

function inspectCommands(repo: string): string[] {
  return [
    `cd ${shellPath(repo)}`,
    `${cli()} status      # also: tasks, threads, queue, locks, conflicts`,
    'git log --oneline --graph --all',
    `${cli()} serve       # the dashboard`,
  ];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** The summary a person reads at the end. */
export function renderReport(report: DemoReport): string {
  const lines: string[] = ['', `codestrator demo: done in ${seconds(report.duration_ms)}`];
  const landed = report.queue.filter((q) => q.state === 'merged');
  // The gate's argv starts with this Node's absolute path; people know it as `node`.
  const gate = report.gate.map((arg, i) => (i === 0 ? basename(arg) : arg)).join(' ');
  lines.push(`  landed on main through the gate (${gate}):`);
  for (const q of landed) lines.push(`    queue item ${q.id}  ${q.name}  ${q.branch}`);
  for (const subject of report.merged) lines.push(`    commit: ${subject}`);
  for (const c of report.conflicts) {
    lines.push(
      `  conflict: queue item ${c.item} (${c.name}) in ${c.paths.join(', ')}; main is unchanged and ${c.name}'s branch waits for a fix`,
    );
  }
  const wait = report.lock_wait;
  if (wait) {
    const how = wait.waited_ms === null ? '' : ` ${seconds(wait.waited_ms)}`;
    lines.push(
      `  lock wait: ${wait.waiter} waited${how} for ${wait.scope} held by ${wait.holder}${wait.refused_first ? ' (refused with LOCKED, granted after release)' : ''}`,
    );
  }
  lines.push(`  agents: ${report.threads.map((t) => `${t.name} ${t.status}`).join(', ')}`);
  lines.push(`  main: ${report.main_log.length} commits, newest first:`);
  for (const line of report.main_log.slice(0, 6)) lines.push(`    ${line}`);
  lines.push(report.dashboard_url ? `  dashboard: ${report.dashboard_url} (it ran for the demo's duration)` : '  dashboard: not started');
  if (report.tmux_attach) lines.push(`  watch the agents while a demo runs: ${report.tmux_attach}`);
  for (const notice of report.notices) lines.push(`  note: ${notice}`);
  if (report.kept) {
    lines.push('  the repository is kept; inspect it:');
    for (const command of report.inspect) lines.push(`    ${command}`);
  } else {
    lines.push('  the temporary repository was removed; `codestrator demo --keep` keeps it to inspect with');
    for (const command of report.inspect.slice(1)) lines.push(`    ${command}`);
  }
  return `${lines.join('\n')}\n`;
}
