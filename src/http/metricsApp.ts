// The app of METRICS_PORT: GET /metrics only, apart from the HKP port.
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { errorHandler, requestLog } from './app.js';
import { metricsHandler } from './metricsRoute.js';
import { requestId } from './requestId.js';
import { requestMetrics } from './requestMetrics.js';

/** The app of the separate metrics port: /metrics only, with the same request ids, log lines and counting. */
export function createMetricsApp(deps: { metrics: Metrics; logger: Logger }): Koa {
  const app = new Koa();
  app.use(requestId());
  app.use(requestLog(deps.logger));
  app.use(requestMetrics(deps.metrics));
  app.use(errorHandler(deps.logger, () => false));
  const router = new Router();
  router.get('/metrics', metricsHandler(deps.metrics));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  app.use(async (ctx) => {
    if (ctx.status === 404 && ctx.body === undefined) throw new AppError(404, 'not_found', `no such resource: ${ctx.path}`);
  });
  return app;
}
