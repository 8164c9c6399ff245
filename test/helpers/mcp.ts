import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN, cleanEnv } from './cli.js';

export interface McpHandle {
  client: Client;
  /** Calls a tool and returns {isError, data} with data = structuredContent. */
  tool(name: string, method: string, params?: unknown): Promise<{ isError: boolean; data: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** The SDK's Client over stdio against the built server binary, in cwd. */
export async function connectMcp(cwd: string, env: Record<string, string> = {}): Promise<McpHandle> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp'],
    cwd,
    env: cleanEnv(env) as Record<string, string>,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'codestrator-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    async tool(name, method, params = {}) {
      const result = await client.callTool({ name, arguments: { method, params } });
      return { isError: result.isError === true, data: result.structuredContent as Record<string, unknown> };
    },
    close: () => client.close(),
  };
}
