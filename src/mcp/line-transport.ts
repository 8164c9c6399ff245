import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, type JSONRPCMessage, JSONRPCMessageSchema, type RequestId } from '@modelcontextprotocol/sdk/types.js';

/** The largest JSON-RPC line the server reads; a longer one is answered with an error and skipped. */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

/** Bytes kept from each end of a line too long to read, to find the request id it carried. */
const EDGE_BYTES = 512;

const ID = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
/** `{"jsonrpc":"2.0","id":7,...` or `{"id":7,...`: the id written first. */
const LEADING_ID = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${ID}`);
/** `...,"id":7}`: the id written last, as the SDK's client does; one closing brace means the top level. */
const TRAILING_ID = new RegExp(String.raw`[,{]\s*"id"\s*:\s*${ID}\s*\}\s*$`);

function guessId(head: string, tail: string): RequestId | null {
  const found = LEADING_ID.exec(head)?.[1] ?? TRAILING_ID.exec(tail)?.[1];
  if (found === undefined) return null;
  try {
    return JSON.parse(found) as RequestId;
  } catch {
    return null;
  }
}

const idOf = (value: unknown): RequestId | null => {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
};

/**
 * Newline-delimited JSON-RPC over stdio, like the SDK's StdioServerTransport, except that a bad
 * line never stops the server: a line over MAX_MESSAGE_BYTES is skipped and answered with an
 * Invalid Request error naming the limit (the SDK's closed the transport, so the server exited
 * silently), a line that is not JSON gets a -32700 parse error, and one that is JSON but not
 * JSON-RPC gets -32600.
 */
export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private chunks: Buffer[] = [];
  private size = 0;
  /** Set while skipping a line over the limit: its first and last bytes, and its length so far. */
  private skipping: { head: Buffer; tail: Buffer; size: number } | undefined;

  constructor(
    private readonly input: NodeJS.ReadableStream = process.stdin,
    private readonly output: NodeJS.WritableStream = process.stdout,
    private readonly maxBytes = MAX_MESSAGE_BYTES,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  private readonly onData = (chunk: Buffer | string): void => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const newline = data.indexOf(10, start);
      this.take(data.subarray(start, newline === -1 ? data.length : newline));
      if (newline === -1) return;
      this.endLine();
      start = newline + 1;
    }
  };

  private readonly onError = (error: Error): void => this.onerror?.(error);

  async start(): Promise<void> {
    this.input.on('data', this.onData);
    this.input.on('error', this.onError);
  }

  async close(): Promise<void> {
    this.input.off('data', this.onData);
    this.input.off('error', this.onError);
    if (this.input.listenerCount('data') === 0) this.input.pause();
    this.chunks = [];
    this.size = 0;
    this.skipping = undefined;
    this.onclose?.();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.output.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.output.once('drain', resolve);
    });
  }

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.skipping) {
      const skipping = this.skipping;
      skipping.size += piece.length;
      skipping.tail = Buffer.concat([skipping.tail, piece]).subarray(-EDGE_BYTES);
      return;
    }
    if (this.size + piece.length <= this.maxBytes) {
      this.chunks.push(piece);
      this.size += piece.length;
      return;
    }
    const read = Buffer.concat([...this.chunks, piece]);
    this.skipping = { head: read.subarray(0, EDGE_BYTES), tail: read.subarray(-EDGE_BYTES), size: read.length };
    this.chunks = [];
    this.size = 0;
  }

  private endLine(): void {
    if (this.skipping) {
      const { head, tail, size } = this.skipping;
      this.skipping = undefined;
      const id = guessId(head.toString('utf8'), tail.toString('utf8'));
      this.log(`codestrator mcp: skipped a ${size}-byte message (the limit is ${this.maxBytes} bytes); the server carries on.`);
      this.reply(id, ErrorCode.InvalidRequest, `The message is ${size} bytes, over the limit of ${this.maxBytes} bytes; it was not read.`, {
        limit_bytes: this.maxBytes,
        size_bytes: size,
      });
      return;
    }
    const line = Buffer.concat(this.chunks).toString('utf8').replace(/\r$/, '');
    this.chunks = [];
    this.size = 0;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      this.reply(null, ErrorCode.ParseError, `Parse error: the line is not JSON (${(err as Error).message}).`);
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (!parsed.success) {
      this.reply(idOf(value), ErrorCode.InvalidRequest, 'Invalid Request: the line is not a JSON-RPC 2.0 message.');
      return;
    }
    this.onmessage?.(parsed.data);
  }

  private reply(id: RequestId | null, code: number, message: string, data?: Record<string, unknown>): void {
    const error = { code, message, ...(data ? { data } : {}) };
    // JSON-RPC answers a request whose id cannot be read with id null; the SDK's type has no room for it.
    void this.send({ jsonrpc: '2.0', id, error } as unknown as JSONRPCMessage);
  }
}
