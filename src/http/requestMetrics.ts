// Counts and times every request under a fixed route name, so labels never grow with the URLs asked for.
import type { Context, Next } from 'koa';
import type { Metrics } from '../metrics.js';

const ROUTES: Record<string, string> = {
  '/pks/add': 'add',
  '/pks/health': 'health',
  '/version': 'version',
  '/metrics': 'metrics',
  '/': 'form',
};
const LOOKUP_OPS = new Set(['get', 'index', 'vindex', 'stats']);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/**
 * The route label of a request: add, lookup:get|index|vindex|stats (lookup:other for any other op), health,
 * version, metrics, form (the search page), the pattern of another route the router matched, or other.
 */
export function routeLabel(ctx: Context): string {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  const pattern = typeof matched === 'string' ? matched : undefined;
  if (ctx.path === '/pks/lookup' || pattern === '/pks/lookup') {
    const op = ctx.query['op'];
    return `lookup:${typeof op === 'string' && LOOKUP_OPS.has(op) ? op : 'other'}`;
  }
  // Routes added later are labelled by their pattern (e.g. /pks/tokens/:id), still a fixed set.
  return ROUTES[ctx.path] ?? (pattern === undefined ? 'other' : ROUTES[pattern] ?? pattern);
}

export function requestMetrics(metrics: Metrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const method = METHODS.has(ctx.method) ? ctx.method : 'other';
      metrics.observeRequest({ route: routeLabel(ctx), method, status: ctx.status }, seconds);
    }
  };
}
