// The web interface's routes: key pages and downloads, the listing, statistics, uploads from the form and the
// static files. Each handler parses its input, makes one service call and hands the result to a page in
// src/formats/html/.
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { encodeArmor } from '../formats/armor.js';
import { ASSETS, renderKeyDetailPage, renderListingPage, renderStatsPage, renderUploadPage, type SiteInfo } from '../formats/html.js';
import { AppError } from '../errors.js';
import type { DirectoryService } from '../services/directoryService.js';
import type { KeyService } from '../services/keyService.js';
import type { AuthenticatedToken } from '../services/accessService.js';
import { lookupAccess, readCredential, type AccessSettings } from './auth.js';
import { parseForm, readBody } from './body.js';

export interface WebSettings {
  /** SITE_NAME */
  name: string;
  /** SITE_CONTACT */
  contact: string | undefined;
  version: string;
}

export interface WebDependencies {
  directory: DirectoryService;
  keys: KeyService;
  access: AccessSettings;
  web: WebSettings;
  maxBodyBytes: number;
}

/** What pages say about the site, with this request's address when PUBLIC_URL is not set. */
export function siteOf(ctx: Context, access: AccessSettings, web: WebSettings): SiteInfo {
  return {
    name: web.name,
    contact: web.contact,
    version: web.version,
    pushPolicy: access.pushPolicy,
    baseUrl: access.publicUrl ?? `${ctx.protocol}://${ctx.host}`,
  };
}

/** A browser asking for a page (Accept: text/html) without asking for machine-readable output (options=mr). */
export function prefersHtml(ctx: Context): boolean {
  const options = ctx.query['options'];
  const first = Array.isArray(options) ? options[0] : options;
  const mr = (first ?? '').split(',').some((o) => o.trim().toLowerCase() === 'mr');
  return !mr && (ctx.get('accept') || '').toLowerCase().includes('text/html');
}

// Pages load only what this server serves; nothing may frame them; forms post only here.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS: [string, string][] = [
  ['Content-Security-Policy', CONTENT_SECURITY_POLICY],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()'],
];

/** The security headers of every HTML answer, whichever handler (or the error handler) made it. */
export function pageHeaders() {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } finally {
      if ((ctx.response.get('content-type') || '').startsWith('text/html')) {
        for (const [name, value] of PAGE_HEADERS) ctx.set(name, value);
      }
    }
  };
}

function sendPage(ctx: Context, body: string, status = 200): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = body;
}

const fingerprintFile = z.string().regex(/^(?:0x)?([0-9a-fA-F]{40}|[0-9a-fA-F]{64})(\.asc|\.pgp)?$/);

function parseKeyFile(file: string): { fingerprint: string; format: 'page' | 'asc' | 'pgp' } {
  const parsed = fingerprintFile.safeParse(file);
  if (!parsed.success) {
    throw new AppError(
      400,
      'bad_request',
      'a key address is /keys/ and the 40 or 64 hex digits of its fingerprint (with .asc or .pgp to download it)',
    );
  }
  const match = /^(?:0x)?([0-9a-fA-F]+)(?:\.(asc|pgp))?$/.exec(file)!;
  return { fingerprint: match[1]!.toUpperCase(), format: (match[2] as 'asc' | 'pgp' | undefined) ?? 'page' };
}

const pageQuery = z.object({
  page: z.preprocess((v) => (Array.isArray(v) ? v[0] : v), z.coerce.number().int().min(1).max(1_000_000).optional()),
});

