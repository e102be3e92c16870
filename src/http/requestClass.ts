// What a request is, from its URL alone (path and query string): the route label of its metrics, the class of its
// rate limit and the op of its log line. One pure function, used by the app's middleware and by the cached-lookup
// shortcut alike, so both paths always agree.
import { unescape } from 'node:querystring';

export type RateLimitClass = 'get' | 'search' | 'add';

export interface RequestClass {
  /** A fixed name per route, never the URL (label values must not grow with the URLs asked for). */
  route: string;
  /** Which per-client rate limit applies; null: none. */
  rateLimit: RateLimitClass | null;
  /** The `op` parameter when given once (as the log line shows it); undefined when absent or repeated. */
  op: string | undefined;
}

// Routes with a name of their own; a route added elsewhere needs its row here (else it counts as `other`).
const ROUTES = new Map<string, string>([
  ['/pks/add', 'add'],
  ['/pks/health', 'health'],
  ['/version', 'version'],
  ['/metrics', 'metrics'],
  ['/', 'form'],
  // Singularity's remote endpoint (remoteEndpoint.ts), labelled by its path.
  ['/assets/config/config.prod.json', '/assets/config/config.prod.json'],
  ['/v1/token-status', '/v1/token-status'],
]);
const LOOKUP_OPS = new Set(['get', 'index', 'vindex', 'stats']);

// Routes whose paths carry parameters (addresses, user IDs, fingerprints): labelled, and logged, by their pattern, so
// that neither metrics labels nor log lines hold what was asked for.
const PARAMETERISED: [RegExp, string, RateLimitClass | null][] = [
  [/^\/pks\/v2\/certs\/by-vfingerprint\/[^/]+\/[^/]+$/, '/pks/v2/certs/by-vfingerprint/:version/:fingerprint', 'get'],
  [/^\/pks\/v2\/certs\/by-vfingerprint\/[^/]+$/, '/pks/v2/certs/by-vfingerprint/:versioned', 'get'],
  [/^\/pks\/v2\/certs\/by-keyid\/[^/]+$/, '/pks/v2/certs/by-keyid/:keyId', 'get'],
  [/^\/pks\/v2\/certs\/by-identity\/[^/]+$/, '/pks/v2/certs/by-identity/:identity', 'get'],
  [/^\/pks\/v2\/index\/[^/]+$/, '/pks/v2/index/:identity', 'search'],
  [/^\/pks\/v2\/prefixlog\/[^/]+$/, '/pks/v2/prefixlog/:day', 'search'],
  [/^\/vks\/v1\/by-fingerprint\/[^/]+$/, '/vks/v1/by-fingerprint/:fingerprint', 'get'],
  [/^\/vks\/v1\/by-keyid\/[^/]+$/, '/vks/v1/by-keyid/:keyId', 'get'],
  [/^\/vks\/v1\/by-email\/[^/]+$/, '/vks/v1/by-email/:email', 'get'],
  [/^\/\.well-known\/openpgpkey\/hu\/[^/]+$/, '/.well-known/openpgpkey/hu/:hash', 'get'],
  [/^\/\.well-known\/openpgpkey\/[^/]+\/hu\/[^/]+$/, '/.well-known/openpgpkey/:domain/hu/:hash', 'get'],
  [/^\/\.well-known\/openpgpkey\/[^/]+\/policy$/, '/.well-known/openpgpkey/:domain/policy', 'get'],
  [/^\/keys\/[^/]+$/, '/keys/:fingerprint', 'get'],
  [/^\/static\/[^/]+$/, '/static/:file', null],
];
// Pushes of the newer APIs, rate-limited as /pks/add.
const PUSH_ROUTES = new Set(['/pks/v2/certs', '/vks/v1/upload', '/vks/v1/request-verify', '/upload']);
// Other routes of the newer APIs and the directory's pages: named by their path.
const NAMED_PATHS: [string, RateLimitClass | null][] = [
  ['/.well-known/openpgpkey/policy', 'get'],
  ['/keys', 'search'],
  ['/stats', 'search'],
  ['/auth/tokens', null],
];
const MODERN_PREFIXES = ['/pks/v2/', '/vks/', '/.well-known/openpgpkey/'];

