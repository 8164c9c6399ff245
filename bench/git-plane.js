// Section 4 of `npm run bench`: the git plane on a generated 10,000-file repository, driven through the
// in-process dispatcher (dist/app/services.js, the entry the MCP server uses). It times
// worktree.conflicts and merge.main.process, and beside them the raw git commands they use, run
// sequentially with spawnSync in the same run on the same (or equivalent) branches. While codestrator
// runs, its own git processes are traced (child_process.execFile is wrapped for the duration), so
// the tables can also say how long no git process was running: codestrator's time outside git.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { createDispatcher } from '../dist/app/services.js';
import { cleanEnv, ms, ratio, summarize, table, traceExec } from './lib.js';

const CONFIG = {
  dirs: 100,
  filesPerDir: 100,
  linesPerFile: 12,
  /** Child worktrees of the conflict scan, each changing 5 files (4 of its own, 1 shared with its pair partner). */
  children: 10,
  /** Measured worktree.conflicts calls (after one warm-up), alternating with raw rounds. */
  conflictRuns: 5,
  queueItems: 6,
};

/** Pairs of conflict-scan children that touch one shared file: on the same line, or on distant lines. */
const CONFLICTING_PAIRS = [
  [0, 1],
  [2, 3],
  [4, 5],
];
const CLEAN_PAIRS = [
  [6, 7],
  [8, 9],
];

const TARGET_RATIO = 1.5;

/** The environment codestrator's runGit gives git (src/git/run-git.ts), so raw commands run alike. */
const GIT_ENV = (() => {
  const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_PREFIX'])
    delete env[name];
  return env;
})();

const pad = (n) => String(n).padStart(3, '0');
const filePath = (dir, file) => `d${pad(dir)}/f${pad(file)}.txt`;
const baseLines = (path) => Array.from({ length: CONFIG.linesPerFile }, (_, i) => `${path} line ${i + 1}`);

