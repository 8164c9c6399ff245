import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLaunch } from '../src/runners/build.js';
import { type Harness, PROMPT, SERVER, createHarness } from './fixtures/runners/harness.js';
import { ROOT } from './helpers/cli.js';

let h: Harness;
beforeAll(() => {
  h = createHarness();
});
afterAll(() => h.cleanup());

describe('gemini, command and script runners', () => {
  it('gemini: its own GEMINI_CLI_HOME with the user settings plus our trusted server, credentials linked, worktree trusted', async () => {
    const spec = buildLaunch(h.input('gemini', 8, { model: 'gemini-2.5-pro' }));
    expect(spec.argv).toEqual(['gemini', '--model=gemini-2.5-pro', `--prompt-interactive=${PROMPT}`]);
    const run = await h.launch(spec);
    const geminiHome = join(h.root, 'threads', '8', 'gemini-home');
    expect(run.record.env).toMatchObject({
      ...h.identity(8),
      HOME: h.home,
      GEMINI_CLI_HOME: geminiHome,
      GEMINI_CLI_TRUST_WORKSPACE: 'true',
    });
    expect(run.record.files.settings).toEqual({
      security: { auth: { selectedType: 'oauth-personal' } },
      mcpServers: {
        docs: { command: 'docs-mcp' },
        codestrator: { command: process.execPath, args: SERVER.slice(1), env: h.identity(8), trust: true },
      },
      mcp: { excluded: ['other'] },
    });
    expect(run.record.files.oauth).toEqual({
      target: join(h.home, '.gemini', 'oauth_creds.json'),
      content: '{"refresh_token":"gemini-user-token"}\n',
    });
    h.expectNoShell(spec.cwd);
  });

  it('command: the given argv as is, identity and server command in the environment', async () => {
    const program = join(h.root, 'print-args.cjs');
    writeFileSync(program, 'process.stdout.write(JSON.stringify([process.argv.slice(2), process.env]));\n');
    const argv = [process.execPath, program, PROMPT];
    const spec = buildLaunch(h.input('command', 9, { command: argv }));
    expect(spec.argv).toEqual(argv);
    expect(spec.files).toEqual([]);
    const run = await h.launch(spec);
    const [args, env] = JSON.parse(run.stdout);
    expect(args).toEqual([PROMPT]);
    expect(env).toMatchObject({ ...h.identity(9), CODESTRATOR_SERVER_COMMAND: JSON.stringify(SERVER) });
    expect(() => buildLaunch(h.input('command', 9))).toThrow(/needs `command`/);
  });

  it('script: the built scripted agent on the script, with its server command', () => {
    const spec = buildLaunch(h.input('script', 10, { scriptPath: join(h.root, 'script.json') }));
    expect(spec.argv).toEqual([process.execPath, join(ROOT, 'dist', 'runners', 'script-agent.js'), join(h.root, 'script.json')]);
    expect(spec.env).toEqual({ ...h.identity(10), CODESTRATOR_SERVER_COMMAND: JSON.stringify(SERVER) });
    expect(spec.cwd).toBe(join(h.root, 'worktree-10'));
    expect(() => buildLaunch(h.input('script', 10))).toThrow(/needs `scriptPath`/);
  });

  it('passes an absolute CODESTRATOR_STATE_DIR on to the child and its server entry', () => {
    const stateDir = join(h.root, 'state');
    const spec = buildLaunch({ ...h.input('claude', 11), baseEnv: { ...h.baseEnv, CODESTRATOR_STATE_DIR: stateDir } });
    expect(spec.env.CODESTRATOR_STATE_DIR).toBe(stateDir);
    expect(JSON.parse(spec.files[0]!.content).mcpServers.codestrator.env.CODESTRATOR_STATE_DIR).toBe(stateDir);
  });
});
