import { type Caller, type CaseView, type LockView, type StepView, type ThreadView, itemsOf, ownerName, withNames } from './call.js';

/** Something an agent did, with when the ledger says it happened. */
export interface LedgerEvent {
  at: number;
  text: string;
}

/**
 * Narrates the agents from the ledger, which they write through their own MCP servers: each poll
 * reads the children's status (reconciled with tmux), every lock, the cases and their steps, and
 * returns what changed since the last poll in the order it happened.
 */
export class LedgerWatch {
  private readonly caseStatus = new Map<number, string>();
  private readonly lockState = new Map<number, string>();
  private readonly stepsSeen = new Map<number, number>();
  private readonly reportAt = new Map<number, number>();
  private readonly threadStatus = new Map<number, string>();
  /** Cases done and read once more after that: nothing more can change. */
  private readonly settled = new Set<number>();
  /** When each thread first reported `blocked` (the waiting child). */
  readonly blockedAt = new Map<number, number>();

  constructor(
    private readonly call: Caller,
    private readonly names: ReadonlyMap<number, string>,
  ) {}

  /** One look at the ledger; `threads` as thread.child.wait_status returns them. */
  async poll(threadIds: number[]): Promise<{ threads: ThreadView[]; events: LedgerEvent[] }> {
    const waited = await this.call('thread.child.wait_status', { thread_ids: threadIds, timeout_seconds: 0 });
    const threads = waited.threads as ThreadView[];
    const [locks, cases] = await Promise.all([
      this.call('lock.list', { include_inactive: true }).then(itemsOf<LockView>),
      this.call('task.list', { level: 'case' }).then(itemsOf<CaseView>),
    ]);
    const events: LedgerEvent[] = [];
    const who = (key: string | null) => (key ? ownerName(this.names, key) : 'someone');
    for (const item of cases) {
      const before = this.caseStatus.get(item.id);
      if (before === item.status) continue;
      this.caseStatus.set(item.id, item.status);
      const claimed = before === undefined || before === 'todo';
      if (claimed && item.status !== 'todo' && item.started_at !== null)
        events.push({ at: item.started_at, text: `${who(item.owner_key)} claims case ${item.id} “${item.title}”` });
      if (item.status === 'done')
        events.push({ at: item.completed_at ?? Date.now(), text: `${who(item.owner_key)} completes case ${item.id}` });
    }
    for (const lock of locks) {
      const before = this.lockState.get(lock.id);
      if (before === lock.state) continue;
      this.lockState.set(lock.id, lock.state);
      const what = `${lock.scope_path}${lock.scope_type === 'prefix' && !lock.scope_path.endsWith('/') ? '/' : ''}`;
      if (before === undefined) events.push({ at: lock.acquired_at, text: `${who(lock.owner_key)} locks ${what}` });
      if (lock.state !== 'active')
        events.push({
          at: lock.released_at ?? Date.now(),
          text: `${who(lock.owner_key)} ${lock.state === 'expired' ? 'lets expire' : 'releases'} ${what}`,
        });
    }
    events.push(...(await this.stepEvents(cases)));
    for (const thread of threads) events.push(...this.threadEvents(thread));
    return { threads, events: events.sort((a, b) => a.at - b.at) };
  }

  /** New step checks of the cases still moving (a commit step shows its commit). */
  private async stepEvents(cases: CaseView[]): Promise<LedgerEvent[]> {
    const moving = cases.filter((item) => item.status !== 'todo' && !this.settled.has(item.id));
    const views = await Promise.all(moving.map((item) => this.call('task.get', { task_id: item.id })));
    const events: LedgerEvent[] = [];
    moving.forEach((item, index) => {
      if (item.status === 'done') this.settled.add(item.id);
      const steps = (views[index]!.steps ?? []) as StepView[];
      const name = item.owner_key ? ownerName(this.names, item.owner_key) : 'someone';
      for (const step of steps.slice(this.stepsSeen.get(item.id) ?? 0)) {
        const commit = step.title === 'commit' && step.notes ? ` (${step.notes.slice(0, 7)})` : '';
        events.push({ at: step.created_at, text: `${name} checks step “${step.title}”: ${step.result}${commit}` });
      }
      this.stepsSeen.set(item.id, steps.length);
    });
    return events;
  }

  private threadEvents(thread: ThreadView): LedgerEvent[] {
    const events: LedgerEvent[] = [];
    const name = this.names.get(thread.id) ?? `thread ${thread.id}`;
    if (thread.last_report && thread.last_report_at !== null && this.reportAt.get(thread.id) !== thread.last_report_at) {
      this.reportAt.set(thread.id, thread.last_report_at);
      if (thread.status === 'blocked' && !this.blockedAt.has(thread.id)) this.blockedAt.set(thread.id, thread.last_report_at);
      events.push({ at: thread.last_report_at, text: `${name} ${withNames(this.names, thread.last_report)}` });
    }
    const before = this.threadStatus.get(thread.id);
    this.threadStatus.set(thread.id, thread.status);
    if (before !== thread.status && (thread.status === 'failed' || thread.status === 'stopped')) {
      events.push({ at: Date.now(), text: `${name} ${thread.status}: ${thread.status_reason ?? 'no reason recorded'}` });
    }
    return events;
  }
}
