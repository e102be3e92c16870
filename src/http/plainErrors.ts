// Routes whose clients read errors as short plain text (VKS lookups as Hagrid answers them, Web Key Directory).
import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';

export async function plainTextErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    ctx.status = e.status;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `${e.message}\n`;
  }
}
