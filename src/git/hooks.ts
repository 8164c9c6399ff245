import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CommandError, runGit } from './run-git.js';

/**
 * Every hook name of githooks(5) (git 2.39), so any hook the user has keeps running, except
 * push-to-checkout: its mere presence replaces git's own updateInstead logic, so a wrapper
 * that finds no user hook could not stay neutral.
 */
export const HOOK_NAMES = [
  'applypatch-msg',
  'pre-applypatch',
  'post-applypatch',
  'pre-commit',
  'pre-merge-commit',
  'prepare-commit-msg',
  'commit-msg',
  'post-commit',
  'pre-rebase',
  'post-checkout',
  'post-merge',
  'pre-push',
  'pre-receive',
  'update',
  'proc-receive',
  'post-receive',
  'post-update',
  'reference-transaction',
  'pre-auto-gc',
  'post-rewrite',
  'sendemail-validate',
  'fsmonitor-watchman',
  'p4-changelist',
  'p4-prepare-changelist',
  'p4-post-changelist',
  'p4-pre-submit',
  'post-index-change',
] as const;

/** Where the wrappers live by default: one directory shared by all of a repository's codestrator worktrees. */
export const defaultHooksDir = (mainRoot: string): string => join(mainRoot, '.codestrator', 'hooks');

/** Quotes a word for POSIX sh: inside single quotes nothing is special, and a quote is written as '\''. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error('A shell word cannot contain a NUL byte.');
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The exit code by which the check refuses a commit (sysexits' EX_NOPERM). Any other failure of
 * the check (codestrator moved, not built, crashing) refuses it too, unless
 * CODESTRATOR_HOOK_OVERRIDE gives a reason, which the wrapper records: an unchecked commit could
 * land a locked edit.
 */
export const REFUSED_EXIT_CODE = 77;

/** The lines that run codestrator's check before the user's pre-commit hook; overrides are appended to `overrideLog`. */
function checkLines(argv: readonly string[], overrideLog: string): string[] {
  if (argv.length === 0) throw new Error('The hook command needs at least a program.');
  return [
    `${argv.map(shellQuote).join(' ')} </dev/null`,
    'cs_status=$?',
    `if [ "$cs_status" -eq ${REFUSED_EXIT_CODE} ]; then exit 1; fi`,
    'if [ "$cs_status" -ne 0 ]; then',
    '  if [ -z "${CODESTRATOR_HOOK_OVERRIDE-}" ]; then',
    '    printf \'codestrator: the lock check failed (exit %s), so this commit is refused: its paths are not checked against locks.\\n\' "$cs_status" >&2',
    '    printf \'codestrator: fix codestrator, or commit with CODESTRATOR_HOOK_OVERRIDE="<why>" to go ahead; the override is recorded.\\n\' >&2',
    '    exit 1',
    '  fi',
    `  printf '{"at":"%s","checkout":"%s","reason":"%s","failure":"hook exit %s"}\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PWD" "$(printf '%s' "$CODESTRATOR_HOOK_OVERRIDE" | tr -d '"\\\\')" "$cs_status" >> ${shellQuote(overrideLog)} || exit 1`,
    '  printf \'codestrator: warning: the lock check failed (exit %s); overridden, recorded in %s.\\n\' "$cs_status" ' +
      shellQuote(overrideLog) +
      ' >&2',
    'fi',
  ];
}

/**
 * One wrapper script. It runs the hook the repository would run without codestrator:
 * core.hooksPath from any config scope but this worktree's own (a relative path is taken from
 * the directory the hook runs in, the worktree root, as git does), else `<common dir>/hooks`.
 * When that hook is this wrapper again (core.hooksPath naming this directory, a symlink), the
 * exec lands in the same process: the pid noted before the exec stops it there.
 */
function wrapperScript(name: string, options: { commonDir: string; checkArgv?: readonly string[]; overrideLog: string }): string {
  return [
    '#!/bin/sh',
    `# ${name}: written by codestrator for its worktrees (their per-worktree core.hooksPath) and`,
    '# rewritten whenever one is created. It chains to your own hook of the same name.',
    '[ "${CODESTRATOR_HOOK_PID-}" != "$$" ] || exit 0',
    ...(options.checkArgv ? checkLines(options.checkArgv, options.overrideLog) : []),
    `cs_dir=${shellQuote(join(options.commonDir, 'hooks'))}`,
    "cs_tab=$(printf '\\t')",
    'while IFS= read -r cs_line; do',
    '  case $cs_line in',
    '    "worktree$cs_tab"*) ;;',
    '    *"$cs_tab"?*) cs_dir=${cs_line#*"$cs_tab"} ;;',
    '  esac',
    'done <<EOF',
    '$(git config --show-scope --type=path --get-all core.hooksPath 2>/dev/null)',
    'EOF',
    'case $cs_dir in /*) ;; *) cs_dir=$PWD/$cs_dir ;; esac',
    `cs_hook=$cs_dir/${name}`,
    'if [ -f "$cs_hook" ] && [ -x "$cs_hook" ]; then',
    '  CODESTRATOR_HOOK_PID=$$',
    '  export CODESTRATOR_HOOK_PID',
    '  exec "$cs_hook" "$@"',
    'fi',
    'exit 0',
    '',
  ].join('\n');
}

