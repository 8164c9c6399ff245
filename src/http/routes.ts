import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ActionContext, handleAction } from './actions.js';
import { hostAllowed, originAllowed, presentedToken, tokenMatches } from './guard.js';
import type { LiveFeed } from './live.js';
import { sendJson, sendRefusal } from './respond.js';
import type { StaticAssets } from './static.js';

export interface RouteContext extends ActionContext {
  token: string;
  /** The port actually bound (Host and Origin must name it). */
  port(): number;
  live: LiveFeed;
  assets: StaticAssets;
}

/**
 * Every request passes the same gate, in this order: the Host names this server (DNS rebinding),
 * the token matches (page, assets, API and stream alike), and a POST comes from the dashboard's own
 * origin. Only then is it routed.
 */
export async function route(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> {
  const port = ctx.port();
  if (!hostAllowed(req.headers.host, port)) {
    sendRefusal(res, 403, 'FORBIDDEN', `Host must be 127.0.0.1:${port} or localhost:${port}.`);
    return;
  }
  const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
  if (!tokenMatches(ctx.token, presentedToken(req, url))) {
    sendRefusal(res, 401, 'UNAUTHORIZED', 'A valid token is required: open the URL that `codestrator serve` printed.');
    return;
  }
  const method = req.method ?? 'GET';
  if (method === 'POST' && !originAllowed(req.headers.origin, port)) {
    sendRefusal(res, 403, 'FORBIDDEN', 'Cross-origin requests are refused.');
    return;
  }
  const path = url.pathname;
  if (path === '/api/call') {
    if (method !== 'POST') return refuseMethod(res, 'POST');
    await handleAction(req, res, ctx);
    return;
  }
  if (path === '/api/snapshot' || path === '/api/events') {
    if (method !== 'GET') return refuseMethod(res, 'GET');
    if (path === '/api/events') ctx.live.attach(res);
    else sendJson(res, 200, await ctx.live.snapshot());
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') return refuseMethod(res, 'GET, HEAD');
  if (!ctx.assets.serve(path, res, method)) sendRefusal(res, 404, 'NOT_FOUND', `Nothing at ${path}.`);
}

function refuseMethod(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  sendRefusal(res, 405, 'METHOD_NOT_ALLOWED', `Use ${allow}.`);
}
