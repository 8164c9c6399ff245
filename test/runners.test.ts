import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLaunch } from '../src/runners/build.js';
import { FIXTURES, type Harness, PROMPT, SERVER, TEE, createHarness, isJson } from './fixtures/runners/harness.js';

let h: Harness;
beforeAll(() => {
  h = createHarness();
});
afterAll(() => h.cleanup());

describe('codex runners', () => {
  it('codex: the TUI with the prompt as one argument, its own CODEX_HOME per thread, the user auth linked and config kept', async () => {
    const [one, two] = [buildLaunch(h.input('codex', 1)), buildLaunch(h.input('codex', 2))];
    expect(one.argv).toEqual(['codex', '--', PROMPT]);
    expect(one.exitKeys).toEqual(['/exit']);
    const [a, b] = [await h.launch(one), await h.launch(two)];
    for (const [run, threadId] of [
      [a, 1],
      [b, 2],
    ] as const) {
      expect(run.code).toBe(0);
      expect(run.record.argv).toEqual(['--', PROMPT]);
      expect(run.record.cwd).toBe(join(h.root, `worktree-${threadId}`));
      expect(run.record.pathHead).toBe(h.bin);
      expect(run.record.env).toMatchObject({
        ...h.identity(threadId),
        HOME: h.home,
        CODEX_HOME: join(h.root, 'threads', String(threadId), 'codex-home'),
      });
      expect(run.record.files.auth).toEqual({
        target: join(h.home, '.codex', 'auth.json'),
        content: '{"tokens":{"refresh_token":"user-token"}}\n',
      });
      const config: string = run.record.files.config;
      for (const kept of [
        'model = "gpt-5"',
        'approval_policy = "on-request"',
        '[mcp_servers.docs]\ncommand = "docs-mcp"',
        '[profiles.fast]\nmodel = "gpt-5-mini"',
      ]) {
        expect(config).toContain(kept);
      }
      expect(config).not.toContain('/old/codestrator');
      expect(config).not.toContain('env_vars');
      expect(config.match(/^\[mcp_servers\.codestrator\]$/gm)).toHaveLength(1);
      expect(config).toContain(
        [
          '[mcp_servers.codestrator]',
          `command = ${JSON.stringify(process.execPath)}`,
          `args = [${JSON.stringify(SERVER[1])}, "mcp"]`,
          'required = true',
          'default_tools_approval_mode = "approve"',
          '',
          '[mcp_servers.codestrator.env]',
          'CODESTRATOR_SESSION_ID = "7"',
          `CODESTRATOR_THREAD_ID = "${threadId}"`,
          `CODESTRATOR_REPO = ${JSON.stringify(join(h.root, 'repo'))}`,
        ].join('\n'),
      );
      h.expectNoShell(run.record.cwd);
    }
    expect(a.record.env.CODEX_HOME).not.toBe(b.record.env.CODEX_HOME);
    // A token refresh in a child (Codex rewrites auth.json in place) reaches the user's file, and a restart rebuilds the same home.
    writeFileSync(join(a.record.env.CODEX_HOME, 'auth.json'), '{"tokens":{"refresh_token":"rotated"}}\n');
    expect(readFileSync(join(h.home, '.codex', 'auth.json'), 'utf8')).toBe('{"tokens":{"refresh_token":"rotated"}}\n');
    expect(buildLaunch(h.input('codex', 1)).env.CODEX_HOME).toBe(a.record.env.CODEX_HOME);
    expect(readFileSync(join(h.home, '.codex', 'config.toml'), 'utf8')).toContain('/old/codestrator'); // the user's file is untouched
  });

  it('codex_exec: codex exec --json under tee-events; events kept, one line per event shown, exit code passed on', async () => {
    const spec = buildLaunch(h.input('codex_exec', 3, { model: 'gpt-5-codex' }));
    const threadDir = join(h.root, 'threads', '3');
    expect(spec.eventsPath).toBe(join(threadDir, 'events.jsonl'));
    expect(spec.lastMessagePath).toBe(join(threadDir, 'last-message.txt'));
    const real = ['codex', 'exec', '--json', '--output-last-message', spec.lastMessagePath, '--model=gpt-5-codex', '--', PROMPT];
    expect(spec.argv).toEqual([process.execPath, TEE, spec.eventsPath, '--', ...real]);
    const stream = join(FIXTURES, 'codex-exec-success.jsonl');
    const run = await h.launch(spec, { STAND_IN_STREAM: stream, STAND_IN_EXIT: '0', STAND_IN_READ_STDIN: '1' });
    expect(run.code).toBe(0);
    expect(run.record.argv).toEqual(real.slice(1));
    expect(run.record.stdin).toBe('typed into the pane\n');
    expect(run.record.env).toMatchObject({ ...h.identity(3), CODEX_HOME: join(threadDir, 'codex-home') });
    expect(run.record.files.config).toContain('default_tools_approval_mode = "approve"');
    expect(readFileSync(spec.eventsPath!, 'utf8')).toBe(readFileSync(stream, 'utf8'));
    expect(run.stdout).toContain('> codestrator.orch_task → completed');
    expect(run.stdout).toContain("> $ /bin/bash -lc 'npm test -- parser' → 0");
    expect(run.stdout).toContain('[done] completed (tokens: 48213 in, 40960 cached, 1877 out)');
    expect(run.stdout).not.toContain('{"type"');
    expect(run.stderr).toContain('codex stand-in: done');
    h.expectNoShell(spec.cwd);
  });

  it('tee-events appends, passes a failing exit code through, and reports a signal as 128 + its number', async () => {
    const spec = buildLaunch(h.input('codex_exec', 4));
    writeFileSync(spec.eventsPath!, '{"type":"thread.started","thread_id":"earlier-run"}\n');
    const stream = join(FIXTURES, 'codex-exec-failed.jsonl');
    const failed = await h.launch(spec, { STAND_IN_STREAM: stream, STAND_IN_EXIT: '3' });
    expect(failed.code).toBe(3);
    expect(readFileSync(spec.eventsPath!, 'utf8')).toBe(
      `{"type":"thread.started","thread_id":"earlier-run"}\n${readFileSync(stream, 'utf8')}`,
    );
    expect(failed.stdout).toContain('[failed] unexpected status 401 Unauthorized');

    const missing = await h.launch({ ...spec, argv: [process.execPath, TEE, spec.eventsPath!, '--', 'no-such-runner-here'] });
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('tee-events: could not start no-such-runner-here');

    const record = join(h.root, 'sleep-record.json');
    const whenStarted = (pid: number) => {
      const timer = setInterval(() => {
        if (!existsSync(record) || !isJson(readFileSync(record, 'utf8'))) return;
        clearInterval(timer);
        process.kill(pid, 'SIGTERM'); // to tee-events only: it must pass the signal on
      }, 50);
    };
    const killed = await h.launch(buildLaunch(h.input('codex_exec', 5)), { STAND_IN_SLEEP: '1', STAND_IN_RECORD: record }, whenStarted);
    expect(killed.record.name).toBe('codex');
    expect(killed.signal).toBeNull();
    expect(killed.code).toBe(128 + 15);
  });
});

