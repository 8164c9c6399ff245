import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { codexBlock } from '../src/install/codex-block.js';
import { scanToml } from '../src/install/toml-scan.js';
import { cleanEnv, cli, ROOT } from './helpers/cli.js';
import { makeRepo, type TempRepo } from './helpers/repo.js';

/**
 * `codestrator install | uninstall codex | claude | gemini` against real files: temp repositories,
 * a temp HOME and CODEX_HOME (never the real ones), the real Codex CLI reading what was written,
 * and the configured command started as an MCP server.
 */

const CODEX = join(ROOT, 'node_modules', '.bin', 'codex');
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
const SKILLS = join(ROOT, 'skills');
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

function tempDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cs-install-')));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function repo(): TempRepo {
  const made = makeRepo();
  cleanups.push(made.cleanup);
  return made;
}

/** HOME and CODEX_HOME in a temp dir; CODEX_HOME's config trusts the given projects. */
function homes(trusted: string[] = []): { HOME: string; CODEX_HOME: string } {
  const HOME = tempDir();
  const CODEX_HOME = join(HOME, 'codex-home');
  mkdirSync(CODEX_HOME);
  writeFileSync(
    join(CODEX_HOME, 'config.toml'),
    trusted.map((path) => `[projects.${JSON.stringify(path)}]\ntrust_level = "trusted"\n`).join('\n'),
  );
  return { HOME, CODEX_HOME };
}