/**
 * The class of a request to `path` (as Koa's ctx.path: undecoded, no query) with query string `query` (no `?`).
 * Routes: add, lookup:get|index|vindex|stats (lookup:other for any other op), health, version, metrics, form (the
 * search page), the pattern of a route with parameters (`/vks/v1/by-email/:email`), the path of another named
 * route, or other. Rate limits: `get` for op=get lookups (any case) and key fetches of the newer APIs, `search` for
 * every other lookup and listing, `add` for pushes; none for OPTIONS (preflights).
 */
export function classifyRequest(path: string, query: string, method = 'GET'): RequestClass {
  const op = singleParameter(query, 'op');
  const limited = (rateLimit: RateLimitClass | null) => (method === 'OPTIONS' ? null : rateLimit);
  if (path === '/pks/lookup') {
    return {
      route: `lookup:${op !== undefined && LOOKUP_OPS.has(op) ? op : 'other'}`,
      rateLimit: limited(op?.toLowerCase() === 'get' ? 'get' : 'search'),
      op,
    };
  }
  if (path === '/pks/add' || PUSH_ROUTES.has(path)) return { route: ROUTES.get(path) ?? path, rateLimit: limited('add'), op };
  const named = ROUTES.get(path);
  if (named !== undefined) return { route: named, rateLimit: null, op };
  for (const [pattern, route, rateLimit] of PARAMETERISED) {
    if (pattern.test(path)) return { route, rateLimit: limited(rateLimit), op };
  }
  for (const [named_, rateLimit] of NAMED_PATHS) {
    if (path === named_) return { route: named_, rateLimit: limited(rateLimit), op };
  }
  const modern = MODERN_PREFIXES.some((prefix) => path.startsWith(prefix));
  return { route: 'other', rateLimit: modern ? limited('get') : null, op };
}

/** The path a log line shows: a route with parameters by its pattern, any other by its path. */
export function loggedPath(path: string, requestClass: RequestClass): string {
  return requestClass.route.includes('/:') ? requestClass.route : path;
}

/** The class of a raw request URL (path and query, as in the request line's origin form). */
export function classifyUrl(url: string): RequestClass {
  const hash = url.indexOf('#'); // not sent by clients, but Koa's URL parser drops it, so this does too
  const target = hash < 0 ? url : url.slice(0, hash);
  const q = target.indexOf('?');
  return q < 0 ? classifyRequest(target, '') : classifyRequest(target.slice(0, q), target.slice(q + 1));
}

/**
 * A parameter's value when the query string has it exactly once, decoded as Koa's ctx.query decodes it
 * (node:querystring: `+` is a space, percent escapes decoded, invalid ones kept); undefined otherwise. A scan for
 * one name, not a parse of the whole query: the cached-lookup path calls it on every request.
 */
export function singleParameter(query: string, name: string): string | undefined {
  let value: string | undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq >= 0 && eq < end ? eq : end;
    if (keyEnd > start && decode(query.slice(start, keyEnd)) === name) {
      if (value !== undefined) return undefined;
      value = keyEnd < end ? decode(query.slice(keyEnd + 1, end)) : '';
    }
    start = end + 1;
  }
  return value;
}

function decode(text: string): string {
  if (!text.includes('%') && !text.includes('+')) return text;
  return unescape(text.replace(/\+/g, ' '));
}

/** The class of a request through the Koa app, computed once per request (middleware and handlers share it). */
export function requestClassOf(ctx: { path: string; querystring: string; method?: string; state: Record<string, unknown> }): RequestClass {
  const known = ctx.state['requestClass'] as RequestClass | undefined;
  if (known) return known;
  const computed = classifyRequest(ctx.path, ctx.querystring, ctx.method);
  ctx.state['requestClass'] = computed;
  return computed;
}
