// Section 5 of `npm run bench`: how long a child agent takes to start. Through the in-process
// dispatcher (dist/app/services.js), thread.child.spawn starts the built-in scripted agent (runner
// "script") in a window of a private tmux server; the script's first step is a lock.acquire on a
// file of its own, so the child's first MCP call leaves a locks row whose acquired_at (epoch ms,
// written by the child's own `codestrator mcp`) is compared with Date.now() taken just before the
// spawn call. Inside the spawn call, git and tmux processes are traced (child_process.execFile is
// wrapped for the duration), which splits the call into worktree creation and tmux window. The
// agent's process chain (pane-wrap → script-agent → codestrator mcp) is read from /proc while
// each agent sleeps after its first call; then every child is stopped with thread.child.stop.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { createDispatcher } from '../dist/app/services.js';
import { cleanEnv, makeRepo, ms, summarize, table, traceExec } from './lib.js';

const CONFIG = {
  /** Measured single-child rounds, after one discarded warm-up round. */
  singleRuns: 5,
  /** Rounds of `burst` children spawned back to back (the default max_concurrent_children is 6). */
  burstRuns: 2,
  burst: 6,
  /** How often the locks table is read while waiting for first calls. */
  pollMs: 5,
  readyTimeoutMs: 30_000,
  /** The agents sleep this long after their first call, so /proc can be read; thread.child.stop ends them sooner. */
  agentSleepMs: 120_000,
};

/** Targets of this section (readings, not checks). */
const TARGET_SPAWN_CALL_MS = 300;
const TARGET_SINGLE_FIRST_CALL_MS = 1000;
const TARGET_BURST_ALL_READY_MS = 3000;

const median = (list) => summarize(list).p50;
const mean = (list) => list.reduce((a, b) => a + b, 0) / list.length;

/** Time covered by at least one of the spans. */
function busy(calls) {
  let total = 0;
  let until = -Infinity;
  for (const { start, end } of [...calls].sort((a, b) => a.start - b.start)) {
    if (end <= until) continue;
    total += end - Math.max(start, until);
    until = end;
  }
  return total;
}

/**
 * The spawn call cut at its git and tmux runs: before the first git run (session checks, tmux -V),
 * the worktree (first git run → last git run), the window (→ end of the last tmux run after git:
 * thread row, prompt and files, has-session, new-window or new-session) and what follows.
 */
function phasesOf(t0, t1, calls) {
  const git = calls.filter((c) => c.file === 'git');
  const tmux = calls.filter((c) => c.file === 'tmux');
  if (git.length === 0 || tmux.length === 0) throw new Error(`spawn call ran ${git.length} git and ${tmux.length} tmux processes`);
  const gitStart = Math.min(...git.map((c) => c.start));
  const gitEnd = Math.max(...git.map((c) => c.end));
  const window = tmux.filter((c) => c.start >= gitEnd);
  const tmuxEnd = window.length > 0 ? Math.max(...window.map((c) => c.end)) : gitEnd;
  return {
    preflight: gitStart - t0,
    worktree: gitEnd - gitStart,
    window: tmuxEnd - gitEnd,
    tail: t1 - tmuxEnd,
    gitRuns: git.length,
    gitBusy: busy(git),
    tmuxRuns: tmux.length,
    windowTmuxRuns: window.length,
    windowTmuxBusy: busy(window),
    windowCommand: window.some((c) => c.args.includes('new-session')) ? 'new-session' : 'new-window',
  };
}

