// The Koa application: middleware (logging, errors, CORS) and routes.
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { renderErrorPage, renderFrontPage, type SiteInfo } from '../formats/html.js';
import type { Metrics } from '../metrics.js';
import type { KeyService } from '../services/keyService.js';
import type { DirectoryService } from '../services/directoryService.js';
import type { LookupService } from '../services/lookupService.js';
import type { CertService } from '../services/certService.js';
import type { VksService } from '../services/vksService.js';
import { loginCheck, lookupAccess, pushAccess, type AccessSettings } from './auth.js';
import { addHandler } from './hkp/add.js';
import { rateLimit, type RateLimiter } from './rateLimit.js';
import { lookupHandler } from './hkp/lookup.js';
import type { LookupCache } from './hkp/lookupCache.js';
import { registerRemoteEndpoint } from './remoteEndpoint.js';
import { metricsHandler } from './metricsRoute.js';
import { requestId } from './requestId.js';
import { loggedPath, requestClassOf } from './requestClass.js';
import { requestMetrics } from './requestMetrics.js';
import { registerHkpV2 } from './v2/routes.js';
import { registerVks } from './vks/routes.js';
import { registerWkd } from './wkd/routes.js';
import { commonHeaders, errorJson, errorLogFields, logRequest } from './requestOutcome.js';
import { pageHeaders, prefersHtml, registerWebRoutes, siteOf, type WebSettings } from './web.js';

export interface AppDependencies {
  keys: KeyService;
  lookups: LookupService;
  /** Lookups of HKP v2, VKS and Web Key Directory (v6 keys included). */
  certs: CertService;
  vks: VksService;
  /** Domains whose Web Key Directory is served (WKD_DOMAINS), lower-case. */
  wkdDomains: ReadonlySet<string>;
  /** Answers of op=get/index kept until a write touches them. */
  lookupCache: LookupCache;
  logger: Logger;
  version: string;
  maxBodyBytes: number;
  /** Whether an unexpected error means the database is unreachable (answered 503, not 500). */
  isUnavailable: (e: unknown) => boolean;
  /** Tokens and who needs one (PUSH_POLICY, LOOKUP_POLICY), and PUBLIC_URL. */
  access: AccessSettings;
  metrics: Metrics;
  /** Whether GET /metrics is served here (false when METRICS_PORT gives it a port of its own). */
  serveMetrics: boolean;
  /** Per-client rate limits; absent when RATE_LIMIT=off. */
  rateLimiter?: RateLimiter | undefined;
  /** The web pages: key pages, listing, statistics. */
  directory: DirectoryService;
  /** SITE_NAME, SITE_CONTACT and the version, for the pages. */
  web: WebSettings;
}

export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  app.proxy = false;
  app.use(requestId());
  app.use(requestLog(deps.logger));
  app.use(requestMetrics(deps.metrics));
  app.use(pageHeaders());
  app.use(errorHandler(deps.logger, deps.isUnavailable, (ctx) => siteOf(ctx, deps.access, deps.web)));
  app.use(async (ctx, next) => {
    for (const [name, value] of commonHeaders(ctx.path)) ctx.set(name, value);
    await next();
  });
  if (deps.rateLimiter) app.use(rateLimit(deps.rateLimiter));

  const router = new Router();
  router.post('/pks/add', pushAccess(deps.access), addHandler(deps.keys, deps.maxBodyBytes, deps.access.pushPolicy));
  router.get(
    '/pks/lookup',
    lookupAccess(deps.access),
    lookupHandler(deps.lookups, deps.lookupCache, {
      directory: deps.directory,
      site: (ctx) => siteOf(ctx, deps.access, deps.web),
    }),
  );
  registerRemoteEndpoint(router, deps.access);
  const lookupCheck = lookupAccess(deps.access);
  registerHkpV2(router, { certs: deps.certs, keys: deps.keys, access: deps.access, maxBodyBytes: deps.maxBodyBytes, lookupAccess: lookupCheck });
  registerVks(router, { certs: deps.certs, vks: deps.vks, access: deps.access, maxBodyBytes: deps.maxBodyBytes, lookupAccess: lookupCheck });
  registerWkd(router, { certs: deps.certs, domains: deps.wkdDomains, lookupAccess: lookupCheck });
  router.get('/', loginCheck(deps.access), (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderFrontPage(siteOf(ctx, deps.access, deps.web));
  });
  registerWebRoutes(router, { directory: deps.directory, keys: deps.keys, access: deps.access, web: deps.web, maxBodyBytes: deps.maxBodyBytes });
  router.get('/version', (ctx) => {
    ctx.body = { data: { version: deps.version } };
  });
  if (deps.serveMetrics) router.get('/metrics', metricsHandler(deps.metrics));
  router.get('/pks/health', async (ctx) => {
    try {
      await deps.keys.ping();
      ctx.body = { status: 'ok' };
    } catch {
      throw new AppError(503, 'unavailable', 'database is not answering');
    }
  });
  // Around the router, so that what allowedMethods answers (OPTIONS, 405 with Allow) is not taken for a 404.
  app.use(async (ctx, next) => {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) throw new AppError(404, 'not_found', `no such resource: ${ctx.path}`);
    if (ctx.status === 405)
      throw new AppError(405, 'method_not_allowed', `${ctx.method} is not allowed on ${ctx.path} (allowed: ${ctx.response.get('Allow')})`);
  });
  app.use(preflight);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}

/**
 * OPTIONS (a browser's preflight) is answered by the router with the path's methods in Allow; a preflight also
 * needs them, and the headers a page may send, in Access-Control-* headers (the origin is in commonHeaders).
 */
async function preflight(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.method !== 'OPTIONS') return;
  const allow = ctx.response.get('Allow');
  if (allow) {
    ctx.set('Access-Control-Allow-Methods', allow);
    ctx.set('Access-Control-Allow-Headers', 'Content-Type, Authorization, Accept');
    ctx.set('Access-Control-Max-Age', '86400');
  }
}

/** The request log line (requestOutcome.ts) of every request through the app. */
export function requestLog(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    const remote = ctx.ip; // read now: once a client has gone, ctx.ip throws (its socket is null)
    try {
      await next();
    } finally {
      logRequest(logger, {
        requestId: ctx.state['requestId'],
        method: ctx.method,
        path: loggedPath(ctx.path, requestClassOf(ctx)),
        op: requestClassOf(ctx).op,
        search: ctx.state['search'],
        status: ctx.status,
        keys: ctx.state['keys'],
        reason: ctx.state['errorReason'],
        started,
        remote,
      });
    }
  };
}

export function errorHandler(logger: Logger, isUnavailable: (e: unknown) => boolean, site?: (ctx: Context) => SiteInfo) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (e) {
      const error =
        e instanceof AppError
          ? e
          : isUnavailable(e)
            ? new AppError(503, 'unavailable', 'the key database is not reachable; try again shortly')
            : internalError(e, logger, ctx.state['requestId']);
      ctx.status = error.status;
      ctx.state['errorReason'] = error.code;
      // A person's browser gets a page; every other client the JSON error.
      if (site && prefersHtml(ctx)) {
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = renderErrorPage(error, site(ctx));
        return;
      }
      ctx.type = 'application/json';
      ctx.body = errorJson(error);
    }
  };
}

function internalError(e: unknown, logger: Logger, requestId: unknown): AppError {
  logger.error({ requestId, err: errorLogFields(e) }, 'unhandled error');
  return new AppError(500, 'internal', 'internal server error');
}
