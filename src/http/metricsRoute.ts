// GET /metrics: every metric of this server instance in Prometheus text format.
import type { Context } from 'koa';
import type { Metrics } from '../metrics.js';

export function metricsHandler(metrics: Metrics) {
  return async (ctx: Context): Promise<void> => {
    const text = await metrics.render();
    ctx.set('Content-Type', metrics.contentType);
    ctx.body = text;
  };
}