describe('claude runners', () => {
  it('claude: --mcp-config with our server as the thread, --allowedTools mcp__codestrator, prompt after --', async () => {
    const spec = buildLaunch(h.input('claude', 6));
    const mcpConfig = join(h.root, 'threads', '6', 'claude-mcp.json');
    expect(spec.argv).toEqual(['claude', '--mcp-config', mcpConfig, '--allowedTools', 'mcp__codestrator', '--', PROMPT]);
    expect(spec.exitKeys).toEqual(['/exit']);
    const run = await h.launch(spec);
    expect(run.record.argv).toEqual(spec.argv.slice(1));
    expect(run.record.env).toMatchObject(h.identity(6));
    expect(run.record.files.mcpConfig).toEqual({
      mcpServers: { codestrator: { type: 'stdio', command: process.execPath, args: SERVER.slice(1), env: h.identity(6) } },
    });
    h.expectNoShell(spec.cwd);
  });

  it('claude_exec: claude -p --output-format stream-json --verbose under tee-events', async () => {
    const spec = buildLaunch(h.input('claude_exec', 7));
    const real = [
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--mcp-config',
      join(h.root, 'threads', '7', 'claude-mcp.json'),
    ];
    expect(spec.argv).toEqual([process.execPath, TEE, spec.eventsPath, '--', ...real, '--allowedTools', 'mcp__codestrator', '--', PROMPT]);
    const stream = join(FIXTURES, 'claude-stream-not-logged-in.jsonl');
    const run = await h.launch(spec, { STAND_IN_STREAM: stream, STAND_IN_EXIT: '1' });
    expect(run.code).toBe(1);
    expect(run.record.argv.at(-1)).toBe(PROMPT);
    expect(run.record.files.mcpConfig.mcpServers.codestrator.env).toEqual(h.identity(7));
    expect(readFileSync(spec.eventsPath!, 'utf8')).toBe(readFileSync(stream, 'utf8'));
    expect(run.stdout).toContain('[failed] Not logged in · Please run /login');
  });
});
