// The files pages load, all served by this server under /static/: each URL carries a hash of its content, so
// browsers may keep it for a year and a new version is fetched as soon as it changes.
import { createHash } from 'node:crypto';
import { SCRIPT } from './script.js';
import { STYLESHEET } from './styles.js';

export interface StaticAsset {
  /** File name under /static/. */
  name: string;
  type: string;
  body: string;
  /** Content hash (hex, 12 digits), also the ETag. */
  hash: string;
}

// A key in a circle, drawn with strokes only: legible at 16 px.
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0d2b52"/>' +
  '<circle cx="11" cy="16" r="5" fill="none" stroke="#fff" stroke-width="3"/><path d="M16 16h11M23 16v5M27 16v4" stroke="#fff" stroke-width="3" fill="none"/></svg>\n';

function asset(name: string, type: string, body: string): StaticAsset {
  return { name, type, body, hash: createHash('sha256').update(body).digest('hex').slice(0, 12) };
}

export const ASSETS: Readonly<Record<string, StaticAsset>> = Object.fromEntries(
  [
    asset('keystore.css', 'text/css; charset=utf-8', STYLESHEET),
    asset('keystore.js', 'text/javascript; charset=utf-8', SCRIPT),
    asset('favicon.svg', 'image/svg+xml', FAVICON),
  ].map((a) => [a.name, a]),
);

/** The URL of a static file, with its content hash. */
export function assetUrl(name: 'keystore.css' | 'keystore.js' | 'favicon.svg'): string {
  return `/static/${name}?v=${ASSETS[name]!.hash}`;
}
