import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDispatcher } from '../app/services.js';
import { CodestratorError, invalid } from '../core/errors.js';
import { ConflictWatch } from './conflict-watch.js';
import { newToken } from './guard.js';
import { LiveFeed } from './live.js';
import { sendRefusal } from './respond.js';
import { type RouteContext, route } from './routes.js';
import { SnapshotSource } from './snapshot.js';
import { loadAssets } from './static.js';
import { ThreadDetails } from './thread-view.js';

/** A running dashboard: `url` carries the access token. */
export interface Dashboard {
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

export interface DashboardOptions {
  /** Any directory inside the repository. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Where server-side failures are reported (default: stderr). */
  log?: (line: string) => void;
}

/**
 * The dashboard acts as the person supervising, never as an agent: identity variables inherited
 * from a shell that an agent started would otherwise make every action that agent's.
 */
function supervisorEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  delete clean.CODESTRATOR_SESSION_ID;
  delete clean.CODESTRATOR_THREAD_ID;
  return clean;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new CodestratorError('PRECONDITION_FAILED', `Port ${port} on 127.0.0.1 is in use.`, {
              field: 'port',
              hint: 'Pick another port, or omit it for a free one.',
            })
          : err,
      );
    };
    server.once('error', failed);
    // 127.0.0.1 only: the dashboard is for the person at this machine, never the network.
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/**
 * Serves the dashboard on 127.0.0.1 with a fresh token. Fails (a CodestratorError) before listening
 * when `cwd` is not in a repository codestrator can use, or when the port is taken.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const requested = options.port ?? 0;
  if (!Number.isInteger(requested) || requested < 0 || requested > 65_535)
    throw invalid(`port must be an integer from 0 to 65535, not ${JSON.stringify(options.port)}.`, 'port', '0 picks a free port.');
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const dispatcher = createDispatcher(options.cwd, supervisorEnv(options.env));
  const probe = await dispatcher.call('session.list', { limit: 1 });
  if (!probe.ok) {
    const { code, message, field, hint, data } = probe.error.error;
    throw new CodestratorError(code, message, { ...(field ? { field } : {}), ...(hint ? { hint } : {}), ...(data ? { data } : {}) });
  }
  const token = newToken();
  const assets = loadAssets(token);
  // The watch calls back only after a tick has run, so `feed` is set by then.
  const conflicts = new ConflictWatch(dispatcher, () => feed.refresh());
  const source = new SnapshotSource(dispatcher, new ThreadDetails(dispatcher), () => conflicts.current());
  const feed = new LiveFeed({ collect: () => source.collect(), log });
  let port = requested;
  const context: RouteContext = {
    token,
    port: () => port,
    live: feed,
    assets,
    dispatcher,
    log,
    changed: () => {
      conflicts.invalidate();
      feed.refresh();
    },
  };
  const server = createServer((req, res) => {
    route(req, res, context).catch((err: unknown) => {
      log(`codestrator serve: ${req.method} ${req.url?.split('?')[0]} failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendRefusal(res, 500, 'INTERNAL', 'Internal error; the details are in the dashboard server log.');
      else res.end();
    });
  });
  // Streams stay open for hours; only their own end closes them, not Node's request timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  await listen(server, requested);
  port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    token,
    port,
    close: () =>
      (closing ??= (async () => {
        await feed.close();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        await conflicts.settle();
      })()),
  };
}
