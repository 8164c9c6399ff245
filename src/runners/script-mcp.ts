import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { JsonObject } from './script-format.js';

/** The legacy tool that takes any method; used for methods the server did not describe. */
export const LEGACY_TOOL = 'orchestrator.call';

export interface WireError {
  code: string;
  message: string;
  field?: string;
  hint?: string;
  data?: JsonObject;
}

/** A method call's result: structuredContent, and for an error the structured error. */
export type Outcome = { ok: true; data: JsonObject } | { ok: false; error: WireError; data: JsonObject };

/** What the server may see of the agent's environment: identity, state location, git identity, basics. */
const PASS_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'TERM',
  'LANG',
  'LC_ALL',
  'TMPDIR',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_NOSYSTEM',
];
const PASS_ENV_PREFIXES = ['CODESTRATOR_', 'GIT_AUTHOR_', 'GIT_COMMITTER_'];

/**
 * [program, ...args] of codestrator's MCP server: CODESTRATOR_SERVER_COMMAND (a JSON array), else
 * this package's `bin/codestrator.js mcp` under the running Node. Throws a plain Error when the
 * variable is malformed.
 */
export function serverCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.CODESTRATOR_SERVER_COMMAND;
  if (raw === undefined || raw === '') {
    return [process.execPath, fileURLToPath(new URL('../../bin/codestrator.js', import.meta.url)), 'mcp'];
  }
  let argv: unknown;
  try {
    argv = JSON.parse(raw);
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((word) => typeof word === 'string' && word !== '')) {
    throw new Error('CODESTRATOR_SERVER_COMMAND must be a JSON array of strings, e.g. ["node", "/abs/bin/codestrator.js", "mcp"].');
  }
  return argv as string[];
}

/** The server's environment, taken from the agent's. */
export function serverEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (PASS_ENV.includes(key) || PASS_ENV_PREFIXES.some((prefix) => key.startsWith(prefix))) passed[key] = value;
  }
  return passed;
}

/**
 * The SDK's stdio client transport, except that the server runs in its own process group.
 *
 * The scripted agent runs in a tmux pane, where Ctrl-C sends SIGINT to the whole foreground
 * process group; with the SDK's StdioClientTransport (which cannot detach) that would kill the
 * agent's MCP server along with the step it interrupts. Detached, the server only ends when the
 * agent closes it or dies (its stdin reaches end of file, and `codestrator mcp` exits).
 * Framing is the SDK's own (ReadBuffer / serializeMessage).
 */
export class DetachedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child: ChildProcess | undefined;
  private readonly buffer = new ReadBuffer();

  constructor(private readonly options: { command: string; args: readonly string[]; cwd: string; env: Record<string, string> }) {}

  start(): Promise<void> {
    if (this.child) throw new Error('DetachedStdioTransport already started.');
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.command, [...this.options.args], {
        cwd: this.options.cwd,
        env: this.options.env,
        stdio: ['pipe', 'pipe', 'inherit'],
        detached: true,
        shell: false,
      });
      this.child = child;
      child.on('error', (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.on('spawn', () => resolve());
      child.on('close', () => {
        this.child = undefined;
        this.onclose?.();
      });
      child.stdin?.on('error', (error) => this.onerror?.(error));
      child.stdout?.on('error', (error) => this.onerror?.(error));
      child.stdout?.on('data', (chunk: Buffer) => {
        this.buffer.append(chunk);
        for (;;) {
          let message: JSONRPCMessage | null;
          try {
            message = this.buffer.readMessage();
          } catch (error) {
            this.onerror?.(error as Error);
            continue;
          }
          if (message === null) break;
          this.onmessage?.(message);
        }
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.child?.stdin;
      if (!stdin) {
        reject(new Error('Not connected'));
        return;
      }
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /** End of input first (the server exits on it), then SIGTERM, then SIGKILL, two seconds apart. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const within = (ms: number) => Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
    try {
      child.stdin?.end();
    } catch {
      // Already gone.
    }
    await within(2000);
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
      await within(2000);
    }
    this.buffer.clear();
  }
}

/**
 * The scripted agent's MCP connection: the SDK Client over a DetachedStdioTransport. Calls go
 * through the group tools (orch_task…), mapped from `system.describe` once at start.
 */
export class McpConnection {
  private readonly client: Client;
  private transport: DetachedStdioTransport | undefined;
  private readonly tools = new Map<string, string>();

  constructor(clientName: string) {
    this.client = new Client({ name: clientName, version: '1.0.0' });
  }

  /** Starts the server in cwd and learns the method → tool map; returns a line describing the server. */
  async connect(cwd: string): Promise<string> {
    const [command, ...args] = serverCommand();
    this.transport = new DetachedStdioTransport({ command: command!, args, cwd, env: serverEnv() });
    await this.client.connect(this.transport);
    const version = this.client.getServerVersion();
    const described = await this.callTool('orch_system', 'system.describe', {});
    if (described.ok && Array.isArray(described.data.items)) {
      for (const item of described.data.items as JsonObject[]) {
        if (typeof item.method === 'string' && typeof item.tool === 'string') this.tools.set(item.method, item.tool);
      }
    }
    const how = this.tools.size > 0 ? `${this.tools.size} methods` : `the legacy ${LEGACY_TOOL} tool`;
    return `${version?.name ?? 'the server'} ${version?.version ?? ''} (${how})`;
  }

  /** One method call; errors the server answers become {ok: false}; a broken connection throws. */
  call(method: string, params: JsonObject): Promise<Outcome> {
    return this.callTool(this.tools.get(method) ?? LEGACY_TOOL, method, params);
  }

  private async callTool(tool: string, method: string, params: JsonObject): Promise<Outcome> {
    let result: Awaited<ReturnType<Client['callTool']>>;
    try {
      result = await this.client.callTool({ name: tool, arguments: { method, params } });
    } catch (err) {
      throw new Error(`the MCP call ${method} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    let data = result.structuredContent as JsonObject | undefined;
    if (data === undefined) {
      const text = (result.content as { type: string; text?: string }[] | undefined)?.find((part) => part.type === 'text')?.text ?? '';
      try {
        data = JSON.parse(text) as JsonObject;
      } catch {
        data = { error: { code: 'INTERNAL', message: text || 'The server returned no content.' } };
      }
    }
    if (result.isError !== true) return { ok: true, data };
    const error = (data.error ?? { code: 'INTERNAL', message: JSON.stringify(data) }) as unknown as WireError;
    return { ok: false, error, data };
  }

  async close(): Promise<void> {
    try {
      await this.client.close();
    } catch {
      // The server is gone already.
    }
    await this.transport?.close();
  }
}
