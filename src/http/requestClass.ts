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

/**
 * The class of a request to `path` (as Koa's ctx.path: undecoded, no query) with query string `query` (no `?`).
 * Routes: add, lookup:get|index|vindex|stats (lookup:other for any other op), health, version, metrics, form (the
 * search page), the path of another named route, or other. Rate limits: `get` for op=get lookups (any case),
 * `search` for every other lookup, `add` for pushes.
 */
export function classifyRequest(path: string, query: string): RequestClass {
  const op = singleParameter(query, 'op');
  if (path === '/pks/lookup') {
    return { route: `lookup:${op !== undefined && LOOKUP_OPS.has(op) ? op : 'other'}`, rateLimit: op?.toLowerCase() === 'get' ? 'get' : 'search', op };
  }
  return { route: ROUTES.get(path) ?? 'other', rateLimit: path === '/pks/add' ? 'add' : null, op };
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
export function requestClassOf(ctx: { path: string; querystring: string; state: Record<string, unknown> }): RequestClass {
  const known = ctx.state['requestClass'] as RequestClass | undefined;
  if (known) return known;
  const computed = classifyRequest(ctx.path, ctx.querystring);
  ctx.state['requestClass'] = computed;
  return computed;
}
