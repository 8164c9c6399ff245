import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Caller, DemoAborted, DemoError, type QueueView, type ThreadView } from './call.js';
import { AGENTS, type AgentName, type AgentPlan, agentScript } from './scripts.js';
import { LedgerWatch } from './watch.js';

/** The agents may take this long in all; on this 2-core machine they take a few seconds. */
const AGENTS_TIMEOUT_MS = 60_000;
const POLL_MS = 200;

type Say = (text: string, at?: number) => void;

/** The three agents once they are done: who is who, and what the ledger said about them. */
export interface AgentRun {
  names: ReadonlyMap<number, string>;
  caseIds: ReadonlyMap<string, number>;
  worktrees: ReadonlyMap<AgentName, number>;
  branches: ReadonlyMap<number, string>;
  threads: ThreadView[];
  blockedAt: ReadonlyMap<number, number>;
  attach: string | null;
}

interface StageContext {
  call: Caller;
  say: Say;
  /** Names the step now running (and stops there when the demo was interrupted). */
  setStep(step: string): void;
}

/**
 * The root's part before landing: plans epic → feature → test group → one case per agent, spawns
 * the three scripted agents at once (runner script, each in its own worktree and tmux pane) and
 * narrates the ledger until all of them have reported done. A child that fails ends the demo.
 */
export async function runAgents(ctx: StageContext & { signal: AbortSignal; stateDir: string }): Promise<AgentRun> {
  const { call, say } = ctx;
  ctx.setStep('plan the work');
  const create = async (params: Record<string, unknown>) => ((await call('task.create', params)).task as { id: number }).id;
  const epic = await create({ level: 'epic', title: 'tiny-shop: prices and discounts' });
  const feature = await create({ level: 'feature', title: 'Pricing', parent_id: epic });
  const group = await create({ level: 'test_group', title: 'Pricing cases', parent_id: feature });
  const caseIds = new Map<string, number>();
  for (const agent of AGENTS) {
    const id = await create({
      level: 'case',
      title: agent.title,
      parent_id: group,
      steps: agent.steps,
      required_files: Object.keys(agent.files),
    });
    caseIds.set(agent.name, id);
  }
  say(`root plans epic ${epic} → feature ${feature} → test group ${group} → cases ${[...caseIds.values()].join(', ')}`);

  ctx.setStep('spawn the agents');
  const scriptsDir = join(ctx.stateDir, 'demo');
  await mkdir(scriptsDir, { recursive: true });
  const spawn = async (agent: AgentPlan) => {
    const caseId = caseIds.get(agent.name)!;
    const scriptPath = join(scriptsDir, `${agent.name}.json`);
    await writeFile(scriptPath, `${JSON.stringify(agentScript(agent, caseId), null, 2)}\n`);
    const result = await call('thread.child.spawn', {
      runner: 'script',
      script_path: scriptPath,
      role: 'worker',
      title: agent.name,
      objective: agent.title,
      task_id: caseId,
      scope_case_ids: [caseId],
    });
    return {
      agent,
      ...(result as { thread: ThreadView; worktree: { id: number; branch: string }; attach_info: { command: string } | null }),
    };
  };
  // All three at once, as a root would. Settled, not raced: a failed spawn must not leave another
  // one launching after cleanup.
  const spawned: Awaited<ReturnType<typeof spawn>>[] = [];
  for (const outcome of await Promise.allSettled(AGENTS.map(spawn))) {
    if (outcome.status === 'rejected') throw outcome.reason;
    spawned.push(outcome.value);
  }
  const names = new Map(spawned.map((s) => [s.thread.id, s.agent.name]));
  const ids = spawned.map((s) => s.thread.id);
  say(`root spawns ${spawned.map((s) => `${s.agent.name} (thread ${s.thread.id}, ${s.worktree.branch})`).join(', ')}`);
  const attach = spawned[0]?.attach_info?.command ?? null;
  if (attach) say(`watch them in tmux (read-only): ${attach}`);

  ctx.setStep('wait for the agents');
  const watch = new LedgerWatch(call, names);
  const deadline = Date.now() + AGENTS_TIMEOUT_MS;
  let threads: ThreadView[];
  for (;;) {
    const polled = await watch.poll(ids);
    threads = polled.threads;
    for (const event of polled.events) say(event.text, event.at);
    const ended = threads.filter((t) => t.status === 'failed' || t.status === 'stopped');
    if (ended.length > 0) throw new DemoError('wait for the agents', await whyEnded(call, names, ended));
    if (threads.every((t) => t.status === 'completed')) break;
    if (Date.now() > deadline) {
      const where = threads.map((t) => `${names.get(t.id)} ${t.status}`).join(', ');
      throw new DemoError('wait for the agents', `the agents did not finish within ${AGENTS_TIMEOUT_MS / 1000} s (${where}).`);
    }
    await sleep(POLL_MS, undefined, { signal: ctx.signal }).catch(() => {
      throw new DemoAborted('interrupted');
    });
  }
  say('root: all three agents reported done');
  return {
    names,
    caseIds,
    worktrees: new Map(spawned.map((s) => [s.agent.name, s.worktree.id])),
    branches: new Map(spawned.map((s) => [s.thread.id, s.worktree.branch])),
    threads,
    blockedAt: watch.blockedAt,
    attach,
  };
}

