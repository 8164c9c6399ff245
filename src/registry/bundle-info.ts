import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoreContext } from '../core/context.js';

/** The package root: two levels up from dist/registry/ (or src/registry/). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** runtime.bundle.info: what is installed and where the state lives. */
export function bundleInfo(ctx: CoreContext) {
  return {
    name: 'codestrator',
    version: packageVersion(),
    package_root: packageRoot,
    node: process.version,
    repo_path: ctx.workspace.repoPath,
    state_dir: ctx.workspace.stateDir,
    db_path: ctx.store.path,
    schema_version: ctx.store.schemaVersion,
    server_command: [process.execPath, join(packageRoot, 'bin', 'codestrator.js'), 'mcp'],
  };
}
