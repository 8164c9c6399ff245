import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createDispatcher } from '../app/services.js';
import { packageVersion } from '../registry/bundle-info.js';
import { createMcpServer } from './server.js';

/** `codestrator mcp`: one stdio server per agent process; state is shared through the database. */
export async function serveStdio(cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  const server = createMcpServer(createDispatcher(cwd, env, { adoptSessions: true }), packageVersion());
  const transport = new StdioServerTransport();
  await server.connect(transport);
  await new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
}
