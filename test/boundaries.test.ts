import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

const importsOf = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/from '([^']+)'|import\('([^']+)'\)/g)].map((m) => m[1] ?? m[2]!);

/** Dependencies point one way: interfaces → registry → core → (ports implemented by) adapters. */
const FORBIDDEN: Record<string, RegExp> = {
  core: /^(better-sqlite3|node:child_process|zod|@modelcontextprotocol)|\.\.\/(store|git|gate|tmux|runners|mcp|cli|http|install|demo|app|registry|methods)\//,
  store: /\.\.\/(core|registry|methods|mcp|cli|http|install|demo|app)\//,
  git: /\.\.\/(core|registry|methods|mcp|cli|http|install|demo|app)\//,
  gate: /\.\.\/(core|registry|methods|mcp|cli|http|install|demo|app)\//,
  tmux: /\.\.\/(core|registry|methods|mcp|cli|http|install|demo|app)\//,
  runners: /\.\.\/(core|registry|methods|mcp|cli|http|install|demo|app)\//,
  registry: /\.\.\/(store|git|gate|tmux|runners|mcp|cli|http|install|demo|app)\//,
  methods: /\.\.\/(store|git|gate|tmux|runners|mcp|cli|http|install|demo|app)\//,
};

/** Adapters may import the domain's error module alone, so their failures carry a code (BUSY, EXTERNAL, ...). */
const SHARED = new Set(['../core/errors.js']);

describe('layer boundaries', () => {
  it('no module imports against the direction of the layers', () => {
    const violations: string[] = [];
    for (const file of sources(SRC)) {
      const layer = relative(SRC, file).split('/')[0]!;
      const rule = FORBIDDEN[layer];
      if (!rule) continue;
      for (const spec of importsOf(file))
        if (rule.test(spec) && !(layer !== 'core' && SHARED.has(spec))) violations.push(`${relative(SRC, file)} imports ${spec}`);
    }
    expect(violations).toEqual([]);
  });

  it('keeps files small', () => {
    const large = sources(SRC)
      .map((file) => ({ file: relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter((entry) => entry.lines > 500);
    expect(large).toEqual([]);
  });
});
