// A request id per request: the caller's X-Request-Id when it is sane, else a new UUID; echoed back.
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id of a request, given a sane X-Request-Id header value (or not). */
export function chooseRequestId(header: string | undefined): string {
  return header !== undefined && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** Sets ctx.state.requestId and the X-Request-Id response header (kept on error responses too). */
export function requestId() {
  return async (ctx: Context, next: Next): Promise<void> => {
    const id = chooseRequestId(ctx.get('x-request-id') || undefined);
    ctx.state['requestId'] = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}
