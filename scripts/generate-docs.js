// Writes the generated method reference (run by `npm run docs`, after the build): each skill's
// references/method-contracts.md and docs/METHODS.md, from the built method registry in dist/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registry } from '../dist/app/services.js';
import { generatedDocs } from '../dist/registry/contracts-doc.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const read = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

for (const doc of generatedDocs(registry)) {
  const path = join(root, doc.path);
  // Unchanged files are left alone, so their modification times say nothing changed.
  if (read(path) === doc.content) {
    console.log(`unchanged ${doc.path}`);
    continue;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, doc.content);
  console.log(`wrote     ${doc.path}`);
}
