// Counts and times every request under a fixed route name (requestClass.ts), so labels never grow with the URLs
// asked for.
import type { Context, Next } from 'koa';
import type { Metrics } from '../metrics.js';
import { requestClassOf } from './requestClass.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

export function requestMetrics(metrics: Metrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const method = METHODS.has(ctx.method) ? ctx.method : 'other';
      metrics.observeRequest({ route: requestClassOf(ctx).route, method, status: ctx.status }, seconds);
    }
  };
}
