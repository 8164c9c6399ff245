import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, cleanEnv, cliAsync } from './helpers/cli.js';
import { privateTmux } from './helpers/tmux.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !process.env.CI) {
  process.stderr.write(`dashboard-browser: skipped, ${CHROMIUM} is missing (apt-get install chromium); CI fails instead.\n`);
}

interface DemoResult {
  repo: string;
  sessions: { id: number; user_request: string }[];
  threads: { id: number; name: string; status: string }[];
  queue: { id: number; state: string; conflict_files: string[] }[];
}

/** Runs a process to its end; resolves with its output whatever the exit code. */
function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `codestrator serve --json` and resolves with the URL it prints. */
function serve(cwd: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--json'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (!out.includes('\n')) return;
      const printed = JSON.parse(out.split('\n')[0]!) as { url: string; port: number };
      resolve({ child, url: printed.url, port: printed.port });
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}

let tmux: ReturnType<typeof privateTmux>;
let work: string;
let demo: DemoResult;
let server: { child: ChildProcess; url: string; port: number };
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

describe.skipIf(!haveChromium && !process.env.CI)('dashboard in a browser, on the demo', () => {
  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} is missing; CI must install Debian's chromium for the dashboard test.`);
    tmux = privateTmux();
    work = mkdtempSync(join(tmpdir(), 'cs-dash-browser-'));
    const env = cleanEnv(tmux.env);
    const result = await run(['demo', '--keep', '--json', '--no-serve', '--dir', join(work, 'demo')], work, env);
    if (result.code !== 0) throw new Error(`demo failed (${result.code}): ${result.stderr}`);
    demo = JSON.parse(result.stdout) as DemoResult;
    server = await serve(demo.repo, env);
    // A fresh profile (launch() makes a new temporary user-data-dir each time).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (server?.child.exitCode === null) {
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      await exited;
    }
    tmux?.kill();
    if (work) rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('shows the demo’s sessions, threads and queue, live', async () => {
    await page.goto(server.url);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    for (const session of demo.sessions) {
      const row = page.locator('#sessions tr', { hasText: `#${session.id}` });
      await expect(row.textContent()).resolves.toContain(session.user_request);
    }
    expect(demo.threads).toHaveLength(3);
    for (const thread of demo.threads) {
      const card = page.locator(`#threads article[data-key="${thread.id}"]`);
      await card.waitFor();
      expect(await card.innerText()).toContain(thread.name);
      expect(await card.locator('.pill').first().innerText()).toBe(thread.status.replaceAll('_', ' '));
    }
    for (const item of demo.queue) {
      const body = page.locator(`#queue tbody[data-key="${item.id}"]`);
      expect(await body.locator('.pill').first().innerText()).toBe(item.state.replaceAll('_', ' '));
      for (const file of item.conflict_files) expect(await body.innerText()).toContain(file);
    }
    expect(demo.queue.map((item) => item.state)).toContain('conflict');
    await expect(page.locator('#tasks').innerText()).resolves.toMatch(/\d+\/\d+/);
    // The conflict matrix is computed in the background and arrives by itself.
    await page.locator('#conflicts table.matrix').waitFor({ timeout: 15_000 });
  });

  it('shows a change made by another process without a reload', async () => {
    // Evaluated in the page (strings: this file is type-checked without the DOM library).
    await page.evaluate('window.dashboardMarker = 42');
    const path = 'docs/dashboard-check.md';
    await expect(page.locator('#locks').innerText()).resolves.not.toContain(path);
    const acquired = await cliAsync(
      demo.repo,
      ['call', 'lock.acquire', JSON.stringify({ scope_type: 'file', scope_path: path, session_id: demo.sessions[0]!.id })],
      tmux.env,
    );
    expect(acquired.code).toBe(0);
    await page.locator('#locks tr', { hasText: path }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#locks tr', { hasText: path }).innerText()).toMatch(
      new RegExp(`session:${demo.sessions[0]!.id}[\\s\\S]*in \\d+m`),
    );
    expect(await page.evaluate('window.dashboardMarker')).toBe(42);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  });

  it('runs an action through the page (with the token header and its own origin)', async () => {
    await page.locator('#process-queue').click();
    await page.locator('.toast', { hasText: 'Nothing was ready to land' }).waitFor({ timeout: 15_000 });
    // No CSP violation, failed request or script error on the way.
    expect(pageErrors).toEqual([]);
  });

  it('is readable on a phone', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true });
    await phone.goto(server.url);
    await phone.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    await phone.locator('#threads article').first().waitFor();
    // Nothing but the tables' own scrollers may be wider than the screen.
    const overflow = await phone.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await phone.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    await phone.close();
  });

  it('is refused without the token', async () => {
    const bare = await browser.newPage();
    const response = await bare.goto(`http://127.0.0.1:${server.port}/`);
    expect(response?.status()).toBe(401);
    expect(await bare.locator('body').innerText()).toContain('UNAUTHORIZED');
    expect(await bare.locator('#threads').count()).toBe(0);
    await bare.close();
  });
});
