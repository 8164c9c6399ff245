import type { Dispatcher } from '../registry/dispatch.js';
import { packageVersion } from '../registry/bundle-info.js';
import { LineTransport } from './line-transport.js';
import { createMcpServer } from './server.js';
import { readToolManifest } from './tools.js';

/** `codestrator mcp`: one stdio server per agent process; state is shared through the database. */
export async function serveStdio(cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  let loading: Promise<Dispatcher> | undefined;
  const dispatcher = () =>
    (loading ??= import('../app/services.js').then((services) => services.createDispatcher(cwd, env, { adoptSessions: true })));
  const locate = () => import('../app/workspace.js').then((workspace) => workspace.locateWorkspace(cwd, env));
  const server = createMcpServer({ dispatcher, locate, tools: readToolManifest(), version: packageVersion() });
  // Codex sends its first model request while its MCP servers start, so initialize and tools/list
  // are answered first; the method table loads right after, before the first call needs it.
  server.oninitialized = () => void dispatcher().catch(() => (loading = undefined));
  // Not the SDK's stdio transport: an oversized line closed it, so the server exited without a word.
  const transport = new LineTransport();
  await server.connect(transport);
  await new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
}
