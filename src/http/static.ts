import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../registry/bundle-info.js';
import { SECURITY_HEADERS } from './guard.js';

/** Where the page lives: `web/` at the package root (shipped with the package, no build step). */
const WEB_DIR = join(packageRoot, 'web');

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The only files served, by request path: a fixed table, so no request path ever reaches the file system. */
const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: HTML },
  '/index.html': { file: 'index.html', type: HTML },
  ...Object.fromEntries(
    ['app', 'dom', 'actions', 'threads', 'queue', 'panels', 'conflicts'].map((name) => [`/${name}.js`, { file: `${name}.js`, type: JS }]),
  ),
  ...Object.fromEntries(['app', 'controls', 'panels', 'responsive'].map((name) => [`/${name}.css`, { file: `${name}.css`, type: CSS }])),
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/**
 * Every request must carry the token, the page's own asset and module URLs included: index.html
 * and the modules name it where this placeholder stands (a base64url token needs no escaping).
 */
const TOKEN_PLACEHOLDER = /__TOKEN__/g;

/** The page's files, read once when the dashboard starts. */
export interface StaticAssets {
  /** Serves the asset at `path`; false when there is none (the caller answers 404). */
  serve(path: string, res: ServerResponse, method: string): boolean;
}

/** Loads web/ into memory; a missing file fails the start, not the first request. */
export function loadAssets(token: string): StaticAssets {
  const bodies = new Map<string, Buffer>();
  for (const [path, asset] of Object.entries(ASSETS)) {
    const raw = readFileSync(join(WEB_DIR, asset.file), 'utf8');
    bodies.set(path, Buffer.from(asset.type === 'image/svg+xml' ? raw : raw.replace(TOKEN_PLACEHOLDER, token), 'utf8'));
  }
  return {
    serve(path, res, method) {
      const asset = ASSETS[path];
      const body = bodies.get(path);
      if (!asset || !body) return false;
      res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': asset.type, 'Content-Length': String(body.length) });
      res.end(method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
