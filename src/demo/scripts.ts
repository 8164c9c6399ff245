import { BASE_FILES } from './fixture.js';

/**
 * The three agents of the demo and the JSON scripts they follow (the built-in scripted agent,
 * runners/script-format.ts). Every worker claims its case, locks what it changes, writes and
 * commits in its own worktree, checks its steps, completes the case, releases its locks, reports.
 *
 * The story: worker-1 and worker-2 both change the shared money module, so worker-2 waits for
 * worker-1's lock on src/shared/; their edits touch different parts of the file, so both land.
 * worker-1 and worker-3 both add a setting at the end of src/config.js, which nobody locked: the
 * merge queue lands worker-1 first and reports worker-3's item as a conflict on that path.
 */

/** The three agents, in the order their work is queued for main. */
export type AgentName = 'worker-1' | 'worker-2' | 'worker-3';

/** One agent's part: its case, its planned steps and the files it writes. */
export interface AgentPlan {
  name: AgentName;
  /** The case title, also the commit subject. */
  title: string;
  /** The planned steps of the case (step.check titles). */
  steps: string[];
  /** What the agent writes, relative to its worktree. */
  files: Record<string, string>;
}

/** The shared prefix worker-1 holds and worker-2 waits for. */
export const SHARED_SCOPE = 'src/shared/';
const LOCK_STEP = `take the ${SHARED_SCOPE} lock`;
/** What worker-2 sends worker-1 while it waits; worker-1 holds its lock until it arrives. */
const ASK = `worker-2 waits for ${SHARED_SCOPE}`;
/** How long worker-1 keeps the lock once worker-2 waits, so the wait shows (the only fixed pause). */
const HOLD_MS = 1000;

const withLine = (base: string, line: string) => `${base}${line}\n`;

/** The agents and their work, in queue order. */
export const AGENTS: readonly AgentPlan[] = [
  {
    name: 'worker-1',
    title: 'Show prices with a currency symbol',
    steps: [LOCK_STEP, 'format with the symbol', 'commit'],
    files: {
      'src/config.js': withLine(BASE_FILES['src/config.js']!, "export const CURRENCY_SYMBOL = '$';"),
      // The top of the module; worker-2 adds to its end, so both edits merge cleanly.
      'src/shared/money.js': `import { CURRENCY_SYMBOL } from '../config.js';

// Amounts are integer cents, so sums never pick up floating-point noise.

/** Formats cents with the currency symbol: 1999 → "$19.99". */
export function formatMoney(cents) {
  return CURRENCY_SYMBOL + (cents / 100).toFixed(2);
}

/** Adds up amounts in cents. */
export function sum(amounts) {
  return amounts.reduce((total, cents) => total + cents, 0);
}
`,
      'test/money.test.js': `import assert from 'node:assert/strict';
import { formatMoney } from '../src/shared/money.js';

assert.equal(formatMoney(1999), '$19.99');
assert.equal(formatMoney(5), '$0.05');
`,
    },
  },
  {
    name: 'worker-2',
    title: 'Compute tax with a shared percentOf helper',
    steps: [LOCK_STEP, 'add percentOf and use it for tax', 'commit'],
    files: {
      'src/shared/money.js': `${BASE_FILES['src/shared/money.js']!}
/** percent % of an amount in cents, rounded to the cent: percentOf(1999, 20) → 400. */
export function percentOf(cents, percent) {
  return Math.round((cents * percent) / 100);
}
`,
      'src/cart.js': BASE_FILES['src/cart.js']!.replace('import { sum }', 'import { percentOf, sum }').replace(
        'Math.round((net * TAX_RATE_PERCENT) / 100)',
        'percentOf(net, TAX_RATE_PERCENT)',
      ),
      'test/percent.test.js': `import assert from 'node:assert/strict';
import { percentOf } from '../src/shared/money.js';

assert.equal(percentOf(1000, 20), 200);
assert.equal(percentOf(1999, 20), 400);
`,
    },
  },
  {
    name: 'worker-3',
    title: 'Discount codes',
    steps: ['add discount codes', 'commit'],
    files: {
      'src/config.js': withLine(BASE_FILES['src/config.js']!, 'export const MAX_DISCOUNT_PERCENT = 50;'),
      'src/discount.js': `import { MAX_DISCOUNT_PERCENT } from './config.js';

const CODES = { WELCOME10: 10, HALFOFF: 50, EVERYTHING: 100 };

/** The discount in percent for a code (0 when unknown), never above MAX_DISCOUNT_PERCENT. */
export function discountPercent(code) {
  return Math.min(CODES[code] ?? 0, MAX_DISCOUNT_PERCENT);
}
`,
      'test/discount.test.js': `import assert from 'node:assert/strict';
import { discountPercent } from '../src/discount.js';

assert.equal(discountPercent('WELCOME10'), 10);
assert.equal(discountPercent('EVERYTHING'), 50);
assert.equal(discountPercent('NOPE'), 0);
`,
    },
  },
];