export function registerWebRoutes(router: Router, deps: WebDependencies): void {
  const { directory, access, web } = deps;
  const site = (ctx: Context) => siteOf(ctx, access, web);
  // A private directory (LOOKUP_POLICY=token) keeps its keys, listing and statistics behind a token too.
  const lookups = lookupAccess(access);

  router.get('/keys', lookups, async (ctx) => {
    const query = pageQuery.safeParse(ctx.query);
    if (!query.success) throw new AppError(400, 'bad_request', 'page must be a whole number from 1');
    const listing = await directory.listing(query.data.page ?? 1);
    ctx.state['keys'] = listing.keys.length;
    sendPage(ctx, renderListingPage(listing, site(ctx), nowSeconds()));
  });

  router.get('/keys/:file', lookups, async (ctx) => {
    const { fingerprint, format } = parseKeyFile(ctx.params['file'] ?? '');
    if (format !== 'page') {
      const packets = await directory.download(fingerprint);
      ctx.state['keys'] = 1;
      ctx.set('Content-Disposition', `attachment; filename="${fingerprint}.${format}"`);
      ctx.type = format === 'asc' ? 'application/pgp-keys' : 'application/octet-stream';
      ctx.body = format === 'asc' ? encodeArmor(packets) : Buffer.from(packets);
      return;
    }
    const found = await directory.keyPage(fingerprint);
    if ('moved' in found) {
      ctx.redirect(`/keys/${found.moved}`);
      return;
    }
    ctx.state['keys'] = 1;
    sendPage(ctx, renderKeyDetailPage(found, site(ctx), nowSeconds()));
  });

  router.get('/stats', lookups, async (ctx) => {
    const stats = await directory.statistics();
    sendPage(ctx, renderStatsPage(statsPageData(stats), site(ctx)));
  });

  router.post('/upload', async (ctx) => {
    let outcome;
    try {
      const form = await readUploadForm(ctx, deps.maxBodyBytes);
      const token = await formToken(ctx, form.token, access);
      outcome = await deps.keys.submit(form.keys, { source: 'http', remoteAddress: ctx.ip, token, pushPolicy: access.pushPolicy });
    } catch (e) {
      // Nothing usable (every key refused, or no key at all): the same page with the reasons and the form again.
      if (!(e instanceof AppError) || !(e.code === 'no_key_data' || Array.isArray(e.details?.['rejected']))) throw e;
      const rejected = Array.isArray(e.details?.['rejected']) ? (e.details['rejected'] as { reason: string }[]) : [{ reason: e.message }];
      sendPage(ctx, renderUploadPage({ inserted: [], updated: [], unchanged: [], rejected, dropped: [] }, site(ctx)), e.status);
      return;
    }
    ctx.state['keys'] = outcome.inserted.length + outcome.updated.length + outcome.unchanged.length;
    sendPage(ctx, renderUploadPage(outcome, site(ctx)));
  });

  router.get('/static/:name', (ctx) => {
    const asset = Object.hasOwn(ASSETS, ctx.params['name'] ?? '') ? ASSETS[ctx.params['name']!] : undefined;
    if (!asset) throw new AppError(404, 'not_found', `no such file: ${ctx.path}`);
    ctx.set('ETag', `"${asset.hash}"`);
    // URLs carry the content hash (assetUrl): a changed file has a new URL.
    ctx.set('Cache-Control', ctx.query['v'] === asset.hash ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    if (ctx.get('if-none-match') === `"${asset.hash}"`) {
      ctx.status = 304;
      return;
    }
    ctx.type = asset.type;
    ctx.body = asset.body;
  });
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The stats page's data from the directory's statistics (also used by op=stats for browsers). */
export function statsPageData(s: Awaited<ReturnType<DirectoryService['statistics']>>) {
  return {
    version: s.version,
    totalKeys: s.totalKeys,
    started: s.started,
    inserted24h: s.last24h.inserted,
    updated24h: s.last24h.updated,
    inserted7d: s.last7d.inserted,
    updated7d: s.last7d.updated,
    hourly: s.hourly,
    daily: s.daily,
    perDay: s.perDay,
  };
}

interface UploadForm {
  keys: string | Uint8Array;
  token: string;
}

/** The upload form's fields: the pasted key (keytext) or the chosen file (keyfile), and the token. */
async function readUploadForm(ctx: Context, maxBodyBytes: number): Promise<UploadForm> {
  const type = (ctx.get('content-type') || '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'multipart/form-data' && type !== 'application/x-www-form-urlencoded') {
    throw new AppError(415, 'unsupported_media_type', 'send the upload form (multipart/form-data)');
  }
  const form = await parseForm(ctx, await readBody(ctx, maxBodyBytes), 'the upload form could not be read');
  const text = form.get('keytext');
  const file = form.get('keyfile');
  const pasted = typeof text === 'string' && text.trim() !== '' ? text : null;
  const chosen = file !== null && typeof file !== 'string' && file.size > 0 ? new Uint8Array(await file.arrayBuffer()) : null;
  const token = form.get('token');
  const tokenText = typeof token === 'string' ? token.trim() : '';
  if (pasted !== null && chosen !== null) throw new AppError(400, 'no_key_data', 'paste a key or choose a file, not both');
  const keys = pasted ?? chosen;
  if (keys === null) throw new AppError(400, 'no_key_data', 'no key was given: paste an armored key or choose a key file');
  return { keys, token: tokenText };
}

/**
 * The token of an upload: the form's field, else the Authorization header. With PUSH_POLICY=token a valid one
 * is required (401 otherwise); with open pushes a valid one is noted for the audit log and anything else ignored.
 */
async function formToken(ctx: Context, field: string, access: AccessSettings): Promise<AuthenticatedToken | null> {
  const header = readCredential(ctx.get('authorization') || undefined);
  const secret = field !== '' ? field : header.kind === 'secret' ? header.secret : null;
  const verdict = secret === null ? { problem: 'no token was given' } : await access.tokens.authenticate(secret);
  if ('token' in verdict) return verdict.token;
  if (access.pushPolicy === 'token') {
    throw new AppError(
      401,
      'unauthorized',
      `a valid access token is required to publish keys here: ${verdict.problem} (ask the keyserver's administrator for one)`,
    );
  }
  return null;
}
