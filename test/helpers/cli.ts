import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'codestrator.js');

/** The environment for a spawned codestrator: the test's identity only, never the developer's. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CODESTRATOR_SESSION_ID;
  delete env.CODESTRATOR_THREAD_ID;
  delete env.CODESTRATOR_STATE_DIR;
  delete env.CODESTRATOR_REPO;
  return { ...env, ...extra };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: unknown;
}

/** Runs the built CLI synchronously in cwd. */
export function cli(cwd: string, args: string[], env: Record<string, string> = {}, input?: string): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8', input: input ?? '' });
  const text = result.status === 0 ? result.stdout : result.stderr;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, json };
}

/** `codestrator call` that must succeed; returns the parsed result. */
export function call<T = Record<string, unknown>>(cwd: string, method: string, params: unknown = {}, env: Record<string, string> = {}): T {
  const result = cli(cwd, ['call', method, JSON.stringify(params)], env);
  if (result.code !== 0) throw new Error(`${method} failed (${result.code}): ${result.stderr}`);
  return result.json as T;
}

/** Runs the CLI asynchronously (for races between OS processes). */
export function cliAsync(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(code === 0 ? stdout : stderr);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, stderr, json });
    });
  });
}
