import { mkdir, mkdtemp, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createDispatcher } from '../app/services.js';
import type { Dashboard } from '../http/server.js';
import { type Caller, DemoAborted, DemoError, methodCaller } from './call.js';
import { createDemoRepo } from './fixture.js';
import { runGit } from '../git/run-git.js';
import { landWork, runAgents } from './stages.js';
import { type DemoReport, collectReport } from './summary.js';

/** How `codestrator demo` was asked to run. */
export interface DemoOptions {
  /** An empty or missing directory to make the repository in (default: a new temporary one). */
  dir?: string;
  /** Keep the repository, the session and the worktrees at the end. */
  keep: boolean;
  /** Start the dashboard while the demo runs. */
  serve: boolean;
  /** The environment, without the caller's codestrator identity or repository. */
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: the demo stops at the next step and cleans up. */
  signal: AbortSignal;
  /** One line of narration. */
  say(line: string): void;
}

/** Where the run stands, for cleanup whatever happened. */
interface RunState {
  repo?: string;
  /** The directory is the demo's to remove (created by it, or handed over empty). */
  owned: boolean;
  call?: Caller;
  sessionId?: number;
  dashboard?: Dashboard;
  notices: string[];
}

/**
 * `codestrator demo`: makes a repository, runs a root (this process) and three scripted agents
 * in tmux through the real methods, lands their work through the merge queue and its gate, and
 * returns what happened. Throws DemoError (the step and why) or DemoAborted; either way the
 * session, its tmux windows and the repository are removed first, unless `keep`.
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const started = Date.now();
  const state: RunState = { owned: false, notices: [] };
  let step = 'prepare the directory';
  const say = (text: string, at = Date.now()) => options.say(`${((at - started) / 1000).toFixed(1).padStart(5)}s  ${text}`);
  const checkpoint = (next: string) => {
    if (options.signal.aborted) throw new DemoAborted('interrupted');
    step = next;
  };
  let report: Omit<DemoReport, 'kept' | 'duration_ms'> | undefined;
  try {
    const repo = await prepareDirectory(options.dir, state);
    checkpoint('create the repository');
    await createDemoRepo(repo);
    const baseCommit = (await runGit(repo, ['rev-parse', 'HEAD'])).stdout.trim();
    say(`repository ${repo}: tiny-shop on main (src/, test/, check.js)`);
    const call = methodCaller(createDispatcher(repo, options.env, { adoptSessions: true }), () => step);
    state.call = call;

    checkpoint('prepare codestrator');
    const init = await call('workspace.init');
    // The gate runs check.js (the project's tests) on every merged tree before it lands.
    const gate = [process.execPath, 'check.js'];
    await writeFile(
      join(String(init.state_dir), 'config.json'),
      `${JSON.stringify({ gate: { command: gate, timeout_seconds: 60 } }, null, 2)}\n`,
    );
    say(`gate: node check.js on every merge (.codestrator/config.json)`);

    checkpoint('check tmux');
    const tmux = await call('runtime.tmux.ensure');
    if (tmux.status !== 'ready') {
      const how = Array.isArray(tmux.instructions) ? ` Install it: ${tmux.instructions.join('; ')}.` : '';
      throw new DemoError(step, `tmux is not available; the agents run in tmux panes.${how}`);
    }
    if (options.serve) await startDashboard(repo, options.env, state, say);

    checkpoint('open the root session');
    const opened = await call('session.open', {
      intent: 'new_work',
      user_request: 'Demo: prices and discounts for tiny-shop',
      worktree_name: 'pricing',
      agent_role: 'root',
    });
    const session = opened.session as { id: number };
    const worktree = opened.worktree as { path: string; branch: string };
    state.sessionId = session.id;
    say(`root opens session ${session.id}: worktree ${relative(repo, worktree.path)} on ${worktree.branch}`);

    const agents = await runAgents({ call, say, signal: options.signal, stateDir: String(init.state_dir), setStep: checkpoint });
    await landWork({ call, say, agents, setStep: checkpoint });

    checkpoint('read the outcome');
    report = await collectReport(call, {
      repo,
      baseCommit,
      names: agents.names,
      caseIds: agents.caseIds,
      threads: agents.threads,
      branches: agents.branches,
      blockedAt: agents.blockedAt,
      gate,
      dashboardUrl: state.dashboard?.url ?? null,
      tmuxAttach: agents.attach,
      notices: state.notices,
    });
  } catch (err) {
    if (err instanceof DemoError || err instanceof DemoAborted) throw err;
    // Anything else (git missing, a full disk) is told as a failure of the step it happened in.
    throw new DemoError(step, err instanceof Error ? err.message : String(err));
  } finally {
    await cleanup(state, options.keep);
  }
  // Reached only when the try block completed, so the report is there.
  return { ...report!, kept: options.keep, duration_ms: Date.now() - started };
}

/** The directory to use: a given one must be empty (or missing, then it is made); else a new temporary one. */
async function prepareDirectory(dir: string | undefined, state: RunState): Promise<string> {
  if (dir === undefined) {
    state.repo = await realpath(await mkdtemp(join(tmpdir(), 'codestrator-demo-')));
    state.owned = true;
    return state.repo;
  }
  const path = resolve(dir);
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new DemoError('prepare the directory', `cannot use ${path}: ${err.message}`);
  });
  if (info && !info.isDirectory()) throw new DemoError('prepare the directory', `${path} is not a directory.`);
  if (info && (await readdir(path)).length > 0) {
    throw new DemoError(
      'prepare the directory',
      `${path} is not empty; give an empty or new directory (the demo creates a repository there).`,
    );
  }
  if (!info) await mkdir(path, { recursive: true });
  state.repo = await realpath(path);
  state.owned = true;
  return state.repo;
}

/** The dashboard is a bonus: when it cannot start, the demo says so in one line and goes on. */
async function startDashboard(repo: string, env: NodeJS.ProcessEnv, state: RunState, say: (text: string) => void): Promise<void> {
  try {
    const { startDashboard: start } = await import('../http/server.js');
    state.dashboard = await start({ cwd: repo, env });
    say(`dashboard: ${state.dashboard.url}`);
  } catch (err) {
    const notice = `the dashboard did not start (${err instanceof Error ? err.message : String(err)}); going on without it`;
    state.notices.push(notice);
    say(notice);
  }
}

/** Stops the agents and removes the repository unless kept; closes the dashboard in every case. */
async function cleanup(state: RunState, keep: boolean): Promise<void> {
  if (!keep && state.call && state.sessionId !== undefined) {
    // session.close stops the children and closes the tmux session codestrator made for them.
    await state.call('session.close', { session_id: state.sessionId }).catch((err: unknown) => {
      state.notices.push(`could not close session ${state.sessionId}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
  await state.dashboard?.close().catch(() => undefined);
  if (!keep && state.owned && state.repo) await rm(state.repo, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}
