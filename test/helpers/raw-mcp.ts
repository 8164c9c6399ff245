import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { BIN, cleanEnv } from './cli.js';

type Json = Record<string, any>;

/**
 * The built server over raw stdio, speaking newline-delimited JSON-RPC: for protocol versions and
 * messages the SDK's Client would not send.
 */
export class RawServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffer = '';
  private readonly waiting = new Map<number, (message: Json) => void>();
  readonly stderr: string[] = [];

  constructor(cwd: string, extraEnv: Record<string, string> = {}) {
    const env = cleanEnv(extraEnv);
    this.child = spawn(process.execPath, [BIN, 'mcp'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline).trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (!line) continue;
        const message = JSON.parse(line) as Json;
        const resolve = this.waiting.get(message.id as number);
        if (resolve) {
          this.waiting.delete(message.id as number);
          resolve(message);
        }
      }
    });
    this.child.stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
  }

  request(id: number, method: string, params: Json): Promise<Json> {
    const reply = new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${method} (stderr: ${this.stderr.join('')})`)), 15_000);
      this.waiting.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
    this.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    return reply;
  }

  notify(method: string, params: Json = {}): void {
    this.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method, params }) + '\n');
  }

  /** Closes stdin and waits for the process to exit on its own. */
  close(): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill();
        resolve(-1);
      }, 10_000);
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      this.child.stdin.end();
    });
  }
}
