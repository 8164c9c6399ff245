#!/usr/bin/env node
// The baseline for `npm run bench`: the smallest MCP SDK server over stdio, with one tool `echo`
// that returns its arguments as structuredContent (mirrored as JSON text, as codestrator does).
import process from 'node:process';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'bare-echo', version: '1.0.0' });

server.registerTool(
  'echo',
  {
    description: 'Returns its arguments unchanged as structuredContent.',
    inputSchema: z.looseObject({}),
  },
  (args) => ({ content: [{ type: 'text', text: JSON.stringify(args) }], structuredContent: args }),
);

const transport = new StdioServerTransport();
await server.connect(transport);
process.stdin.once('end', () => void server.close());
