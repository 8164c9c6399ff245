// Helpers shared by bench/run.js and bench/lock-worker.js: temp repositories, child processes,
// percentiles and a plain-text table.
import childProcess, { execFileSync, spawn } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';

export const ROOT = join(import.meta.dirname, '..');
export const BIN = join(ROOT, 'bin', 'codestrator.js');
export const BARE_SERVER = join(ROOT, 'bench', 'bare-server.js');
export const LOCK_WORKER = join(ROOT, 'bench', 'lock-worker.js');

/** The environment for spawned processes: no inherited codestrator identity or state dir. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  delete env.CODESTRATOR_SESSION_ID;
  delete env.CODESTRATOR_THREAD_ID;
  delete env.CODESTRATOR_STATE_DIR;
  delete env.CODESTRATOR_REPO;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

function git(cwd, ...args) {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Bench',
      GIT_AUTHOR_EMAIL: 'bench@example.com',
      GIT_COMMITTER_NAME: 'Bench',
      GIT_COMMITTER_EMAIL: 'bench@example.com',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A fresh repository on branch main with one commit, under os.tmpdir(); cleanup() removes it. */
export function makeRepo() {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-bench-')));
  const path = join(dir, 'repo');
  mkdirSync(path);
  git(path, 'init', '-q', '-b', 'main');
  writeFileSync(join(path, 'README.md'), '# bench repo\n');
  git(path, 'add', 'README.md');
  git(path, 'commit', '-q', '-m', 'initial');
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** p50 / p90 / p99 / mean / n of a list of samples. */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean,
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

export const ms = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
export const int = (x) => Math.round(x).toLocaleString('en-US');

/** A plain-text table: first row is the header; numeric-looking cells are right-aligned. */
export function table(rows) {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => String(row[col] ?? '').length)));
  const numeric = (cell) => /^[-\d.,×]+( ?(ms|×|\/s))?$/.test(String(cell));
  const line = (row) =>
    row
      .map((cell, col) => {
        const text = String(cell ?? '');
        return col > 0 && numeric(text) ? text.padStart(widths[col]) : text.padEnd(widths[col]);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return ['  ' + line(rows[0]), '  ' + rule, ...rows.slice(1).map((row) => '  ' + line(row))].join('\n');
}

/** Reads newline-delimited JSON-RPC messages from a stream. */
export function onJsonLines(stream, handler) {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line !== '') handler(JSON.parse(line));
    }
  });
}

/**
 * One cold start: spawn `node <args>`, write the initialize request at once, and time until its
 * response line arrives; then (optionally) send initialized + one tools/call and time its result.
 * Returns {initializeMs, firstCallMs?}; the process is shut down (stdin closed) before resolving.
 */
export function coldStart({ args, cwd, env, protocolVersion, firstCall }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const result = {};
    let stderr = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`cold start of ${args.join(' ')} timed out`)), 15_000);
    const send = (msg) => child.stdin.write(JSON.stringify(msg) + '\n');
    const fail = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${stderr}`));
    };
    const finish = () => {
      clearTimeout(timer);
      child.stdin.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(killer);
        if (!settled) {
          settled = true;
          resolve(result);
        }
      });
    };
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      if (!settled && result.initializeMs === undefined) fail(new Error(`${args.join(' ')} exited early (${code ?? signal})`));
    });
    onJsonLines(child.stdout, (msg) => {
      if (msg.id === 1) {
        result.initializeMs = performance.now() - t0;
        if (msg.error) return fail(new Error(`initialize failed: ${JSON.stringify(msg.error)}`));
        if (!firstCall) return finish();
        send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: firstCall });
      } else if (msg.id === 2) {
        result.firstCallMs = performance.now() - t0;
        if (msg.error || msg.result?.isError) return fail(new Error(`first call failed: ${JSON.stringify(msg.error ?? msg.result)}`));
        finish();
      }
    });
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion, capabilities: {}, clientInfo: { name: 'codestrator-bench', version: '1.0.0' } },
    });
  });
}

/** Time from spawn to exit of `node -e ""`: the floor any Node server's cold start sits on. */
export function nodeFloor(cwd, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['-e', ''], { cwd, env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(performance.now() - t0));
  });
}

/**
 * Records every run of the named programs through child_process.execFile (codestrator's runGit and
 * runTmux) until stop(): file, args and the interval from the call to its callback.
 */
export function traceExec(programs) {
  const original = childProcess.execFile;
  const calls = [];
  childProcess.execFile = function tracedExecFile(file, args, options, callback) {
    if (!programs.includes(file) || typeof callback !== 'function') return original.apply(this, arguments);
    const start = performance.now();
    return original.call(this, file, args, options, (...results) => {
      calls.push({ file, args, start, end: performance.now() });
      callback(...results);
    });
  };
  syncBuiltinESMExports();
  return {
    calls,
    stop() {
      childProcess.execFile = original;
      syncBuiltinESMExports();
    },
  };
}
