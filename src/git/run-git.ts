import { execFile } from 'node:child_process';
import { CodestratorError } from '../core/errors.js';

/** A git invocation that exited non-zero (or could not start): EXTERNAL; classify by exitCode/stderr only. */
export class CommandError extends CodestratorError {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super('EXTERNAL', `${command} ${args.join(' ')} failed (exit ${exitCode ?? 'none'}): ${stderr.trim() || 'no output'}`);
    this.name = 'CommandError';
  }
}

export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunGitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Return the result instead of throwing when git exits non-zero. */
  allowFailure?: boolean;
}

/** Variables that would point git at another repository than `cwd`'s (set inside hooks, for instance). */
const REPO_OVERRIDES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_PREFIX'];

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
  for (const name of REPO_OVERRIDES) delete env[name];
  return env;
}

/**
 * The one choke point for git: an argument vector (never a shell string), explicit cwd,
 * stdin closed, a timeout, and errors carrying stderr.
 */
export function runGit(cwd: string, args: readonly string[], options: RunGitOptions = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      args,
      {
        cwd,
        env: gitEnv(),
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        if (exitCode === 0) return resolve({ exitCode, stdout, stderr });
        if (options.allowFailure && exitCode !== null) return resolve({ exitCode, stdout, stderr });
        reject(new CommandError('git', args, exitCode, stderr || (error?.message ?? '')));
      },
    );
    child.stdin?.end();
  });
}
