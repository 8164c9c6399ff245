import { describe, expect, it } from 'vitest';
import { codexBlock, installCodexBlock, removeCodexBlock } from '../src/install/codex-block.js';
import { installJsonServer, uninstallJsonServer } from '../src/install/json-config.js';

/**
 * The installer's config edits on their own (no files): every shape goes in and out byte for byte,
 * and a Codex config is read by its TOML structure. test/install.test.ts runs the real CLI and Codex.
 */

/** Config files with no members: each must come back byte for byte after install + uninstall. */
const JSON_SHAPES = ['{}', '{}\n', '{ }', '', '\n', '{\n  "mcpServers": {}\n}\n', '{\r\n  "mcpServers": {\r\n    "a": {}\r\n  }\r\n}\r\n'];
/** The same with comments (Gemini's settings.json allows them). */
const JSONC_SHAPES = ['{\n  // "theme": "Default"\n}\n', '{\n  "mcpServers": {\n // old\n }\n}', '{ /* c */ }', '{\n\t"a": 1 // one\n}'];

describe('the edits themselves', () => {
  it('the Codex block goes in and out of any file shape byte for byte', () => {
    const server = { command: '/n', args: ['/m.js', 'mcp'] };
    for (const text of ['', 'a = 1', 'a = 1\n', 'a = 1\n\n', 'a = 1\r\nb = 2\r\n', '# only a comment']) {
      const { text: installed, separator } = installCodexBlock(text, server, 'config.toml');
      expect(installCodexBlock(installed, server, 'config.toml').text).toBe(installed);
      expect(removeCodexBlock(installed, separator, 'config.toml').text).toBe(text);
    }
    expect(installCodexBlock('a = 1\r\n', server, 'c').text).toContain('\r\n[mcp_servers.codestrator]\r\n');
  });

  it('a JSON entry goes in and out of any layout byte for byte, comments and blank space inside kept', () => {
    const entry = { command: '/n', args: ['/m.js', 'mcp'] };
    for (const text of [...JSON_SHAPES, ...JSONC_SHAPES, '{"mcpServers":{"a":{"command":"x"}}}', '{ "b" : 1 }', '{\n}', '\r\n']) {
      const ctx = { file: 'f', comments: true, owned: false, createdKeys: [] };
      const installed = installJsonServer(text, entry, ctx);
      expect(JSON.parse(installed.text.replace(/\/\/.*|\/\*.*?\*\//g, '')).mcpServers.codestrator, JSON.stringify(text)).toEqual(entry);
      const recorded = { ...ctx, owned: true, createdKeys: installed.createdKeys, inserted: installed.inserted };
      const again = installJsonServer(installed.text, entry, recorded);
      expect(again.text).toBe(installed.text);
      expect(again.inserted).toEqual(installed.inserted);
      expect(uninstallJsonServer(installed.text, recorded).text, JSON.stringify(text)).toBe(text);
    }
    // The comment stays where it was; the member goes on its own line before the closing brace.
    const installed = installJsonServer('{\n  "mcpServers": {\n    // old\n  }\n}\n', entry, {
      file: 'f',
      comments: true,
      owned: false,
      createdKeys: [],
    });
    expect(installed.text).toMatch(/^\{\n {2}"mcpServers": \{\n {4}\/\/ old\n {4}"codestrator": \{\n/);
    // Without a record (an older install) the member still goes, leaving the comment.
    const ctx = { file: 'f', comments: true, owned: true, createdKeys: installed.createdKeys };
    expect(uninstallJsonServer(installed.text, ctx).text).toBe('{\n  "mcpServers": {\n    // old\n  }\n}\n');
  });

  it("Codex's rewrite of the block is found by its table; a table that is not codestrator's is left or refused", () => {
    const server = { command: '/usr/bin/node', args: ['/p/dist/cli/main.js', 'mcp'] };
    const block = codexBlock(server, '\n');
    // What `codex mcp add foo` made of `a = 1\n` + the block: no start marker, floats, foo inside the markers.
    const rewritten =
      'a = 1\n\n[mcp_servers.codestrator]\ncommand = "/usr/bin/node"\nargs = ["/p/dist/cli/main.js", "mcp"]\nstartup_timeout_sec = 20.0\n\n[mcp_servers.foo]\ncommand = "echo"\n# <<< codestrator <<<\n';
    const foo = '\n[mcp_servers.foo]\ncommand = "echo"\n';
    expect(installCodexBlock(rewritten, server, 'c').text).toBe(`a = 1\n\n${block}${foo}`);
    expect(removeCodexBlock(rewritten, '\n', 'c')).toEqual({ text: `a = 1\n${foo}`, foreign: false });
    // Sub-tables go with the table; a key after the end marker would land in it, so install refuses.
    const withEnv = `${block.replace('# <<< codestrator <<<\n', '[mcp_servers.codestrator.env]\nX = "1"\n# <<< codestrator <<<\n')}b = 2\n`;
    expect(installCodexBlock(`x = 0\n${withEnv.replace('b = 2\n', '')}`, server, 'c').text).toBe(`x = 0\n${block}`);
    expect(() => installCodexBlock(withEnv, server, 'c')).toThrow(/line 12: mcp_servers\.codestrator\.env\.b is written after/);
    const theirs = '[mcp_servers.codestrator]\ncommand = "node"\nargs = ["their.js"]\n';
    expect(removeCodexBlock(theirs, null, 'c')).toEqual({ text: theirs, foreign: true });
    expect(() => installCodexBlock(theirs, server, 'c')).toThrow(/line 1: mcp_servers\.codestrator is defined outside/);
    expect(() => installCodexBlock('[mcp_servers]\ncodestrator.command = "x"\n', server, 'c')).toThrow(/codestrator\.command is defined/);
    // A marker line inside a multi-line string is text, not ours.
    const quoted = 'x = """\n# <<< codestrator <<<\n"""\n';
    const { text: installed, separator } = installCodexBlock(quoted, server, 'c');
    expect(removeCodexBlock(installed, separator, 'c').text).toBe(quoted);
  });
});
