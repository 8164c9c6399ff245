import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A fresh access token: 24 random bytes, base64url (safe in a URL and an HTML attribute as is). */
export const newToken = (): string => randomBytes(24).toString('base64url');

/** Compares in constant time; a token of another length is compared with itself so timing says nothing. */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  const want = Buffer.from(expected, 'utf8');
  const got = Buffer.from(given ?? '', 'utf8');
  if (got.length !== want.length) {
    timingSafeEqual(want, want);
    return false;
  }
  return timingSafeEqual(want, got);
}

/**
 * The token a request presents: `Authorization: Bearer <token>` (fetch from the page), else the
 * `token` query parameter (the page itself, its assets and EventSource, which cannot set headers).
 */
export function presentedToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(auth);
    return match ? match[1] : '';
  }
  return url.searchParams.get('token') ?? undefined;
}

/**
 * Only the dashboard's own names are accepted as Host: a page on another site that rebinds its DNS
 * name to 127.0.0.1 still sends its own name, so it is refused (DNS rebinding).
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** A state-changing request from a browser must come from the dashboard's own page (no Origin = not a browser page). */
export function originAllowed(origin: string | undefined, port: number): boolean {
  return origin === undefined || origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}

/**
 * Sent on every response. The page and its assets are same-origin only; the token sits in the URL,
 * so no Referer may carry it away and nothing may be cached. No CORS header is ever sent.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
};