/** Every file (bytes) and directory under root, .git excluded: equal snapshots mean byte-identical trees. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.name === '.git') continue;
      if (entry.isDirectory()) {
        out[`${relative(root, path)}/`] = 'dir';
        walk(path);
      } else out[relative(root, path)] = readFileSync(path).toString('base64');
    }
  };
  walk(root);
  return out;
}

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const read = (path: string) => readFileSync(path, 'utf8');

/** The real Codex CLI's view of the MCP servers configured for cwd. */
function codexServers(
  cwd: string,
  env: Record<string, string>,
): { name: string; transport: Record<string, unknown>; [key: string]: unknown }[] {
  return JSON.parse(
    execFileSync(CODEX, ['mcp', 'list', '--json'], { cwd, env: cleanEnv(env), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

/** Every file of the package's skills, as `<skill>/<path>` → content. */
function packageSkillFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out[relative(SKILLS, path)] = read(path);
    }
  };
  walk(SKILLS);
  return out;
}

function expectSkills(skillsDir: string): void {
  const files = packageSkillFiles();
  expect(Object.keys(files)).toEqual(
    expect.arrayContaining(['codestrator/SKILL.md', 'codestrator-worker/SKILL.md', 'codestrator-reviewer/SKILL.md']),
  );
  for (const [path, text] of Object.entries(files)) expect(read(join(skillsDir, path)), path).toBe(text);
}

/** Starts command + args as an MCP client would and returns the server's initialize answer. */
async function initialize(command: string, args: string[], cwd: string, env: Record<string, string>) {
  const transport = new StdioClientTransport({ command, args, cwd, env: cleanEnv(env) as Record<string, string>, stderr: 'pipe' });
  const client = new Client({ name: 'install-test', version: '1.0.0' });
  await client.connect(transport);
  const version = client.getServerVersion();
  await client.close();
  return version;
}

describe('codestrator install codex', () => {
  it('writes a managed block the real Codex CLI reads; twice changes nothing; uninstall restores every byte', async () => {
    const { path } = repo();
    const env = homes([path]);
    const config = '# team settings\nmodel = "o3"\n\n[mcp_servers.other]\ncommand = "echo"\nargs = ["hi"]\n';
    write(path, { '.codex/config.toml': config, '.mcp.json': '{\n  "mcpServers": {\n    "other": { "command": "x" }\n  }\n}\n' });
    const before = snapshot(path);

    const first = cli(path, ['install', 'codex'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('updated .codex/config.toml');
    expect(first.stdout).not.toContain('Trust this project'); // CODEX_HOME already trusts it
    const text = read(join(path, '.codex', 'config.toml'));
    expect(text.startsWith(`${config}\n# >>> codestrator`)).toBe(true);
    expect(read(join(path, '.mcp.json'))).toBe(Buffer.from(before['.mcp.json']!, 'base64').toString());
    expectSkills(join(path, '.agents', 'skills'));

    const servers = codexServers(path, env);
    expect(servers.map((server) => server.name).sort()).toEqual(['codestrator', 'other']);
    const ours = servers.find((server) => server.name === 'codestrator')!;
    expect(ours.transport).toMatchObject({ type: 'stdio', command: process.execPath, args: [MAIN, 'mcp'] });
    expect(ours.transport.env_vars).toEqual(expect.arrayContaining(['CODESTRATOR_SESSION_ID', 'CODESTRATOR_THREAD_ID']));
    expect(ours).toMatchObject({ enabled: true, startup_timeout_sec: 20, tool_timeout_sec: 960 });
    const server = await initialize(ours.transport.command as string, ours.transport.args as string[], path, env);
    expect(server?.name).toBe('codestrator');

    const installed = snapshot(path);
    const second = cli(path, ['install', 'codex'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('already up to date');
    expect(snapshot(path)).toEqual(installed);

    const dry = cli(path, ['uninstall', 'codex', '--dry-run'], env);
    expect(dry.stdout).toContain('-[mcp_servers.codestrator]');
    expect(dry.stdout).toMatch(/- removed codestrator\/SKILL\.md/);
    expect(snapshot(path)).toEqual(installed);
    const removed = cli(path, ['uninstall', 'codex'], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(snapshot(path)).toEqual(before);
  });

  it('--dry-run prints the diff and the skill files and writes nothing; untrusted projects get the trust hint', () => {
    const { path } = repo();
    const env = homes();
    const before = snapshot(path);
    const dry = cli(path, ['install', 'codex', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('--- /dev/null\n+++ b/.codex/config.toml\n@@ -0,0 +1,9 @@\n+# >>> codestrator');
    expect(dry.stdout).toContain('+[mcp_servers.codestrator]');
    expect(dry.stdout).toContain(`+args = [${JSON.stringify(MAIN)}, "mcp"]`);
    expect(dry.stdout).toMatch(/\+ new\s+codestrator\/SKILL\.md/);
    expect(dry.stdout).toContain('install record: .codestrator/install-codex.json (new)');
    expect(snapshot(path)).toEqual(before);

    const real = cli(path, ['install', 'codex'], env);
    expect(codexServers(path, env).map((server) => server.name)).toEqual([]); // untrusted: Codex ignores the project config
    // The printed hint, pasted into CODEX_HOME's config, is valid TOML that makes Codex trust the project.
    const config = join(env.CODEX_HOME, 'config.toml');
    const hint = real.stdout.split(`add these two lines to ${config}:\n`)[1]!.split('\n').slice(0, 2);
    expect(hint.map((line) => line.trim())).toEqual([`[projects.${JSON.stringify(path)}]`, 'trust_level = "trusted"']);
    writeFileSync(config, `${hint.map((line) => line.trim()).join('\n')}\n`);
    expect(codexServers(path, env).map((server) => server.name)).toEqual(['codestrator']);
    expect(cli(path, ['install', 'codex'], env).stdout).not.toContain('Trust this project');
  });

  it("survives Codex rewriting its config (`codex mcp add`): reinstall keeps Codex's server, uninstall removes only ours", () => {
    const env = homes(['/somewhere/else']);
    const cwd = tempDir();
    const config = join(env.CODEX_HOME, 'config.toml');
    const original = read(config);
    expect(cli(cwd, ['install', 'codex', '--global'], env).code).toBe(0);
    execFileSync(CODEX, ['mcp', 'add', 'foo', '--', 'echo', 'hi'], { cwd, env: cleanEnv(env), stdio: 'ignore' });
    const rewritten = read(config);
    expect(rewritten).not.toContain('# >>> codestrator'); // what Codex 0.169 does: drops the start marker,
    expect(rewritten).toContain('tool_timeout_sec = 960.0'); // rewrites numbers, and puts foo before the end marker
    expect(rewritten.indexOf('[mcp_servers.foo]')).toBeLessThan(rewritten.indexOf('# <<< codestrator <<<'));

    const again = cli(cwd, ['install', 'codex', '--global'], env);
    expect(again.code, again.stderr).toBe(0);
    const reinstalled = read(config);
    expect(reinstalled).toContain(`${codexBlock({ command: process.execPath, args: [MAIN, 'mcp'] }, '\n')}\n[mcp_servers.foo]\n`);
    expect(codexServers(cwd, env).map((server) => server.name)).toEqual(['codestrator', 'foo']);
    expect(cli(cwd, ['install', 'codex', '--global'], env).stdout).toContain('already up to date');
    expect(read(config)).toBe(reinstalled);

    const removed = cli(cwd, ['uninstall', 'codex', '--global'], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(codexServers(cwd, env).map((server) => server.name)).toEqual(['foo']);
    expect(read(config)).toBe(`${original}\n[mcp_servers.foo]\ncommand = "echo"\nargs = ["hi"]\n`);
  });
});

describe('codestrator install claude | gemini', () => {
  it('claude: merges .mcp.json keeping other servers, order, indentation and mode; the entry starts the server', async () => {
    const { path } = repo();
    const env = homes();
    const original =
      '{\n    "mcpServers": {\n        "first": {"command": "a"},\n        "second": {"command": "b"}\n    },\n    "other": true\n}\n';
    write(path, { '.mcp.json': original });
    chmodSync(join(path, '.mcp.json'), 0o600);
    const before = snapshot(path);

    const result = cli(path, ['install', 'claude'], env);
    expect(result.code, result.stderr).toBe(0);
    const entry = `,\n        "codestrator": {\n            "type": "stdio",\n            "command": ${JSON.stringify(process.execPath)},\n            "args": [\n                ${JSON.stringify(MAIN)},\n                "mcp"\n            ]\n        }`;
    const at = original.indexOf('"b"}') + 4;
    expect(read(join(path, '.mcp.json'))).toBe(original.slice(0, at) + entry + original.slice(at));
    expect(statSync(join(path, '.mcp.json')).mode & 0o777).toBe(0o600);
    expectSkills(join(path, '.claude', 'skills'));
    const server = JSON.parse(read(join(path, '.mcp.json'))).mcpServers.codestrator;
    expect((await initialize(server.command, server.args, path, env))?.name).toBe('codestrator');

    const installed = snapshot(path);
    expect(cli(path, ['install', 'claude'], env).stdout).toContain('already up to date');
    expect(snapshot(path)).toEqual(installed);
    expect(cli(path, ['uninstall', 'claude'], env).code).toBe(0);
    expect(snapshot(path)).toEqual(before);
  });

  it('gemini: edits settings.json with comments in place; uninstall restores it', () => {
    const { path } = repo();
    const env = homes();
    const original = '{\n\t// the user\'s theme\n\t"theme": "dark" /* keep */\n}';
    write(path, { '.gemini/settings.json': original });
    const before = snapshot(path);

    expect(cli(path, ['install', 'gemini'], env).code).toBe(0);
    const text = read(join(path, '.gemini', 'settings.json'));
    expect(text).toContain('\t// the user\'s theme\n\t"theme": "dark",\n\t"mcpServers": {\n\t\t"codestrator": {');
    expect(text).toContain(' /* keep */\n}');
    const settings = JSON.parse(text.replace(/\/\/.*|\/\*.*?\*\//g, ''));
    expect(settings.mcpServers.codestrator).toEqual({ command: process.execPath, args: [MAIN, 'mcp'], timeout: 960_000, trust: true });
    expectSkills(join(path, '.gemini', 'skills'));

    const installed = snapshot(path);
    expect(cli(path, ['install', 'gemini'], env).stdout).toContain('already up to date');
    expect(snapshot(path)).toEqual(installed);
    expect(cli(path, ['uninstall', 'gemini'], env).code).toBe(0);
    expect(snapshot(path)).toEqual(before);
  });

  it('configs with no members (blank, `{ }`, comments only) come back byte for byte', () => {
    const { path } = repo();
    const env = homes();
    const shapes = [
      ['claude', '.mcp.json', ['{ }', '', '{\n  "mcpServers": {}\n}\n']],
      ['gemini', '.gemini/settings.json', ['{\n  // "theme": "Default"\n}\n', '\n', '{\n  "mcpServers": {\n // old\n }\n}']],
    ] as const;
    for (const [target, file, texts] of shapes) {
      for (const text of texts) {
        write(path, { [file]: text });
        const before = snapshot(path);
        expect(cli(path, ['install', target], env).code).toBe(0);
        const installed = snapshot(path);
        expect(cli(path, ['install', target], env).stdout).toContain('already up to date');
        expect(snapshot(path)).toEqual(installed);
        expect(cli(path, ['uninstall', target], env).code).toBe(0);
        expect(snapshot(path), `${target} ${JSON.stringify(text)}`).toEqual(before);
      }
    }
  });

  it('all three into a bare repository, uninstalled in another order, leave nothing behind', () => {
    const { path } = repo();
    const env = homes();
    const before = snapshot(path);
    for (const target of ['codex', 'claude', 'gemini']) expect(cli(path, ['install', target], env).code).toBe(0);
    expect(existsSync(join(path, '.mcp.json'))).toBe(true);
    expect(read(join(path, '.codex', 'config.toml')).startsWith('# >>> codestrator')).toBe(true);
    for (const target of ['claude', 'codex', 'gemini']) expect(cli(path, ['uninstall', target], env).code).toBe(0);
    expect(snapshot(path)).toEqual(before);
    expect(cli(path, ['uninstall', 'codex'], env).stdout).toContain('nothing to uninstall');
  });

  it('reinstall restores an edited skill file; uninstall removes only what it installed', () => {
    const { path } = repo();
    const env = homes();
    cli(path, ['install', 'claude'], env);
    const skill = join(path, '.claude', 'skills', 'codestrator', 'SKILL.md');
    writeFileSync(skill, 'edited\n');
    writeFileSync(join(path, '.claude', 'skills', 'codestrator', 'notes.md'), 'mine\n');
    expect(cli(path, ['install', 'claude'], env).stdout).toContain('(1 files written)');
    expect(read(skill)).toBe(read(join(SKILLS, 'codestrator', 'SKILL.md')));
    expect(cli(path, ['uninstall', 'claude'], env).code).toBe(0);
    expect(Object.keys(snapshot(path)).sort()).toEqual([
      '.claude/',
      '.claude/skills/',
      '.claude/skills/codestrator/',
      '.claude/skills/codestrator/notes.md',
      'README.md',
    ]);
  });
});

describe('codestrator install --global', () => {
  it("writes the user's configs under a temp HOME / CODEX_HOME and uninstall restores them", async () => {
    const env = homes(['/somewhere/else']);
    const cwd = tempDir(); // not a git repository: --global needs none
    const claudeJson = '{\n  "numStartups": 3,\n  "projects": {\n    "/x": {\n      "mcpServers": {}\n    }\n  }\n}';
    write(env.HOME, { '.claude.json': claudeJson });
    const before = snapshot(env.HOME);

    for (const target of ['codex', 'claude', 'gemini']) {
      const result = cli(cwd, ['install', target, '--global'], env);
      expect(result.code, result.stderr).toBe(0);
    }
    const ours = codexServers(cwd, env).find((server) => server.name === 'codestrator');
    expect(ours?.transport).toMatchObject({ command: process.execPath, args: [MAIN, 'mcp'] });
    expect(
      read(join(env.CODEX_HOME, 'config.toml')).startsWith('[projects."/somewhere/else"]\ntrust_level = "trusted"\n\n# >>> codestrator'),
    ).toBe(true);
    const claude = JSON.parse(read(join(env.HOME, '.claude.json')));
    expect(claude).toMatchObject({ numStartups: 3, projects: { '/x': { mcpServers: {} } } });
    expect(claude.mcpServers.codestrator).toEqual({ type: 'stdio', command: process.execPath, args: [MAIN, 'mcp'] });
    expect(JSON.parse(read(join(env.HOME, '.gemini', 'settings.json'))).mcpServers.codestrator.command).toBe(process.execPath);
    for (const dir of ['.agents', '.claude', '.gemini']) expectSkills(join(env.HOME, dir, 'skills'));
    expect((await initialize(claude.mcpServers.codestrator.command, claude.mcpServers.codestrator.args, repo().path, env))?.name).toBe(
      'codestrator',
    );

    const installed = snapshot(env.HOME);
    for (const target of ['codex', 'claude', 'gemini'])
      expect(cli(cwd, ['install', target, '--global'], env).stdout).toContain('already up to date');
    expect(snapshot(env.HOME)).toEqual(installed);
    for (const target of ['gemini', 'codex', 'claude']) expect(cli(cwd, ['uninstall', target, '--global'], env).code).toBe(0);
    expect(snapshot(env.HOME)).toEqual(before);
  });
});

describe('the install record names the config, whatever the environment says later', () => {
  const moved = (env: { HOME: string }) => ({
    ...env,
    CODEX_HOME: join(env.HOME, 'other-codex'),
    GEMINI_CLI_HOME: join(env.HOME, 'other-gemini'),
  });

  it('uninstall with another CODEX_HOME / GEMINI_CLI_HOME removes the entry from the recorded file', () => {
    const env = homes();
    const dir = tempDir();
    write(env.HOME, {
      'other-codex/config.toml': 'model = "o3"\n',
      'other-gemini/.gemini/settings.json': '{}\n',
      '.gemini/settings.json': '{"a": 1}',
    });
    const before = snapshot(env.HOME);
    for (const target of ['codex', 'gemini']) expect(cli(dir, ['install', target, '--global'], env).code).toBe(0);
    const again = cli(dir, ['install', 'codex', '--global'], moved(env));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      "records codestrator's entry in ~/codex-home/config.toml, but this environment's config is ~/other-codex/config.toml",
    );
    for (const target of ['codex', 'gemini']) {
      const result = cli(dir, ['uninstall', target, '--global'], moved(env));
      expect(result.code, result.stderr).toBe(0);
    }
    expect(snapshot(env.HOME)).toEqual(before);
  });

  it('uninstall refuses and keeps the record when the recorded config is gone and the environment names another', () => {
    const env = homes();
    const dir = tempDir();
    expect(cli(dir, ['install', 'codex', '--global'], env).code).toBe(0);
    rmSync(join(env.CODEX_HOME, 'config.toml'));
    const installed = snapshot(env.HOME);
    const refused = cli(dir, ['uninstall', 'codex', '--global'], moved(env));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('~/codex-home/config.toml, which is gone');
    expect(refused.stderr).toContain('~/other-codex/config.toml');
    expect(snapshot(env.HOME)).toEqual(installed);
    expect(cli(dir, ['uninstall', 'codex', '--global'], env).code).toBe(0); // the same environment: nothing left in it
    expect(existsSync(join(env.HOME, '.codestrator'))).toBe(false);
  });

  it('uninstall leaves a table that no longer runs codestrator, and keeps the record until it is gone', () => {
    const env = homes();
    const dir = tempDir();
    const config = join(env.CODEX_HOME, 'config.toml');
    expect(cli(dir, ['install', 'codex', '--global'], env).code).toBe(0);
    const edited = read(config)
      .replace(/^# >>> .*\n/, '')
      .replace(`"${MAIN}", "mcp"`, '"mine.js"');
    writeFileSync(config, edited);
    const left = cli(dir, ['uninstall', 'codex', '--global'], env);
    expect(left.code, left.stderr).toBe(0);
    expect(left.stdout).toContain('left the codestrator entry in ~/codex-home/config.toml');
    expect(read(config)).toBe(edited);
    expect(existsSync(join(env.HOME, '.codestrator', 'install-codex-global.json'))).toBe(true);
    writeFileSync(config, '');
    expect(cli(dir, ['uninstall', 'codex', '--global'], env).code).toBe(0);
    expect(existsSync(join(env.HOME, '.codestrator'))).toBe(false);
  });
});

describe('codestrator install refuses clearly and writes nothing', () => {
  it('an unknown target exits 2 with the list of targets', () => {
    const result = cli(repo().path, ['install', 'vim'], homes());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown target "vim"; targets: codex, claude, gemini');
  });

  it('outside a git repository (without --global)', () => {
    const result = cli(tempDir(), ['install', 'codex'], homes());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('not inside a git work tree');
    expect(result.stderr).toContain('--global');
  });

  const cases: [string, string, Record<string, string>, RegExp][] = [
    [
      'malformed TOML',
      'codex',
      { '.codex/config.toml': 'model = "o3"\nbroken = "unterminated\n' },
      /\.codex\/config\.toml is not valid TOML: line 2, column 10: unterminated string/,
    ],
    [
      'a codestrator table outside the block',
      'codex',
      { '.codex/config.toml': '[mcp_servers.codestrator]\ncommand = "node"\n' },
      /line 1: mcp_servers\.codestrator is defined outside codestrator's managed block/,
    ],
    [
      'a key written after the block (it would land in the table)',
      'codex',
      { '.codex/config.toml': `${codexBlock({ command: process.execPath, args: [MAIN, 'mcp'] }, '\n')}model = "o3"\n` },
      /line 10: mcp_servers\.codestrator\.model is written after codestrator's managed block/,
    ],
    [
      'malformed JSON',
      'claude',
      { '.mcp.json': '{\n  "mcpServers": {\n    "a": 1,\n  }\n}\n' },
      /\.mcp\.json is not valid JSON: line 4, column 3/,
    ],
    [
      'a hand-written codestrator entry',
      'claude',
      { '.mcp.json': '{"mcpServers": {"codestrator": {"command": "node", "args": ["x.js", "mcp"]}}}' },
      /did not write/,
    ],
    [
      'a skill directory it did not install',
      'gemini',
      { '.gemini/skills/codestrator/SKILL.md': 'mine\n' },
      /\.gemini\/skills\/codestrator\/ exists and was not installed by codestrator install/,
    ],
  ];
  for (const [name, target, files, message] of cases) {
    it(name, () => {
      const { path } = repo();
      write(path, files);
      const before = snapshot(path);
      const result = cli(path, ['install', target], homes());
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(snapshot(path)).toEqual(before);
    });
  }
});

describe('the TOML it writes', () => {
  it('TOML strings with spaces, quotes, backslashes and non-ASCII reach Codex intact', () => {
    const { path } = repo();
    const env = homes([path]);
    const command = '/opt/my node/"quoted"\\back\\slash/ñ/节点\u007f';
    const args = ['/a b/ü.js', 'it\'s "mcp"'];
    write(path, { '.codex/config.toml': codexBlock({ command, args }, '\n') });
    expect(
      scanToml(codexBlock({ command, args }, '\n')).find((entry) => entry.path.join('.') === 'mcp_servers.codestrator.command')?.string,
    ).toBe(command);
    const ours = codexServers(path, env).find((server) => server.name === 'codestrator');
    expect(ours?.transport).toMatchObject({ command, args });
  });
});
