#!/usr/bin/env node
// The baseline for `npm run bench`: the smallest MCP SDK server over stdio, with one tool `echo`
// that returns its arguments as structuredContent (mirrored as JSON text, as codestrator does).
// With a database path argument, each echo first commits one SQLite write transaction shaped like
// codestrator's lock write (a row into a table with one partial index, plus a counter bump: three
// pages, in WAL with synchronous=NORMAL): the floor for a server that makes a call durable first.
import process from 'node:process';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

/** Loaded only when asked for, so the plain echo server's cold start stays the bare SDK's. */
async function sqliteWrite(path) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
    INSERT OR IGNORE INTO meta VALUES (1, 0);
    CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, state TEXT NOT NULL, until INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS rows_live ON rows(state) WHERE state = 'active';`);
  const insert = db.prepare("INSERT INTO rows (owner, state, until) VALUES ('session:1', 'active', ?)");
  const bump = db.prepare('UPDATE meta SET version = version + 1 WHERE id = 1');
  return db.transaction(() => {
    insert.run(Date.now());
    bump.run();
  }).immediate;
}

const write = process.argv[2] ? await sqliteWrite(process.argv[2]) : undefined;
const server = new McpServer({ name: 'bare-echo', version: '1.0.0' });

server.registerTool(
  'echo',
  {
    description: 'Returns its arguments unchanged as structuredContent.',
    inputSchema: z.looseObject({}),
  },
  (args) => {
    write?.();
    return { content: [{ type: 'text', text: JSON.stringify(args) }], structuredContent: args };
  },
);

const transport = new StdioServerTransport();
await server.connect(transport);
process.stdin.once('end', () => void server.close());
