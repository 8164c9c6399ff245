import { spawn } from 'node:child_process';

/**
 * git for the scripted agent's `commit` step: by argument vector (never a shell), hooks on, each
 * git in its own process group so a Ctrl-C in the agent's pane interrupts the agent, not git.
 */

const GIT_TIMEOUT_MS = 120_000;
/** Variables that would point git at another repository than the worktree. */
const GIT_REDIRECTS = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_PREFIX', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR'];

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type CommitResult = { ok: true; commit: string; branch: string } | { ok: false; code: 'hook' | 'empty' | 'git'; message: string };

function runGit(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<GitResult> {
  return new Promise((done) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), GIT_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      done({ code: -1, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

export class ScriptGit {
  private env: NodeJS.ProcessEnv | undefined;

  /** fallbackName: the author name used when neither the environment nor git config has one. */
  constructor(
    private readonly cwd: string,
    private readonly fallbackName: string,
  ) {}

  async run(args: string[]): Promise<GitResult> {
    this.env ??= await this.environment();
    return runGit(this.cwd, args, this.env);
  }

  /** The agent's environment without git redirects; a machine with no identity gets the script's name. */
  private async environment(): Promise<NodeJS.ProcessEnv> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of GIT_REDIRECTS) delete env[name];
    for (const [key, fallback] of [
      ['name', this.fallbackName],
      ['email', 'script-agent@codestrator.invalid'],
    ] as const) {
      const upper = key.toUpperCase();
      if (env[`GIT_AUTHOR_${upper}`] && env[`GIT_COMMITTER_${upper}`]) continue;
      if ((await runGit(this.cwd, ['config', '--get', `user.${key}`], env)).code === 0) continue;
      env[`GIT_AUTHOR_${upper}`] ??= fallback;
      env[`GIT_COMMITTER_${upper}`] ??= fallback;
    }
    return env;
  }

  /**
   * `git add -- <paths>` (or `git add -A`), then `git commit -m` with hooks on. A refusal is told
   * apart from other failures by asking git whether it would commit without hooks (`--dry-run
   * --no-verify`). What git and the hooks said goes to stderr (the pane), expected or not.
   */
  async commit(message: string, paths: string[] | undefined): Promise<CommitResult> {
    const added = await this.run(paths ? ['add', '--', ...paths] : ['add', '-A']);
    if (added.code !== 0) return { ok: false, code: 'git', message: `git add failed: ${added.stderr.trim()}` };
    if ((await this.run(['diff', '--cached', '--quiet'])).code === 0) return { ok: false, code: 'empty', message: 'nothing to commit' };
    const committed = await this.run(['commit', '-q', '-m', message]);
    if (committed.code !== 0) {
      const said = (committed.stderr || committed.stdout).trim();
      if (said) process.stderr.write(`${said}\n`);
      const dry = await this.run(['commit', '--dry-run', '--no-verify', '-q', '-m', message]);
      return dry.code === 0
        ? { ok: false, code: 'hook', message: `a hook refused the commit: ${said}` }
        : { ok: false, code: 'git', message: `git commit failed: ${said}` };
    }
    const commit = (await this.run(['rev-parse', 'HEAD'])).stdout.trim();
    const branch = (await this.run(['rev-parse', '--abbrev-ref', 'HEAD'])).stdout.trim();
    return { ok: true, commit, branch };
  }
}
