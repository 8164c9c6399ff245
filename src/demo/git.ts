import { spawn } from 'node:child_process';

/**
 * git for the demo's own repository (creating it, reading main's log): an argument vector, an
 * explicit cwd, stdin closed, a timeout, and the variables that would point git at another
 * repository removed, so the demo can never act on the repository it was started from. The demo
 * is an interface, so it does not reach for the git adapter; everything else goes through methods.
 */

const TIMEOUT_MS = 30_000;
const REDIRECTS = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_PREFIX', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR'];

/** Runs git in cwd; resolves to stdout, rejects with git's stderr when it fails. */
export function demoGit(cwd: string, args: readonly string[]): Promise<string> {
  const env = { ...process.env };
  for (const name of REDIRECTS) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`git could not start: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`git ${args[0]} failed (${code ?? 'killed'}): ${stderr.trim() || stdout.trim()}`));
    });
  });
}