// --- /proc: start times of the agent's processes -------------------------------------------------

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Start of a process in epoch ms (resolution 1/CLK_TCK, usually 10 ms), or null when it is gone. */
function processStart(pid, bootMs) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return bootMs + (Number(fields[19]) * 1000) / CLOCK_TICKS; // field 22, starttime
  } catch {
    return null;
  }
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Start times of pane-wrap (the pane's process), the scripted agent and its `codestrator mcp`; null when unreadable. */
function processChain(panePid) {
  if (!panePid || !existsSync('/proc/uptime')) return null;
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const bootMs = Date.now() - uptime * 1000;
  const agent = childrenOf(panePid).find((pid) => commandLine(pid).includes('script-agent'));
  const server = agent && childrenOf(agent).find((pid) => / mcp$/.test(commandLine(pid).trim()));
  if (!agent || !server) return null;
  const chain = { pane: processStart(panePid, bootMs), agent: processStart(agent, bootMs), server: processStart(server, bootMs) };
  return Object.values(chain).every((t) => t !== null) ? chain : null;
}

// --- rounds -----------------------------------------------------------------------------------------

async function must(dispatcher, method, params) {
  const outcome = await dispatcher.call(method, params);
  if (!outcome.ok) throw new Error(`${method} failed: ${JSON.stringify(outcome.error)}`);
  return outcome.result;
}

/** One thread.child.spawn of a scripted agent whose first step locks `bench/child-<n>.txt`, timed and traced. */
async function spawnOne(ctx) {
  const n = ++ctx.spawned;
  const scopePath = `bench/child-${n}.txt`;
  const scriptPath = join(ctx.scriptsDir, `child-${n}.json`);
  writeFileSync(
    scriptPath,
    JSON.stringify({
      name: `bench-child-${n}`,
      // No inbox poll before the first step: the lock.acquire is the first call after connecting
      // (connecting sends initialize and one system.describe).
      check_inbox: false,
      steps: [{ call: 'lock.acquire', params: { scope_type: 'file', scope_path: scopePath } }, { sleep: CONFIG.agentSleepMs }],
    }),
  );
  const wall0 = Date.now();
  const t0 = performance.now();
  const outcome = await ctx.dispatcher.call('thread.child.spawn', {
    runner: 'script',
    script_path: scriptPath,
    title: `bench child ${n}`,
    session_id: ctx.sessionId,
  });
  const t1 = performance.now();
  if (!outcome.ok) throw new Error(`thread.child.spawn failed: ${JSON.stringify(outcome.error)}`);
  const calls = ctx.trace.calls.filter((c) => c.start >= t0 && c.end <= t1);
  return { n, scopePath, wall0, callMs: t1 - t0, thread: outcome.result.thread, phases: phasesOf(t0, t1, calls) };
}

/** Polls the locks table until every child's first call has landed; returns acquired_at per spawn. */
async function waitFirstCalls(ctx, spawns) {
  const query = ctx.db.prepare("SELECT acquired_at FROM locks WHERE scope_type = 'file' AND scope_path = ? AND owner_thread_id = ?");
  const found = new Map();
  const deadline = Date.now() + CONFIG.readyTimeoutMs;
  while (found.size < spawns.length) {
    for (const s of spawns) {
      if (found.has(s)) continue;
      const row = query.get(s.scopePath, s.thread.id);
      if (row) found.set(s, row.acquired_at);
    }
    if (found.size === spawns.length) break;
    // pane-wrap writes the exit file when the agent ends: a child that ended without its first call fails the round at once.
    const exitFile = (s) => join(s.thread.thread_dir ?? '', `exit-${s.thread.generation}.json`);
    const ended = spawns.filter((s) => !found.has(s) && existsSync(exitFile(s)));
    if (ended.length > 0 || Date.now() > deadline) {
      const late = ended.length > 0 ? ended : spawns.filter((s) => !found.has(s));
      const outputs = [];
      for (const s of late) {
        const status = await ctx.dispatcher.call('thread.child.status', { thread_id: s.thread.id, output_lines: 20 });
        const thread = status.ok ? status.result.thread : {};
        let exit = 'no exit file';
        try {
          exit = `exit file ${readFileSync(exitFile(s), 'utf8')}`;
        } catch {
          // Still running, or never started.
        }
        outputs.push(
          `thread ${s.thread.id} ${thread.status} (${thread.status_reason}); ${exit}; pane output: ` +
            JSON.stringify(status.ok ? status.result.last_output : status.error),
        );
      }
      const why = ended.length > 0 ? 'ended before its first call' : `made no first call within ${CONFIG.readyTimeoutMs} ms`;
      throw new Error(`${late.length} child(ren) ${why}:\n${outputs.join('\n')}`);
    }
    await sleep(CONFIG.pollMs);
  }
  return spawns.map((s) => found.get(s));
}

/** Spawns `count` children one after another, waits for their first calls, reads /proc, stops them. */
async function round(ctx, count) {
  const spawns = [];
  try {
    for (let i = 0; i < count; i++) spawns.push(await spawnOne(ctx));
    const firstCalls = await waitFirstCalls(ctx, spawns);
    const start = spawns[0].wall0;
    return spawns.map((s, i) => {
      const returned = s.wall0 + s.callMs;
      const chain = processChain(s.thread.pane_pid);
      return {
        ...s,
        returnedAt: returned - start,
        firstCallAt: firstCalls[i] - start,
        toFirstCall: firstCalls[i] - s.wall0,
        returnToFirstCall: firstCalls[i] - returned,
        chain: chain && {
          pane: chain.pane - s.wall0,
          agent: chain.agent - s.wall0,
          server: chain.server - s.wall0,
          first: firstCalls[i] - s.wall0,
        },
      };
    });
  } finally {
    await Promise.all(
      spawns.map((s) =>
        ctx.dispatcher.call('thread.child.stop', { thread_id: s.thread.id, terminate_pane: true, reason: 'bench round over' }),
      ),
    );
  }
}

// --- output -----------------------------------------------------------------------------------------

function singleTable(out, runs) {
  const row = (label, list, target = '', digits = 1) => {
    const s = summarize(list);
    return [label, ms(s.p50, digits), ms(s.min, digits), ms(s.max, digits), target];
  };
  const p = (key) => runs.map((r) => r.phases[key]);
  const first = runs[0].phases;
  out(
    `5a. One child (n = ${runs.length}, after 1 discarded warm-up; each round is the only child, so tmux makes its session: ${first.windowCommand})`,
  );
  out();
  out(
    table([
      ['measure', 'median ms', 'min ms', 'max ms', 'target'],
      row(
        'thread.child.spawn call (dispatcher.call wall time)',
        runs.map((r) => r.callMs),
        `< ${TARGET_SPAWN_CALL_MS} ms, and < first call`,
      ),
      row('  before the worktree (session checks, tmux -V)', p('preflight')),
      row(`  worktree creation (first → last git run; ${first.gitRuns} git runs)`, p('worktree')),
      row('    of which a git process running', p('gitBusy')),
      row(`  tmux window (thread row, prompt, files; ${first.windowTmuxRuns} tmux runs)`, p('window')),
      row('    of which a tmux process running', p('windowTmuxBusy')),
      row('  after the window (thread update, answer)', p('tail')),
      row(
        'spawn call start → first MCP call (locks.acquired_at)',
        runs.map((r) => r.toFirstCall),
        `< ${TARGET_SINGLE_FIRST_CALL_MS} ms`,
        0,
      ),
      row(
        'spawn call return → first MCP call',
        runs.map((r) => r.returnToFirstCall),
        '(reference)',
        0,
      ),
    ]),
  );
  out(`  spawn calls that returned before their child's first call: ${runs.filter((r) => r.returnToFirstCall > 0).length}/${runs.length}`);
  out();
  const chains = runs.map((r) => r.chain).filter(Boolean);
  if (chains.length === 0) {
    out('  (no /proc process chain: not Linux, or the processes were gone)');
    out();
    return;
  }
  const at = (key) => median(chains.map((c) => c[key]));
  const gap = (a, b) => median(chains.map((c) => c[b] - c[a]));
  out(
    `   where the wait goes, one child: ms after the spawn call began (process starts from /proc, ${1000 / CLOCK_TICKS} ms resolution; n = ${chains.length})`,
  );
  out();
  out(
    table([
      ['event', 'median at ms', 'median step ms', 'step'],
      ['tmux starts the pane: node pane-wrap.js', ms(at('pane'), 0), ms(at('pane'), 0), 'spawn call up to new-window'],
      ['pane-wrap starts node script-agent.js', ms(at('agent'), 0), ms(gap('pane', 'agent'), 0), 'node start + pane-wrap'],
      [
        'script-agent starts node codestrator mcp',
        ms(at('server'), 0),
        ms(gap('agent', 'server'), 0),
        'node start + agent load, script read',
      ],
      [
        'first MCP call lands (lock.acquire)',
        ms(at('first'), 0),
        ms(gap('server', 'first'), 0),
        'server start, initialize, system.describe, call',
      ],
    ]),
  );
  out();
}

function burstTable(out, bursts) {
  const n = CONFIG.burst;
  const byIndex = Array.from({ length: n }, (_, i) => bursts.map((b) => b[i]));
  // With 2 bursts a nearest-rank median is the smaller one: bursts are averaged instead.
  const mid = (list, pick) => ms(mean(list.map(pick)), 0);
  out(
    `5b. ${n} children spawned back to back (each spawn call awaited, then the next; mean of ${bursts.length} bursts; ` +
      'times from the first spawn call)',
  );
  out();
  out(
    table([
      ['child', 'spawn call ms', 'returned at ms', 'first call at ms', 'spawn → first call ms', 'worktree ms', 'window ms', 'tmux'],
      ...byIndex.map((runs, i) => [
        String(i + 1),
        mid(runs, (r) => r.callMs),
        mid(runs, (r) => r.returnedAt),
        mid(runs, (r) => r.firstCallAt),
        mid(runs, (r) => r.toFirstCall),
        mid(runs, (r) => r.phases.worktree),
        mid(runs, (r) => r.phases.window),
        runs[0].phases.windowCommand,
      ]),
    ]),
  );
  out();
  const all = bursts.flat();
  const allReady = bursts.map((b) => Math.max(...b.map((r) => r.firstCallAt)));
  const spawnsDone = bursts.map((b) => b[b.length - 1].returnedAt);
  const callMs = summarize(all.map((r) => r.callMs));
  const toFirst = summarize(all.map((r) => r.toFirstCall));
  out(
    table([
      ['burst of ' + n, 'mean', 'min', 'max', 'target'],
      [
        'all spawn calls done (first call start → last return)',
        `${ms(mean(spawnsDone), 0)} ms`,
        `${ms(Math.min(...spawnsDone), 0)} ms`,
        `${ms(Math.max(...spawnsDone), 0)} ms`,
        '',
      ],
      [
        'all children made their first call (→ last first call)',
        `${ms(mean(allReady), 0)} ms`,
        `${ms(Math.min(...allReady), 0)} ms`,
        `${ms(Math.max(...allReady), 0)} ms`,
        `< ${TARGET_BURST_ALL_READY_MS} ms`,
      ],
      [
        `one spawn call (all ${all.length})`,
        `${ms(callMs.mean, 1)} ms`,
        `${ms(callMs.min, 1)} ms`,
        `${ms(callMs.max, 1)} ms`,
        `< ${TARGET_SPAWN_CALL_MS} ms`,
      ],
      [
        `own spawn call start → first call (all ${all.length})`,
        `${ms(toFirst.mean, 0)} ms`,
        `${ms(toFirst.min, 0)} ms`,
        `${ms(toFirst.max, 0)} ms`,
        '(reference)',
      ],
    ]),
  );
  out(`  spawn calls that returned before their child's first call: ${all.filter((r) => r.returnToFirstCall > 0).length}/${all.length}`);
  const chains = all.map((r) => r.chain).filter(Boolean);
  if (chains.length > 0) {
    const step = (a, b) => ms(mean(chains.map((c) => c[b] - c[a])), 0);
    out(
      `  per child, mean steps (/proc): pane → script-agent ${step('pane', 'agent')} ms, → codestrator mcp ${step('agent', 'server')} ms, ` +
        `→ first call ${step('server', 'first')} ms (one child alone: see 5a)`,
    );
  }
  out();
}

// --- section ----------------------------------------------------------------------------------------

function tmuxAvailable() {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Section 5: a private tmux server and a temp repository with one session; everything is removed at the end. */
export async function runtimeSection({ out, progress }) {
  if (!tmuxAvailable()) {
    out('5. Child start-up: skipped, tmux is not installed');
    out();
    return;
  }
  const started = performance.now();
  const repo = makeRepo();
  const socket = `cs-bench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const env = cleanEnv({ CODESTRATOR_TMUX_SOCKET: socket });
  const tmux = (...args) => execFileSync('tmux', ['-L', socket, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  // A keeper session holds the private server up between rounds (each round's viewer session closes with its last window).
  tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'keeper', 'sleep', '3600');
  const trace = traceExec(['git', 'tmux']);
  let db;
  try {
    const dispatcher = createDispatcher(repo.path, env);
    const opened = await must(dispatcher, 'session.open', { user_request: 'bench child start-up', agent_role: 'bench' });
    const scriptsDir = join(dirname(repo.path), 'scripts');
    mkdirSync(scriptsDir);
    db = new Database(join(repo.path, '.codestrator', 'state.db'), { readonly: true, fileMustExist: true });
    const ctx = { dispatcher, db, trace, scriptsDir, sessionId: opened.session.id, spawned: 0 };

    progress(`child start-up: 1 child × ${CONFIG.singleRuns} (+1 warm-up), on tmux socket ${socket}`);
    await round(ctx, 1);
    const singles = [];
    for (let i = 0; i < CONFIG.singleRuns; i++) singles.push((await round(ctx, 1))[0]);
    progress(`child start-up: ${CONFIG.burst} children back to back × ${CONFIG.burstRuns}`);
    const bursts = [];
    for (let i = 0; i < CONFIG.burstRuns; i++) bursts.push(await round(ctx, CONFIG.burst));

    out(
      '5. Child start-up: thread.child.spawn (runner "script", in-process dispatcher) → the child\'s first MCP call, ' +
        'on a private tmux server; small repository (1 file)',
    );
    out(
      "   first call = the script's first step, lock.acquire, seen as its locks row (acquired_at, epoch ms, stamped by the child's server)",
    );
    out();
    singleTable(out, singles);
    burstTable(out, bursts);
    out(
      `  section 5 took ${ms((performance.now() - started) / 1000, 1)} s (${ctx.spawned} children, stopped with thread.child.stop after each round)`,
    );
    out();
  } finally {
    trace.stop();
    db?.close();
    try {
      tmux('kill-server');
    } catch {
      // Already gone.
    }
    repo.cleanup();
  }
}
