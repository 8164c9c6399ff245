import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runGit } from '../git/run-git.js';

/**
 * The demo's project, "tiny-shop": a cart total with tax, a shared money module, and a test
 * runner (check.js) that the merge queue runs as its gate on every merged tree.
 */

/** The project's name in its package.json. */
const PROJECT_NAME = 'tiny-shop';

/** The first commit on main; the agents' edits (scripts.ts) start from these contents. */
export const BASE_FILES: Readonly<Record<string, string>> = {
  'README.md': `# tiny-shop

A tiny shop library: cart totals with tax, money formatting. \`node check.js\` runs the tests.
`,
  'package.json': `${JSON.stringify({ name: PROJECT_NAME, private: true, type: 'module', scripts: { test: 'node check.js' } }, null, 2)}\n`,
  'check.js': `// Runs every test/*.test.js; exits 1 if any fails. codestrator's merge queue runs it as the gate.
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const files = readdirSync('test').filter((name) => name.endsWith('.test.js')).sort();
let failed = 0;
for (const file of files) {
  try {
    await import(pathToFileURL(resolve('test', file)).href);
    console.log(\`ok   \${file}\`);
  } catch (err) {
    failed += 1;
    console.log(\`FAIL \${file}: \${err.message}\`);
  }
}
console.log(failed === 0 ? \`all \${files.length} test files pass\` : \`\${failed} of \${files.length} test files fail\`);
process.exitCode = failed === 0 ? 0 : 1;
`,
  'src/config.js': `// Shop settings.
export const SHOP_NAME = 'Tiny Shop';
export const TAX_RATE_PERCENT = 20;
`,
  'src/shared/money.js': `// Amounts are integer cents, so sums never pick up floating-point noise.

/** Formats cents as a decimal amount: 1999 → "19.99". */
export function formatMoney(cents) {
  return (cents / 100).toFixed(2);
}

/** Adds up amounts in cents. */
export function sum(amounts) {
  return amounts.reduce((total, cents) => total + cents, 0);
}
`,
  'src/cart.js': `import { TAX_RATE_PERCENT } from './config.js';
import { sum } from './shared/money.js';

/** The cart's total in cents, tax included. */
export function total(items) {
  const net = sum(items.map((item) => item.cents * item.quantity));
  return net + Math.round((net * TAX_RATE_PERCENT) / 100);
}
`,
  'test/cart.test.js': `import assert from 'node:assert/strict';
import { total } from '../src/cart.js';

assert.equal(total([]), 0);
assert.equal(total([{ cents: 1000, quantity: 2 }]), 2400);
`,
};

/**
 * Makes the repository in an empty directory: branch main, one commit with BASE_FILES. Identity
 * and signing are set in the repository's own config, so every worktree commits the same way
 * whatever the user's global git config says.
 */
export async function createDemoRepo(dir: string): Promise<void> {
  await runGit(dir, ['init', '-q', '-b', 'main']);
  for (const [key, value] of [
    ['user.name', 'codestrator demo'],
    ['user.email', 'demo@codestrator.invalid'],
    ['commit.gpgsign', 'false'],
    ['tag.gpgsign', 'false'],
  ] as const) {
    await runGit(dir, ['config', key, value]);
  }
  for (const [path, content] of Object.entries(BASE_FILES)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  await runGit(dir, ['add', '-A']);
  // The user's global hooks have no business in a throwaway repository.
  await runGit(dir, ['-c', 'core.hooksPath=/dev/null', 'commit', '-q', '-m', 'tiny-shop: cart total with tax']);
}
