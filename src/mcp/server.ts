import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { existsSync } from 'node:fs';
import { invalid } from '../core/errors.js';
import { GROUPS, type Group } from '../registry/define.js';
import type { CallOutcome, Dispatcher } from '../registry/dispatch.js';
import { CallFailed, readAll, readResult } from '../registry/read.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { getPrompt, listPrompts } from './prompts.js';
import { listResources, readResource } from './resources.js';
import { LEGACY_TOOL, buildTools } from './tools.js';

const INSTRUCTIONS = `codestrator coordinates several coding agents on one git repository.
Start: orch_session workspace.init, then session.open (intent new_work) and work inside the returned worktree.
Plan with orch_task task.create (epic → feature → test_group → case); run one case at a time: case.begin, step.check after every step, case.complete.
After a restart or context compaction call orch_lifecycle work.current_ref first. Guard shared files with orch_workspace lock.acquire.
orch_system system.describe {"method": "<name>"} returns any method's params schema and an example.
Resources: codestrator://status (a JSON snapshot of sessions, cases in progress, locks, threads, queue) and codestrator://mirror/status.md (the ledger as Markdown). Prompts: one per role template (worker, merge-reviewer, ...).`;

/** The MCP result for a call outcome: structuredContent is always an object, mirrored as compact JSON text. */
export function toToolResult(outcome: CallOutcome): CallToolResult {
  const body: Record<string, unknown> = outcome.ok ? outcome.result : { ...outcome.error };
  const result: CallToolResult = { content: [{ type: 'text', text: JSON.stringify(body) }], structuredContent: body };
  if (!outcome.ok) result.isError = true;
  return result;
}

function readArguments(tool: string, args: unknown): { method: string; params: unknown } {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw invalid(`${tool} takes {method, params}.`, 'arguments');
  }
  const { method, params, ...rest } = args as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0)
    throw invalid(`${tool} takes only method and params, not ${extra.join(', ')}.`, extra[0], 'Put method arguments inside params.');
  if (typeof method !== 'string' || method === '') throw invalid(`${tool} needs method: the name of the method to call.`, 'method');
  return { method, params: params ?? {} };
}

/** Routes one tools/call through the dispatcher; group tools accept only their own methods. */
export async function callTool(dispatcher: Dispatcher, tool: string, args: unknown): Promise<CallOutcome> {
  try {
    const isGroup = (GROUPS as readonly string[]).includes(tool);
    const { method, params } = readArguments(tool, args);
    const def = dispatcher.registry.methods.get(method);
    if (isGroup && def && def.group !== (tool as Group)) {
      throw invalid(`${method} belongs to tool ${def.group}, not ${tool}.`, 'method', `Call it through ${def.group}.`);
    }
    return await dispatcher.call(method, params);
  } catch (err) {
    const error = err as { toWire?: () => unknown };
    if (typeof error.toWire === 'function') return { ok: false, error: error.toWire() as never };
    throw err;
  }
}

/** An unknown tool is a protocol error (the MCP spec's -32602 Invalid params), not a tool result. */
function assertKnownTool(tool: string): void {
  if ((GROUPS as readonly string[]).includes(tool) || tool === LEGACY_TOOL) return;
  const tools = [...GROUPS, LEGACY_TOOL];
  throw new McpError(ErrorCode.InvalidParams, `Unknown tool ${JSON.stringify(tool.slice(0, 100))}. Tools: ${tools.join(', ')}.`, {
    code: 'INVALID_ARGUMENT',
    field: 'name',
    hint: `Tools: ${tools.join(', ')}.`,
  });
}

type Item = Record<string, unknown>;

/** The state and mirror directories of the repository the server runs in. */
export interface StatePaths {
  stateDir: string;
  mirrorDir: string;
}

/**
 * Whether codestrator has state here: a client lists prompts and resources on connect, in any
 * repository, so those answers must never create it. `reason` says why not and how to start.
 */
