import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, cli } from './helpers/cli.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('documents every CLI command in its reference', () => {
    const help = cli(ROOT, ['--help']).stdout;
    const commands = [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!);
    expect(commands.length).toBeGreaterThan(10);
    const reference = readme.slice(readme.indexOf('## CLI reference'));
    const missing = commands.filter((name) => name !== 'help' && !reference.includes(`\`codestrator ${name}`));
    expect(missing).toEqual([]);
  });

  it('starts with the two-command quick start: install + demo, then the tests', () => {
    const block = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const lines = block.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^npm ci && npx codestrator demo\b/);
    expect(lines[1]).toMatch(/^npm test\b/);
    // .ci/run runs the same test command after a clean install.
    expect(readFileSync(join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^npm ci\nnpm test\n/m);
  });
});