/** Which agents ended badly, why, and the last lines of their panes. */
async function whyEnded(call: Caller, names: ReadonlyMap<number, string>, ended: ThreadView[]): Promise<string> {
  const parts: string[] = [];
  for (const thread of ended) {
    const status = await call('thread.child.status', { thread_id: thread.id, output_lines: 8 }).catch(
      () => ({}) as Record<string, unknown>,
    );
    const output = typeof status.last_output === 'string' ? status.last_output.trim() : '';
    parts.push(
      `${names.get(thread.id)} ${thread.status} (${thread.status_reason ?? 'no reason recorded'})${output ? `; its last output:\n${output}` : ''}`,
    );
  }
  return parts.join('\n');
}

/** What the queue must end with: the story the demo tells. */
const EXPECTED: Record<AgentName, string> = { 'worker-1': 'merged', 'worker-2': 'merged', 'worker-3': 'conflict' };

/**
 * The root lands the work the real way: predicts conflicts (worktree.conflicts), queues each
 * agent's branch for main (merge.main.request) and processes the queue one item at a time
 * (merge.main.process: conflict check, merge commit, the gate, compare-and-swap onto main).
 */
export async function landWork(ctx: StageContext & { agents: AgentRun }): Promise<QueueView[]> {
  const { call, say, agents } = ctx;
  const nameOf = new Map([...agents.worktrees].map(([name, id]) => [id, name]));
  ctx.setStep('predict conflicts');
  const predicted = await call('worktree.conflicts', { worktree_ids: [...agents.worktrees.values()] });
  for (const pair of (predicted.pairs ?? []) as { a: number; b: number; conflict_files: string[] }[]) {
    if (pair.conflict_files.length === 0) continue;
    say(
      `root predicts: ${nameOf.get(pair.a)} and ${nameOf.get(pair.b)} conflict in ${pair.conflict_files.join(', ')} (worktree.conflicts)`,
    );
  }

  ctx.setStep('queue the work');
  for (const agent of AGENTS) {
    const queued = (await call('merge.main.request', { from_worktree_id: agents.worktrees.get(agent.name) }))
      .main_merge_request as QueueView;
    say(`queue: item ${queued.id} ← ${agent.name} (${queued.source_branch})`);
  }

  const latest = new Map<number, QueueView>();
  // A few extra turns for an item re-queued because main moved; an item parked as waiting (or an
  // unexpected state) ends the loop, since the queue would hand it back on every turn.
  for (let turn = 0; turn < AGENTS.length + 3; turn++) {
    ctx.setStep('process the queue'); // also where Ctrl-C is noticed
    const processed = (await call('merge.main.process', { max_items: 1 })).processed as QueueView[];
    for (const item of processed) {
      latest.set(item.id, item);
      const name = nameOf.get(item.source_worktree_id) ?? `worktree ${item.source_worktree_id}`;
      const gate = item.gate_log_tail?.trim().split('\n').at(-1);
      if (item.state === 'merged') say(`queue: item ${item.id} (${name}) merged onto main${gate ? `; gate: ${gate}` : ''}`);
      else if (item.state === 'conflict')
        say(`queue: item ${item.id} (${name}) conflict in ${item.conflict_files.join(', ')}; main unchanged`);
      else say(`queue: item ${item.id} (${name}) ${item.state}: ${item.reason ?? ''}`);
    }
    if (processed.length === 0 || processed.some((item) => item.state === 'waiting' || item.state === 'blocked_by_review')) break;
  }
  const results = [...latest.values()];
  const wrong = results.filter((item) => EXPECTED[nameOf.get(item.source_worktree_id) as AgentName] !== item.state);
  if (wrong.length > 0 || results.length !== AGENTS.length) {
    const got = results.map((item) => `item ${item.id} ${item.state} (${item.reason ?? ''})`).join('; ');
    throw new DemoError(
      'process the queue',
      `expected worker-1 and worker-2 merged and worker-3 in conflict; got ${got || 'nothing processed'}.`,
    );
  }
  return results;
}