/** git, synchronously; throws unless the exit code is in `ok`. */
function git(cwd, args, { input, ok = [0], env = GIT_ENV } = {}) {
  const result = spawnSync('git', args, {
    cwd,
    env,
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (result.error) throw result.error;
  if (!ok.includes(result.status)) throw new Error(`git ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result;
}

/** One raw git command, timed from spawn to exit. */
function timedGit(cwd, args, ok) {
  const t0 = performance.now();
  const result = git(cwd, args, { ok });
  return { ms: performance.now() - t0, stdout: result.stdout, status: result.status };
}

/** A repository of dirs × filesPerDir small text files in one commit (git fast-import), checked out on main. */
function makeBigRepo() {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-bench-git-')));
  const root = join(dir, 'repo');
  mkdirSync(root);
  const t0 = performance.now();
  git(root, ['init', '-q', '-b', 'main']);
  git(root, ['config', 'user.name', 'Bench']);
  git(root, ['config', 'user.email', 'bench@example.com']);
  const chunks = ['commit refs/heads/main', 'committer Bench <bench@example.com> 1700000000 +0000', 'data 7', 'initial'];
  const blob = (path, content) => chunks.push(`M 100644 inline ${path}`, `data ${Buffer.byteLength(content)}`, content);
  blob('README.md', '# generated bench repo\n');
  for (let d = 0; d < CONFIG.dirs; d++)
    for (let f = 0; f < CONFIG.filesPerDir; f++) blob(filePath(d, f), baseLines(filePath(d, f)).join('\n') + '\n');
  git(root, ['fast-import', '--quiet'], { input: chunks.join('\n') + '\n' });
  git(root, ['reset', '-q', '--hard', 'main']);
  return { dir, root, generateMs: performance.now() - t0, cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 5 }) };
}

/** Rewrites the given lines (1-based) of generated files in a checkout and commits them. */
function commitEdits(cwd, edits, message) {
  for (const { path, line, text } of edits) {
    const lines = readFileSync(join(cwd, path), 'utf8').split('\n');
    lines[line - 1] = text;
    writeFileSync(join(cwd, path), lines.join('\n'));
  }
  git(cwd, ['-c', 'core.hooksPath=/dev/null', 'commit', '-q', '-a', '-m', message]);
}

/** The git subcommand of an argument vector (skipping `-c key=value`). */
function subcommand(args) {
  let i = 0;
  while (args[i] === '-c') i += 2;
  return args[i];
}

/** Time within [t0, t1] during which at least one traced git process was running. */
function gitBusy(calls, t0, t1) {
  const spans = calls
    .filter((c) => c.start >= t0 && c.end <= t1)
    .map((c) => [c.start, c.end])
    .sort((a, b) => a[0] - b[0]);
  let busy = 0;
  let until = -Infinity;
  for (const [start, end] of spans) {
    if (end <= until) continue;
    busy += end - Math.max(start, until);
    until = end;
  }
  return busy;
}

/** One dispatcher call timed; the traced git calls inside it are returned with it. */
async function tracedCall(dispatcher, trace, method, params) {
  const t0 = performance.now();
  const outcome = await dispatcher.call(method, params);
  const t1 = performance.now();
  if (!outcome.ok) throw new Error(`${method} failed: ${JSON.stringify(outcome.error)}`);
  const calls = trace.calls.filter((c) => c.start >= t0 && c.end <= t1);
  return { result: outcome.result, ms: t1 - t0, calls, gitBusyMs: gitBusy(calls, t0, t1) };
}

/** Whether a path of one list is a directory holding a path of the other (as src/core/conflicts.ts). */
function pathsNest(a, b) {
  const dirsOf = (files) => {
    const dirs = new Set();
    for (const file of files) for (let i = file.indexOf('/'); i !== -1; i = file.indexOf('/', i + 1)) dirs.add(file.slice(0, i));
    return dirs;
  };
  const aDirs = dirsOf(a);
  const bDirs = dirsOf(b);
  return a.some((file) => bDirs.has(file)) || b.some((file) => aDirs.has(file));
}

/**
 * The git commands worktree.conflicts runs, sequentially: per branch a three-dot diff and a
 * merge-tree against the target tip, then a merge-tree per pair whose changed paths overlap or nest.
 */
function rawConflictScan(root, target, targetTip, branches) {
  const times = { diff: 0, vsTarget: 0, pairs: 0 };
  const changed = [];
  let conflictingPairs = 0;
  let mergedPairs = 0;
  for (const branch of branches) {
    const r = timedGit(root, ['diff', '--name-only', '-z', '--no-renames', `${target}...${branch}`, '--']);
    times.diff += r.ms;
    changed.push(r.stdout.split('\0').filter(Boolean));
  }
  const mergeTree = (ours, theirs) =>
    timedGit(root, ['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', '--end-of-options', ours, theirs], [0, 1]);
  for (const branch of branches) times.vsTarget += mergeTree(targetTip, branch).ms;
  for (let i = 0; i < branches.length; i++)
    for (let j = i + 1; j < branches.length; j++) {
      const bSet = new Set(changed[j]);
      if (!changed[i].some((file) => bSet.has(file)) && !pathsNest(changed[i], changed[j])) continue;
      const r = mergeTree(branches[i], branches[j]);
      times.pairs += r.ms;
      mergedPairs++;
      if (r.status === 1) conflictingPairs++;
    }
  return {
    ...times,
    total: times.diff + times.vsTarget + times.pairs,
    mergedPairs,
    conflictingPairs,
    processes: 2 * branches.length + mergedPairs,
  };
}

/** The git commands merge.main.process runs for one clean item without a gate, in its order, each timed. */
function rawQueueItem(root, checkout, target, source, index) {
  const times = {};
  let runs = 0;
  const step = (name, cwd, args, ok) => {
    const r = timedGit(cwd, args, ok);
    runs++;
    times[name] = (times[name] ?? 0) + r.ms;
    return r;
  };
  const resolve = (ref) =>
    step('rev-parse ×2', root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]).stdout.trim();
  const targetTip = resolve(target);
  const sourceTip = resolve(source);
  step('merge-base --is-ancestor', root, ['merge-base', '--is-ancestor', sourceTip, targetTip], [1]);
  step('diff --name-only', root, ['diff', '--name-only', '-z', '--no-renames', `${targetTip}...${sourceTip}`, '--']);
  const merged = step('merge-tree --write-tree', root, [
    'merge-tree',
    '--write-tree',
    '--name-only',
    '--no-messages',
    '-z',
    '--end-of-options',
    targetTip,
    sourceTip,
  ]);
  const tree = merged.stdout.split('\0')[0];
  const commit = step('commit-tree', root, [
    '-c',
    'core.hooksPath=/dev/null',
    'commit-tree',
    tree,
    '-p',
    targetTip,
    '-p',
    sourceTip,
    '-m',
    `Merge ${source} into ${target} (raw bench item ${index})`,
  ]).stdout.trim();
  step('worktree list --porcelain', root, ['worktree', 'list', '--porcelain', '-z']);
  const status = step('status --porcelain (untracked no)', checkout, ['status', '--porcelain=v1', '-z', '--untracked-files=no']);
  if (status.stdout !== '') throw new Error(`checkout ${checkout} is dirty: ${status.stdout}`);
  step('update-ref (CAS)', root, ['update-ref', '-m', `bench: raw item ${index}`, `refs/heads/${target}`, commit, targetTip]);
  step('read-tree -m -u', checkout, ['read-tree', '-m', '-u', targetTip, commit]);
  return { times, runs };
}

/** Traced codestrator time by git subcommand (summed), for the rows of a breakdown table. */
function bySubcommand(calls) {
  const sums = {};
  for (const c of calls) {
    const name = subcommand(c.args);
    sums[name] ??= { ms: 0, n: 0 };
    sums[name].ms += c.end - c.start;
    sums[name].n++;
  }
  return sums;
}

const median = (list) => summarize(list).p50;

async function conflictSection(out, progress, ctx) {
  const { root, dispatcher, trace, sessionId, spawnMs, children } = ctx;
  progress(`git plane: spawning ${CONFIG.children} child worktrees of ${CONFIG.dirs * CONFIG.filesPerDir} files each`);
  for (let i = 0; i < CONFIG.children; i++) {
    const t0 = performance.now();
    const spawned = await tracedCall(dispatcher, trace, 'worktree.spawn', { name: `conflict-${i}`, session_id: sessionId });
    spawnMs.push(performance.now() - t0);
    children.push(spawned.result.worktree);
  }
  // Each child rewrites line 1 of four files of its own directory, plus one file shared with its pair
  // partner: line 1 for both in a conflicting pair, lines 2 and 11 in a clean one (5 files each).
  const shared = new Map();
  CONFLICTING_PAIRS.forEach(([a, b], p) => {
    const path = filePath(91 + p, 50);
    shared.set(a, { path, line: 1, text: `conflict ${p}: side of child ${a}` });
    shared.set(b, { path, line: 1, text: `conflict ${p}: side of child ${b}` });
  });
  CLEAN_PAIRS.forEach(([a, b], p) => {
    const path = filePath(95 + p, 50);
    shared.set(a, { path, line: 2, text: `clean overlap ${p}: child ${a}` });
    shared.set(b, { path, line: CONFIG.linesPerFile - 1, text: `clean overlap ${p}: child ${b}` });
  });
  children.forEach((child, i) => {
    const own = [0, 1, 2, 3].map((f) => ({ path: filePath(i * 9, f), line: 1, text: `child ${i} changed this line` }));
    commitEdits(child.path, [...own, shared.get(i)], `child ${i}: 5 files`);
  });
  // The target moves too, on a line child 0 also rewrote: one branch conflicts with the target.
  commitEdits(root, [{ path: filePath(0, 0), line: 1, text: 'main moved this line' }], 'main moves');

  progress(`git plane: worktree.conflicts × ${CONFIG.conflictRuns} (+1 warm-up), alternating with raw git rounds`);
  const cs = [];
  const raw = [];
  let report;
  for (let run = -1; run < CONFIG.conflictRuns; run++) {
    const call = await tracedCall(dispatcher, trace, 'worktree.conflicts', {});
    report = call.result;
    const branches = report.branches.map((b) => b.branch);
    const rawRound = rawConflictScan(root, report.target_branch, report.target_commit, branches);
    if (run < 0) continue;
    cs.push(call);
    raw.push(rawRound);
  }
  const conflicting = report.pairs.filter((p) => p.conflict_files.length > 0).length;
  const overlappingClean = report.pairs.filter((p) => p.conflict_files.length === 0).length;
  const vsTargetConflicts = report.branches.filter((b) => b.conflicts_with_target.length > 0).length;
  const mergedPairs = raw[0].mergedPairs;
  if (conflicting !== CONFLICTING_PAIRS.length || overlappingClean !== CLEAN_PAIRS.length || raw[0].conflictingPairs !== conflicting)
    throw new Error(`unexpected conflict report: ${JSON.stringify(report.pairs)} (raw: ${JSON.stringify(raw[0])})`);

  const csMs = summarize(cs.map((c) => c.ms));
  const rawMs = summarize(raw.map((r) => r.total));
  const busy = median(cs.map((c) => c.gitBusyMs));
  const outside = median(cs.map((c) => c.ms - c.gitBusyMs));
  const traced = cs.map((c) => bySubcommand(c.calls));
  const n = report.branches.length;

  out(
    `4. Git plane: generated repository of ${(CONFIG.dirs * CONFIG.filesPerDir).toLocaleString('en-US')} files ` +
      `(${CONFIG.dirs} dirs × ${CONFIG.filesPerDir}), in-process dispatcher (dist/app/services.js)`,
  );
  out(
    `   setup: repository generated in ${ms(ctx.generateMs / 1000, 1)} s; worktree.spawn of a full checkout, median ${ms(median(spawnMs), 0)} ms`,
  );
  out();
  out(
    `4a. worktree.conflicts: ${n} active branches (session root + ${CONFIG.children} children, 5 changed files each), ` +
      `target moved once; median of ${CONFIG.conflictRuns} runs`,
  );
  out();
  out(
    table([
      ['measure', 'median ms', 'min ms', 'max ms', 'git runs'],
      ['codestrator  worktree.conflicts (wall)', ms(csMs.p50, 1), ms(csMs.min, 1), ms(csMs.max, 1), String(cs[0].calls.length)],
      ['  of which some git process running (≤ 2 at once)', ms(busy, 1), '', '', ''],
      ['  of which no git process running (node + SQLite)', ms(outside, 1), '', '', ''],
      ...Object.entries(traced[0]).map(([name, t]) => [
        `  its git ${name} runs, call → callback, summed (they overlap)`,
        ms(median(traced.map((x) => x[name]?.ms ?? 0)), 1),
        '',
        '',
        String(t.n),
      ]),
      ['raw git, sequential sum of the same commands', ms(rawMs.p50, 1), ms(rawMs.min, 1), ms(rawMs.max, 1), String(raw[0].processes)],
      [`  diff --name-only -z --no-renames target...branch ×${n}`, ms(median(raw.map((r) => r.diff)), 1), '', '', String(n)],
      [`  merge-tree --write-tree target branch ×${n}`, ms(median(raw.map((r) => r.vsTarget)), 1), '', '', String(n)],
      [
        `  merge-tree --write-tree branch branch ×${mergedPairs} (overlapping pairs)`,
        ms(median(raw.map((r) => r.pairs)), 1),
        '',
        '',
        String(mergedPairs),
      ],
    ]),
  );
  out();
  out(
    table([
      ['pairs', 'count'],
      ['pairs considered (checked_pairs)', String(report.checked_pairs)],
      ['pairs merged in memory (changed paths overlap or nest)', String(mergedPairs)],
      ['  conflicting (same lines)', String(conflicting)],
      ['  overlapping, merging cleanly', String(overlappingClean)],
      ['branches conflicting with the target', String(vsTargetConflicts)],
    ]),
  );
  out();
  out(
    table([
      ['worktree.conflicts', 'median', 'target'],
      ['codestrator / raw git sequential sum', ratio(csMs.p50, rawMs.p50), `≤ ${TARGET_RATIO}×`],
      ['codestrator − raw git sequential sum', `${ms(csMs.p50 - rawMs.p50, 1)} ms`, '(reference)'],
      ['codestrator time with no git process running', `${ms(outside, 1)} ms`, '(reference)'],
    ]),
  );
  out('  (codestrator runs up to 2 git processes at once, the raw sum runs them one by one, so the ratio can fall below 1×;');
  out("   'its git … runs' rows time codestrator's own git runs, call → callback around child_process.execFile, in the same process)");
  out();
}

async function queueSection(out, progress, ctx) {
  const { root, dir, dispatcher, trace, sessionId, children } = ctx;
  const items = CONFIG.queueItems;
  // The items reuse the first conflict-scan children (a fresh 10,000-file checkout each would only add
  // setup and cleanup time): each branch is reset to its fork point and gets one commit to a file of its own.
  progress(`git plane: ${items} queue items (child worktree reset + one commit each), then merge.main.process`);
  for (let i = 0; i < items; i++) {
    const child = children[i];
    git(child.path, ['reset', '-q', '--hard', child.base_sha]);
    commitEdits(child.path, [{ path: filePath(i * 9 + 4, 99), line: 1, text: `queue item ${i}` }], `queue item ${i}`);
    await tracedCall(dispatcher, trace, 'merge.main.request', { from_worktree_id: child.id, session_id: sessionId });
  }
  const run = await tracedCall(dispatcher, trace, 'merge.main.process', {});
  const states = run.result.processed.map((item) => item.state);
  if (states.length !== items || states.some((state) => state !== 'merged'))
    throw new Error(`merge.main.process: ${JSON.stringify(run.result.processed.map((item) => [item.state, item.reason]))}`);
  if (git(root, ['status', '--porcelain', '--untracked-files=no']).stdout !== '') throw new Error('main checkout dirty after the queue');
  const rowMs = summarize(run.result.processed.map((item) => item.finished_at - item.started_at));

  // The raw side, after the queue run: as many fresh source branches forked from main's new tip, each
  // with one commit to a distinct file, landed one by one on main in the same main checkout.
  progress(`git plane: raw git for ${items} equivalent items on fresh branches`);
  const target = run.result.processed[0].target_branch;
  const base = git(root, ['rev-parse', target]).stdout.trim();
  const indexEnv = { ...GIT_ENV, GIT_INDEX_FILE: join(dir, 'scratch-index') };
  const sources = [];
  for (let i = 0; i < items; i++) {
    const path = filePath(i * 9 + 5, 98);
    const lines = baseLines(path);
    lines[0] = `raw item ${i}`;
    git(root, ['read-tree', base], { env: indexEnv });
    const blob = git(root, ['hash-object', '-w', '--stdin'], { input: lines.join('\n') + '\n' }).stdout.trim();
    git(root, ['update-index', '--cacheinfo', `100644,${blob},${path}`], { env: indexEnv });
    const tree = git(root, ['write-tree'], { env: indexEnv }).stdout.trim();
    const commit = git(root, ['commit-tree', tree, '-p', base, '-m', `raw item ${i}`]).stdout.trim();
    git(root, ['update-ref', `refs/heads/bench-source-${i}`, commit]);
    sources.push(`bench-source-${i}`);
  }
  const rawRuns = sources.map((source, i) => rawQueueItem(root, root, target, source, i));
  const rawItems = rawRuns.map((r) => r.times);
  const rawTotals = rawItems.map((t) => Object.values(t).reduce((a, b) => a + b, 0));
  const rawTotal = rawTotals.reduce((a, b) => a + b, 0);

  const traced = bySubcommand(run.calls);
  const outside = run.ms - run.gitBusyMs;
  const steps = Object.keys(rawItems[0]);
  const tracedFor = {
    'rev-parse ×2': 'rev-parse',
    'merge-base --is-ancestor': 'merge-base',
    'diff --name-only': 'diff',
    'merge-tree --write-tree': 'merge-tree',
    'commit-tree': 'commit-tree',
    'worktree list --porcelain': 'worktree',
    'status --porcelain (untracked no)': 'status',
    'update-ref (CAS)': 'update-ref',
    'read-tree -m -u': 'read-tree',
  };
  const otherTraced = Object.entries(traced).filter(([name]) => !Object.values(tracedFor).includes(name));

  out(
    `4b. merge.main.process: ${items} queued items (children of 4a reset to their fork point, one committed change each ` +
      'to distinct files), no gate',
  );
  out();
  out(
    table([
      ['measure', 'total ms', 'per item ms', 'git runs'],
      [`codestrator  merge.main.process, ${items} items (wall)`, ms(run.ms, 1), ms(run.ms / items, 1), String(run.calls.length)],
      ['  of which a git process running', ms(run.gitBusyMs, 1), ms(run.gitBusyMs / items, 1), ''],
      ['  of which no git process running (node + SQLite)', ms(outside, 1), ms(outside / items, 1), ''],
      [
        '  per item from the queue rows (started_at → finished_at), median / min / max',
        '',
        `${ms(rowMs.p50, 0)} / ${ms(rowMs.min, 0)} / ${ms(rowMs.max, 0)}`,
        '',
      ],
      [
        `raw git, the same commands for ${items} equivalent items, sequential`,
        ms(rawTotal, 1),
        ms(rawTotal / items, 1),
        String(rawRuns.reduce((n, r) => n + r.runs, 0)),
      ],
    ]),
  );
  out();
  out(
    table([
      ['per item, by git command', 'raw git mean ms', 'codestrator mean ms', 'runs per item'],
      ...steps.map((step) => {
        const t = traced[tracedFor[step]];
        return [
          step,
          ms(rawItems.reduce((sum, r) => sum + r[step], 0) / items, 2),
          t ? ms(t.ms / items, 2) : 'n/a',
          t ? ms(t.n / items, 1) : '0',
        ];
      }),
      ...otherTraced.map(([name, t]) => [`${name} (codestrator only)`, '', ms(t.ms / items, 2), ms(t.n / items, 1)]),
      ['sum', ms(rawTotal / items, 2), ms(run.calls.reduce((s, c) => s + c.end - c.start, 0) / items, 2), ''],
    ]),
  );
  out();
  out(
    table([
      ['merge.main.process', 'per item', 'target'],
      ['codestrator / raw git sequential sum', ratio(run.ms, rawTotal), `≤ ${TARGET_RATIO}×`],
      ['codestrator − raw git', `${ms((run.ms - rawTotal) / items, 1)} ms`, '(reference)'],
      ['codestrator time with no git process running', `${ms(outside / items, 1)} ms`, '(reference)'],
    ]),
  );
  out('  (raw items run after the queue, on fresh branches forked from the new main, landing on main in the same main checkout;');
  out('   codestrator rows are its own git runs, timed call → callback around child_process.execFile in the same process)');
  out();
}

/** Section 4: sets up the generated repository and its session, runs both parts, and removes everything. */
export async function gitPlaneSection({ out, progress }) {
  progress(`git plane: generating a repository of ${CONFIG.dirs * CONFIG.filesPerDir} files`);
  const started = performance.now();
  const repo = makeBigRepo();
  const trace = traceExec(['git']);
  try {
    const dispatcher = createDispatcher(repo.root, cleanEnv());
    const opened = await tracedCall(dispatcher, trace, 'session.open', { user_request: 'bench git plane', agent_role: 'bench' });
    const ctx = {
      root: repo.root,
      dir: repo.dir,
      dispatcher,
      trace,
      sessionId: opened.result.session.id,
      generateMs: repo.generateMs,
      spawnMs: [],
      children: [],
    };
    await conflictSection(out, progress, ctx);
    await queueSection(out, progress, ctx);
  } finally {
    trace.stop();
    // Asynchronous removal runs many unlinks at once: about twice as fast as rmSync here.
    await repo.cleanup();
  }
  out(
    `  section 4 took ${ms((performance.now() - started) / 1000, 1)} s, setup and cleanup included (${CONFIG.children + 2} checkouts of ${CONFIG.dirs * CONFIG.filesPerDir} files)`,
  );
  out();
}