type Step = Record<string, unknown>;

/**
 * File contents are data, not placeholders: `${` is written `$${` in a script. A function
 * replacement, since in a replacement string `$$` stands for one `$` (so '$${' inserted `${`).
 */
const literal = (text: string) => text.replaceAll('${', () => '$${');

const writes = (agent: AgentPlan): Step[] =>
  Object.entries(agent.files).map(([path, content]) => ({ write: { path, content: literal(content) } }));

const check = (caseId: number, title: string, notes: string): Step => ({
  call: 'step.check',
  params: { case_id: caseId, step_title: title, result: 'pass', notes },
});

const lockShared = (save: string): Step => ({
  call: 'lock.acquire',
  params: { scope_type: 'prefix', scope_path: SHARED_SCOPE, ttl_seconds: 120 },
  save,
});

/** The steps every worker ends with: commit, check it, release its lock, complete, report. */
function finish(agent: AgentPlan, caseId: number): Step[] {
  return [
    { commit: { message: agent.title, paths: Object.keys(agent.files) }, save: 'commit' },
    check(caseId, 'commit', '${commit.commit}'),
    { call: 'lock.release', params: { lock_id: '${lock.lock.id}' } },
    {
      call: 'case.complete',
      params: { case_id: caseId, summary: `${agent.title}: committed on \${commit.branch}`, next_action: 'land on main' },
    },
    { report: { state: 'done', text: 'is done: committed “${commit.message}” on ${commit.branch}' } },
  ];
}

/** The JSON script an agent follows, for its case. */
export function agentScript(agent: AgentPlan, caseId: number): Record<string, unknown> {
  const begin: Step = { call: 'case.begin', params: { case_id: caseId, required_files: Object.keys(agent.files) }, save: 'begin' };
  // The planned step between taking the lock (if any) and the commit: the work itself.
  const work = agent.steps.at(-2);
  let steps: Step[];
  if (agent.name === 'worker-1') {
    steps = [
      begin,
      lockShared('lock'),
      check(caseId, LOCK_STEP, 'granted at once'),
      ...writes(agent),
      check(caseId, work!, 'formatMoney(1999) is "$19.99"'),
      {
        wait_directive: { contains: ASK, timeout_ms: 30_000 },
        comment: 'keep the lock until worker-2 asks for it, however fast or slow the machine',
      },
      { sleep: HOLD_MS, comment: 'and a moment more, so the wait shows' },
      ...finish(agent, caseId),
    ];
  } else if (agent.name === 'worker-2') {
    steps = [
      begin,
      {
        wait_for: {
          call: 'lock.list',
          params: { path: SHARED_SCOPE },
          until: { path: 'count', equals: 1 },
          timeout_ms: 30_000,
          interval_ms: 100,
        },
        save: 'held',
        comment: 'the demo lets worker-1 take the shared module first, so the wait always happens',
      },
      {
        call: 'lock.acquire',
        params: { scope_type: 'prefix', scope_path: SHARED_SCOPE, ttl_seconds: 120 },
        expect_error: 'LOCKED',
        save: 'refused',
      },
      // As the LOCKED hint says: ask the holder, through its inbox (it gets the message as a directive).
      {
        call: 'inbox.send',
        params: { receiver_thread_id: '${held.items.0.owner_thread_id}', message: `${ASK}; please release it when done` },
      },
      { report: { state: 'blocked', text: `waits for lock ${SHARED_SCOPE} held by \${refused.error.data.conflicts.0.owner}` } },
      {
        wait_for: {
          call: 'lock.acquire',
          params: { scope_type: 'prefix', scope_path: SHARED_SCOPE, ttl_seconds: 120 },
          timeout_ms: 45_000,
        },
        save: 'lock',
      },
      { report: { state: 'progress', text: `has the lock on ${SHARED_SCOPE} now and goes on` } },
      check(caseId, LOCK_STEP, 'refused first (${refused.error.message}); granted after waiting'),
      ...writes(agent),
      check(caseId, work!, 'percentOf(1999, 20) is 400; cart.total uses it'),
      ...finish(agent, caseId),
    ];
  } else {
    steps = [
      begin,
      { call: 'lock.acquire', params: { scope_type: 'file', scope_path: 'src/discount.js', ttl_seconds: 120 }, save: 'lock' },
      ...writes(agent),
      check(caseId, work!, 'discountPercent caps at MAX_DISCOUNT_PERCENT'),
      ...finish(agent, caseId),
    ];
  }
  return { name: agent.name, comment: `codestrator demo: ${agent.title}`, steps };
}