/** Writes through a temp file and rename, and only when the content differs, so a running hook never reads half a script. */
function writeExecutable(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text && (statSync(path).mode & 0o111) === 0o111) return;
  } catch {
    // Missing: written below.
  }
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    writeFileSync(temp, text, { mode: 0o755 });
    chmodSync(temp, 0o755);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/**
 * Sets `extensions.worktreeConfig` in the repository's config (honoured by git in format
 * version 0 as well), so core.hooksPath can be set for one worktree only. Another process may
 * hold `.git/config.lock` while doing the same, so a failed write is re-checked and retried.
 */
async function enableWorktreeConfig(mainRoot: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const current = await runGit(mainRoot, ['config', '--local', '--bool', '--get', 'extensions.worktreeConfig'], { allowFailure: true });
    if (current.stdout.trim() === 'true') return;
    const set = await runGit(mainRoot, ['config', '--local', 'extensions.worktreeConfig', 'true'], { allowFailure: true });
    if (set.exitCode === 0) return;
    if (attempt >= 20) throw new CommandError('git', ['config', '--local', 'extensions.worktreeConfig', 'true'], set.exitCode, set.stderr);
    await new Promise((done) => setTimeout(done, 25 + Math.random() * 50));
  }
}

/**
 * Makes a codestrator worktree run `hookArgv` before every commit, while the repository's own
 * hooks keep running: writes the shared wrapper directory (idempotent, each file atomic) and
 * points this worktree's own core.hooksPath at it. The main checkout's hooks config is never
 * changed. `hooksDir` defaults to `<mainRoot>/.codestrator/hooks`.
 */
export async function installWorktreeHooks(
  mainRoot: string,
  worktreePath: string,
  hookArgv: readonly string[],
  hooksDir: string = defaultHooksDir(mainRoot),
): Promise<void> {
  const commonDir = (await runGit(mainRoot, ['rev-parse', '--path-format=absolute', '--git-common-dir'])).stdout.trim();
  mkdirSync(hooksDir, { recursive: true });
  for (const name of HOOK_NAMES) {
    const overrideLog = join(dirname(hooksDir), 'hook-overrides.log');
    writeExecutable(
      join(hooksDir, name),
      wrapperScript(name, { commonDir, overrideLog, ...(name === 'pre-commit' ? { checkArgv: hookArgv } : {}) }),
    );
  }
  await enableWorktreeConfig(mainRoot);
  await runGit(worktreePath, ['config', '--worktree', 'core.hooksPath', hooksDir]);
}

/** Variables that would point git at another repository than `cwd`'s; GIT_INDEX_FILE is handled apart. */
const REPO_OVERRIDES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_PREFIX'];

/**
 * The paths a commit being made in `cwd` changes (renames as a deletion plus an addition).
 * Inside a pre-commit hook git names the index it is about to commit in GIT_INDEX_FILE: a
 * temporary one for `commit -a` and `commit <paths>`. runGit drops that variable on purpose
 * (codestrator's own git calls must not follow a hook's index), so this one read runs git
 * itself, with runGit's discipline otherwise: argv, explicit cwd, stdin closed, a timeout.
 */
export function stagedPaths(cwd: string, indexFile: string | undefined): Promise<string[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
  for (const name of REPO_OVERRIDES) delete env[name];
  if (indexFile) env.GIT_INDEX_FILE = resolve(cwd, indexFile);
  else delete env.GIT_INDEX_FILE;
  const args = ['diff', '--cached', '--name-only', '-z', '--no-renames'];
  return new Promise((done, fail) => {
    const child = execFile(
      'git',
      args,
      { cwd, env, timeout: 60_000, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return done(stdout.split('\0').filter(Boolean));
        fail(new CommandError('git', args, typeof error.code === 'number' ? error.code : null, stderr || error.message));
      },
    );
    child.stdin?.end();
  });
}
