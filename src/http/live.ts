import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { SECURITY_HEADERS } from './guard.js';
import type { Snapshot } from './snapshot.js';

/** What a client receives: the snapshot, its hash, and the server's clock (for "expires in" on the page). */
export interface SnapshotMessage {
  hash: string;
  server_now: number;
  snapshot: Snapshot;
}

export interface LiveOptions {
  collect: () => Promise<Snapshot>;
  /** Between the end of one tick and the start of the next. */
  tickMs?: number;
  /** A comment line this often keeps proxies and browsers from closing an idle stream. */
  heartbeatMs?: number;
  log: (line: string) => void;
}

/**
 * The live feed: polls snapshots while at least one client listens (none → no polling at all),
 * and sends one to every client only when its hash changed. Thread state and lease expiry change
 * without a ledger write, so the whole snapshot is compared, not ledger_version.
 */
export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private latest: SnapshotMessage | undefined;
  private closed = false;

  constructor(private readonly options: LiveOptions) {}

  /** The current snapshot, computed now (GET /api/snapshot, and the first event of a new stream). */
  async snapshot(): Promise<SnapshotMessage> {
    await this.tick();
    if (!this.latest) throw new Error('no snapshot could be computed (see the log above)');
    return this.latest;
  }

  /** Takes over a GET /api/events response as an SSE stream until the client goes away. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    if (this.closed) {
      res.end();
      return;
    }
    this.clients.add(res);
    // The response closes when the client goes away (or close() ends it).
    res.on('close', () => this.detach(res));
    if (this.latest) this.send(res, this.latest);
    this.refresh();
    this.heartbeat ??= setInterval(() => {
      for (const client of this.clients) client.write(': heartbeat\n\n');
    }, this.options.heartbeatMs ?? 15_000);
  }

  /** Take a snapshot now (after an action, or when a slow part finished) rather than at the next tick. */
  refresh(): void {
    if (this.closed || this.clients.size === 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.tick();
  }

  /** Ends every stream and stops polling; waits for a tick in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const client of this.clients) client.end();
    this.clients.clear();
    await this.ticking;
  }

  private detach(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size > 0) return;
    // Nobody listens: stop polling until the next client comes.
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
  }

  /** One tick at a time: a request for another while one runs is folded into one more tick after it. */
  private tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = this.run().finally(() => {
      this.ticking = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.tick();
      } else this.schedule();
    });
    return this.ticking;
  }

  private async run(): Promise<void> {
    try {
      const snapshot = await this.options.collect();
      // When the conflict matrix was last recomputed is no change in itself: only its content counts.
      const { report, error } = snapshot.conflicts;
      const content = JSON.stringify({ ...snapshot, conflicts: { report, error } });
      const hash = createHash('sha256').update(content).digest('base64url').slice(0, 22);
      const changed = hash !== this.latest?.hash;
      this.latest = { hash, server_now: Date.now(), snapshot };
      if (changed) for (const client of this.clients) this.send(client, this.latest);
    } catch (err) {
      this.options.log(`codestrator serve: snapshot failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private schedule(): void {
    if (this.closed || this.clients.size === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, this.options.tickMs ?? 1000);
  }

  private send(client: ServerResponse, message: SnapshotMessage): void {
    // JSON.stringify never emits a raw newline, so the whole message is one data line.
    client.write(`event: snapshot\nid: ${message.hash}\ndata: ${JSON.stringify(message)}\n\n`);
  }
}
