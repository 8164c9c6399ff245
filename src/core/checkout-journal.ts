import { join } from 'node:path';
import type { CoreContext } from './context.js';
import { gitStep } from './worktree-create.js';

/**
 * The intended update of a checked-out branch, written before the branch moves and removed once
 * the checkout matches it: whoever finds one whose writer is gone finishes or drops it, so a
 * crash between the ref move and the checkout update never leaves a half-merged checkout.
 */
export interface CheckoutJournal {
  branch: string;
  from: string;
  to: string;
  checkout: string;
  reason: string;
  /** The writing process: pid and /proc start time (null where unknown), so a reused pid is not taken for it. */
  pid: number;
  start: string | null;
  created_at: number;
}

/** What repairInterruptedPublishes found for one journal, and what it did. */
export interface PublishRepair {
  journal: string;
  branch: string;
  checkout: string;
  from: string;
  to: string;
  /**
   * finished: the checkout was brought to `to`; dropped: the branch never moved, nothing to do;
   * blocked: the checkout holds changes the update did not make (journal kept); in_progress: its
   * writer still runs; pending: found but not repaired (a dry run).
   */
  outcome: 'finished' | 'dropped' | 'blocked' | 'in_progress' | 'pending';
  detail: string;
  paths?: string[];
}

const journalDir = (ctx: CoreContext) => join(ctx.workspace.stateDir, 'journal');

/** Journals this process is in the middle of: never repaired from under it. */
const inFlight = new Set<string>();

/** Field 22 of /proc/<pid>/stat (the start time), or null off Linux. */
function startTime(ctx: CoreContext, pid: number): string | null {
  const stat = ctx.files.readText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

function writerRuns(ctx: CoreContext, name: string, entry: CheckoutJournal): boolean {
  if (entry.pid === process.pid) return inFlight.has(name);
  if (entry.start !== null) return startTime(ctx, entry.pid) === entry.start;
  return pidRuns(entry.pid);
}

function pidRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Writes the journal of an update about to start; returns its name for finishJournal. */
export function startJournal(ctx: CoreContext, entry: Omit<CheckoutJournal, 'pid' | 'start' | 'created_at'>): string {
  const name = `${ctx.now()}-${process.pid}-${Math.random().toString(36).slice(2, 10)}.json`;
  const record: CheckoutJournal = { ...entry, pid: process.pid, start: startTime(ctx, process.pid), created_at: ctx.now() };
  inFlight.add(name);
  ctx.files.writeAtomic(join(journalDir(ctx), name), `${JSON.stringify(record)}\n`);
  return name;
}

/** Removes a journal once its update is complete (or undone). */
export function finishJournal(ctx: CoreContext, name: string): void {
  ctx.files.removeFile(join(journalDir(ctx), name));
  inFlight.delete(name);
}

/** Leaves a journal whose update failed half-way for the next repair (this process no longer works on it). */
export function abandonJournal(name: string): void {
  inFlight.delete(name);
}

function readJournal(ctx: CoreContext, name: string): CheckoutJournal | null {
  try {
    const entry = JSON.parse(ctx.files.readText(join(journalDir(ctx), name)) ?? 'null') as CheckoutJournal | null;
    return entry && typeof entry.branch === 'string' && typeof entry.checkout === 'string' ? entry : null;
  } catch {
    return null;
  }
}

async function repairOne(ctx: CoreContext, name: string, entry: CheckoutJournal, apply: boolean): Promise<PublishRepair> {
  const base = { journal: name, branch: entry.branch, checkout: entry.checkout, from: entry.from, to: entry.to };
  if (writerRuns(ctx, name, entry)) return { ...base, outcome: 'in_progress', detail: `process ${entry.pid} is still publishing` };
  const tip = await ctx.git.resolveCommit(entry.branch).catch(() => null);
  const where = tip === entry.to ? 'to' : tip === entry.from ? 'from' : 'elsewhere';
  if (!apply)
    return { ...base, outcome: 'pending', detail: `${entry.branch} is at the update's ${where === 'elsewhere' ? 'neither end' : where}` };
  const checkedOut = (await gitStep('list worktrees', ctx.git.checkedOutBranches())).get(entry.branch);
  if (where === 'from' || checkedOut !== entry.checkout) {
    finishJournal(ctx, name);
    const why = where === 'from' ? `${entry.branch} never moved` : `${entry.checkout} no longer has ${entry.branch} checked out`;
    return { ...base, outcome: 'dropped', detail: why };
  }
  // Moved on since: the checkout must match wherever the branch is now (HEAD follows the branch).
  const target = where === 'to' ? entry.to : tip!;
  const repair = await gitStep(`repair ${entry.checkout}`, ctx.git.finishCheckout(entry.checkout, entry.from, target));
  if (repair.state === 'blocked') {
    return { ...base, outcome: 'blocked', detail: `${entry.checkout} was not repaired: ${repair.why}`, paths: repair.paths.slice(0, 50) };
  }
  finishJournal(ctx, name);
  return {
    ...base,
    outcome: 'finished',
    detail: `${entry.checkout} ${repair.state === 'matches' ? 'already matched' : 'now matches'} ${entry.branch}`,
  };
}

/**
 * Finds checkout updates left behind by processes that died mid-publish and finishes them (the
 * branch moved: the checkout is brought along) or drops them (the branch never moved). Called
 * before every publish, queue run and merge_to_parent; recovery and doctor call it too
 * (`apply: false` only reports). Journals of live writers are left alone.
 */
export async function repairInterruptedPublishes(ctx: CoreContext, options: { apply?: boolean } = {}): Promise<PublishRepair[]> {
  const apply = options.apply ?? true;
  const repairs: PublishRepair[] = [];
  for (const name of ctx.files.listDir(journalDir(ctx)).sort()) {
    if (!name.endsWith('.json')) {
      // A temp file of a write cut short by its writer's death: that journal never was, nor its ref move.
      const writer = /\.(\d+)\.tmp$/.exec(name);
      if (apply && writer && !pidRuns(Number(writer[1]))) ctx.files.removeFile(join(journalDir(ctx), name));
      continue;
    }
    const entry = readJournal(ctx, name);
    if (!entry) {
      if (apply) ctx.files.removeFile(join(journalDir(ctx), name));
      continue;
    }
    repairs.push(await repairOne(ctx, name, entry, apply));
  }
  return repairs;
}
