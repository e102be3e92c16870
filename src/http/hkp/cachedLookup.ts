// Answers GET /pks/lookup requests seen before straight from the lookup cache, before the Koa app: a refresh
// or a repeated search costs a Map lookup and one write instead of the whole middleware chain (about 40% of
// the time of a cached fetch, and most of it with Connection: close). Everything else, and anything this
// path is unsure of, goes to the app. The answer, its headers, the log line, the metrics and the rate limit
// are the same as the app's (test/integration/cachedLookup.test.ts compares them).
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import { rateLimited, type RateLimiter } from '../rateLimit.js';
import { classifyUrl } from '../requestClass.js';
import { chooseRequestId } from '../requestId.js';
import { commonHeaders, errorJson, errorLogFields, logRequest } from '../requestOutcome.js';
import type { LookupCache } from './lookupCache.js';

export interface CachedLookupDependencies {
  cache: LookupCache;
  logger: Logger;
  metrics: Metrics;
  rateLimiter?: RateLimiter | undefined;
}

const LOOKUP_PREFIX = '/pks/lookup?';
// Name, value, name, value, ...
const LOOKUP_HEADERS = commonHeaders('/pks/lookup').flat();

/** A request listener answering cached lookups itself and passing every other request to `app`. */
export function cachedLookupListener(deps: CachedLookupDependencies, app: RequestListener): RequestListener {
  return (req, res) => {
    let answered = false;
    try {
      answered = answerFromCache(deps, req, res);
    } catch (e) {
      // Never let this shortcut take the process down: log it, and let the app answer if nothing was sent yet.
      deps.logger.error({ err: errorLogFields(e) }, 'cached lookup failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
    }
    if (!answered) app(req, res);
  };
}

function answerFromCache(deps: CachedLookupDependencies, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url;
  // Browsers (Accept: text/html) may get a page instead: the app decides.
  if (req.method !== 'GET' || url === undefined || !url.startsWith(LOOKUP_PREFIX) || req.headers.accept?.toLowerCase().includes('text/html'))
    return false;
  const cached = deps.cache.forRequest(url);
  if (!cached) return false;
  const started = process.hrtime.bigint();
  const remote = req.socket.remoteAddress ?? '';
  const requestClass = classifyUrl(url);
  // Over the limit: refused here, as the app would refuse it (a flood of refused requests must cost the least).
  let wait = 0;
  if (deps.rateLimiter && requestClass.rateLimit) {
    const client = deps.rateLimiter.clientAddress(remote, headerValue(req.headers['x-forwarded-for']));
    wait = deps.rateLimiter.take(requestClass.rateLimit, client);
  }
  const requestId = chooseRequestId(headerValue(req.headers['x-request-id']));
  const { request } = cached;
  const answer = wait > 0 ? rateLimited(wait) : cached.answer;
  // All headers in one flat list given to writeHead: node's fast path, without a setHeader (and its checks and
  // header map) per header.
  const head: (string | number)[] = ['X-Request-Id', requestId, ...LOOKUP_HEADERS];
  let status: number;
  let keys: number | undefined;
  let reason: string | undefined;
  let body: Buffer;
  if (answer instanceof AppError) {
    status = answer.status;
    reason = answer.code;
    body = Buffer.from(errorJson(answer));
    if (wait > 0) head.push('Retry-After', wait);
    head.push('Content-Type', 'application/json; charset=utf-8');
  } else {
    status = 200;
    keys = answer.keys;
    body = answer.body;
    if (answer.headers) for (const name in answer.headers) head.push(name, answer.headers[name]!);
    head.push('Content-Type', answer.type);
  }
  head.push('Content-Length', body.length);
  res.writeHead(status, head as string[]);
  res.end(body);
  deps.metrics.observeRequest({ route: requestClass.route, method: 'GET', status }, Number(process.hrtime.bigint() - started) / 1e9);
  logRequest(deps.logger, {
    requestId,
    method: 'GET',
    path: '/pks/lookup',
    op: requestClass.op,
    // The app logs no search for a request it refuses before reading it.
    search: wait > 0 ? undefined : request.search,
    status,
    keys,
    reason,
    started,
    remote,
  });
  return true;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
