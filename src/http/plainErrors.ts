// Routes whose clients read errors as a bare body rather than the JSON or HTML the rest answer: VKS as Hagrid
// answers them (plain text for lookups, {"error": ...} for uploads) and Web Key Directory (plain text).
import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';

/** Middleware answering an AppError thrown below it with its status and `format(message)` as a `type` body. */
export function errorsAnsweredAs(type: string, format: (message: string) => string) {
  return async function answerErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      ctx.status = e.status;
      ctx.type = type;
      ctx.body = format(e.message);
    }
  };
}

export const plainTextErrors = errorsAnsweredAs('text/plain; charset=utf-8', (message) => `${message}\n`);