export type StateLocation = ({ initialized: true } & StatePaths) | { initialized: false; reason: string };

/** What prompts and resources need from the server: dispatcher calls that fail as MCP errors, and where the state lives. */
export interface McpBackend {
  /** One call's result; a failure is an McpError (InvalidParams for the caller's mistakes, else InternalError) carrying the wire error. */
  call(method: string, params?: Item): Promise<Item>;
  /** Every item of a list method, page after page. */
  all(method: string, params?: Item): Promise<Item[]>;
  /** Where the state is, found without creating anything; whether it exists is checked on every request. */
  locations(): Promise<StateLocation>;
}

/** A failed read as an MCP error: InvalidParams for the caller's mistakes, else InternalError, carrying the wire error. */
function toMcpError(method: string, err: unknown): unknown {
  if (!(err instanceof CallFailed)) return err;
  const error = err.wire.error;
  const code = error.code === 'INVALID_ARGUMENT' || error.code === 'NOT_FOUND' ? ErrorCode.InvalidParams : ErrorCode.InternalError;
  return new McpError(code, `${method}: ${error.message}${error.hint ? ` ${error.hint}` : ''}`, error);
}

function backendOver(dispatcher: () => Promise<Dispatcher>, locate: () => Promise<StatePaths>): McpBackend {
  const call = async (method: string, params: Item = {}): Promise<Item> =>
    readResult(await dispatcher(), method, params).catch((err: unknown) => Promise.reject(toMcpError(method, err)));
  let paths: Promise<StatePaths> | undefined;
  return {
    call,
    all: async (method, params = {}) =>
      readAll(await dispatcher(), method, params).catch((err: unknown) => Promise.reject(toMcpError(method, err))),
    async locations() {
      // Not workspace.init: opening the services creates .codestrator/ and edits .git/info/exclude.
      // The paths do not move while the server runs; a failure (no repository) is asked again next time.
      paths ??= locate();
      paths.catch(() => (paths = undefined));
      let found: StatePaths;
      try {
        found = await paths;
      } catch (err) {
        return { initialized: false, reason: err instanceof Error ? err.message : String(err) };
      }
      // Checked each time: workspace.init (this server's, the CLI's, another agent's) may create it meanwhile.
      if (existsSync(found.stateDir)) return { initialized: true, ...found };
      const reason = `codestrator has no state in this repository yet (${found.stateDir} does not exist); orch_session workspace.init or \`codestrator init\` creates it.`;
      return { initialized: false, reason };
    },
  };
}

/**
 * Builds the MCP server; the transport is attached by the caller. The dispatcher (the method
 * table and the domain) is asked for only when a request needs it, and the tool list may come
 * from the build's manifest, so `initialize` and `tools/list` are answered without loading either.
 * `locate` finds the state's paths without creating anything (it rejects outside a repository).
 */
export function createMcpServer(options: {
  dispatcher: () => Promise<Dispatcher>;
  locate: () => Promise<StatePaths>;
  tools?: Tool[];
  version: string;
}): Server {
  const server = new Server(
    { name: 'codestrator', version: options.version },
    { capabilities: { tools: {}, prompts: {}, resources: {} }, instructions: INSTRUCTIONS },
  );
  const { dispatcher } = options;
  const backend = backendOver(dispatcher, options.locate);
  let tools = options.tools;
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: (tools ??= buildTools((await dispatcher()).registry)) }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    assertKnownTool(request.params.name);
    return toToolResult(await callTool(await dispatcher(), request.params.name, request.params.arguments));
  });
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: await listPrompts(backend) }));
  server.setRequestHandler(GetPromptRequestSchema, (request) => getPrompt(backend, request.params.name, request.params.arguments ?? {}));
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: await listResources(backend) }));
  // No templates: every resource is listed. Answering (rather than "method not found") keeps clients that always ask quiet.
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: [] }));
  server.setRequestHandler(ReadResourceRequestSchema, (request) => readResource(backend, request.params.uri));
  return server;
}
