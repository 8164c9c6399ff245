import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Layer boundaries (see docs/ARCHITECTURE.md): interfaces → registry → core → adapters. */
const adapterImports = ['**/store/**', '**/git/**', '**/gate/**', '**/tmux/**', '**/runners/**'];
const interfaceImports = ['**/mcp/**', '**/cli/**', '**/http/**', '**/install/**', '**/demo/**', '**/app/**'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-artifacts/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['better-sqlite3', 'node:child_process', 'child_process', 'zod', '@modelcontextprotocol/sdk'].map((name) => ({
            name,
            message: 'core/ is the domain: it uses ports, not adapters or interfaces.',
          })),
          patterns: [
            {
              group: [...adapterImports, ...interfaceImports, '**/registry/**', '**/methods/**'],
              message: 'core/ must not import outer layers.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/store/**/*.ts', 'src/git/**/*.ts', 'src/gate/**/*.ts', 'src/tmux/**/*.ts', 'src/runners/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // The one exception: the domain's error type, so an adapter's failure carries its code.
              group: ['**/core/**', '!**/core/errors.js', '**/registry/**', '**/methods/**', ...interfaceImports],
              message: 'Adapters do not import the domain or interfaces (core/errors.js aside).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/registry/**/*.ts', 'src/methods/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: [...adapterImports, ...interfaceImports], message: 'The registry sees the domain only; app/ wires adapters.' },
          ],
        },
      ],
    },
  },
);
