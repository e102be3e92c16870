// Reads a request body with a hard size limit and extracts the key data of a /pks/add request.
import type { Context } from 'koa';
import { AppError } from '../errors.js';

export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      ctx.req.unpipe();
      ctx.req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): AppError {
  return new AppError(413, 'too_large', `request body is larger than the limit of ${limit} bytes`);
}

/** The key data of an add request: the keytext form field, or the body itself for key media types. */
export async function extractKeyText(ctx: Context, body: Buffer): Promise<string | Uint8Array> {
  const type = (ctx.get('content-type') || 'application/x-www-form-urlencoded').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    const keytext = new URLSearchParams(body.toString('utf8')).get('keytext');
    if (keytext === null || keytext.trim() === '') throw missingKeytext();
    return keytext;
  }
  if (type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(body), { headers: { 'content-type': ctx.get('content-type') } }).formData();
    } catch {
      throw new AppError(400, 'bad_request', 'malformed multipart/form-data body');
    }
    const field = form.get('keytext');
    if (field === null) throw missingKeytext();
    if (typeof field === 'string') {
      if (field.trim() === '') throw missingKeytext();
      return field;
    }
    return new Uint8Array(await field.arrayBuffer());
  }
  if (type === 'application/pgp-keys' || type === 'application/octet-stream' || type === 'text/plain') {
    if (body.length === 0) throw new AppError(400, 'no_key_data', 'request body is empty');
    return new Uint8Array(body);
  }
  throw new AppError(415, 'unsupported_media_type', `unsupported content type ${type}: send application/x-www-form-urlencoded with a keytext field`);
}

function missingKeytext(): AppError {
  return new AppError(400, 'no_key_data', 'missing keytext field with the key to add');
}
