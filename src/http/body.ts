// Reads a request body with a hard size limit and extracts the key data of a /pks/add request.
import type { Context } from 'koa';
import { AppError } from '../errors.js';

/** Longest a refused HTTP/1.1 body is read on (and discarded) before the answer is sent and the connection closed. */
const LINGER_MS = 2_000;

/**
 * Reads the request body, at most `limit` bytes. Over the limit it answers 413 and closes the connection
 * after the answer (the rest of the body is discarded, never buffered).
 */
export function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const req = ctx.req;
  const declared = Number(ctx.get('content-length') || NaN);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const refuse = (error: AppError) => {
      cleanup();
      // HTTP/2 has no Connection header (node drops it with a warning): the stream alone ends.
      if (req.httpVersionMajor < 2) ctx.set('Connection', 'close');
      req.resume();
      if (req.httpVersionMajor >= 2 || req.complete) {
        reject(error);
        return;
      }
      // Lingering close: closing a connection the client is still sending on resets it, and the client loses the
      // answer with it. So the rest of the body is read (discarded) before answering, for at most LINGER_MS.
      const answer = () => {
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(answer, LINGER_MS);
      req.once('end', answer);
      req.once('close', answer);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) refuse(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    // A client that stops sending mid-body is the client's problem (400), not the database's.
    const onError = () => refuse(new AppError(400, 'bad_request', 'the request body was not received completely'));
    const onAborted = onError;
    if (declared > limit) {
      refuse(tooLarge(limit));
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

function tooLarge(limit: number): AppError {
  return new AppError(413, 'too_large', `request body is larger than the limit of ${limit} bytes`);
}

/** The key data of an add request: the keytext form field, or the body itself for key media types. */
export async function extractKeyText(ctx: Context, body: Buffer): Promise<string | Uint8Array> {
  const type = (ctx.get('content-type') || 'application/x-www-form-urlencoded').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    const keytext = formValue(body, 'keytext');
    if (keytext === null || keytext.trim() === '') throw missingKeytext();
    return keytext;
  }
  if (type === 'multipart/form-data') {
    const form = await parseForm(ctx, body, 'malformed multipart/form-data body');
    const field = form.get('keytext');
    if (field === null) throw missingKeytext();
    if (typeof field === 'string') {
      if (field.trim() === '') throw missingKeytext();
      return field;
    }
    return new Uint8Array(await field.arrayBuffer());
  }
  if (type === 'application/pgp-keys' || type === 'application/pgp' || type === 'application/octet-stream' || type === 'text/plain') {
    if (body.length === 0) throw new AppError(400, 'no_key_data', 'request body is empty');
    return new Uint8Array(body);
  }
  throw new AppError(415, 'unsupported_media_type', `unsupported content type ${type}: send application/x-www-form-urlencoded with a keytext field`);
}

/**
 * The first value of a urlencoded body's field, as `new URLSearchParams(body as UTF-8).get(name)` gives it. When
 * the body starts with the field (gpg sends keytext alone), its value is decoded at once by the platform's
 * decodeURIComponent, several times quicker than the whole parse; other bodies, and values it refuses (a
 * malformed percent escape, not UTF-8), take URLSearchParams.
 */
export function formValue(body: Buffer, name: string): string | null {
  const text = body.toString('utf8');
  const head = `${name}=`;
  if (text.startsWith(head)) {
    const end = text.indexOf('&', head.length);
    const raw = text.slice(head.length, end < 0 ? text.length : end);
    try {
      return decodeURIComponent(raw.includes('+') ? raw.replaceAll('+', ' ') : raw);
    } catch {
      // URLSearchParams decodes what decodeURIComponent refuses (leniently), below.
    }
  }
  return new URLSearchParams(text).get(name);
}

/** A multipart or urlencoded body as form fields (the platform's parser); a 400 with `unreadable` if it fails. */
export async function parseForm(ctx: Context, body: Buffer, unreadable: string): Promise<FormData> {
  try {
    return await new Response(new Uint8Array(body), { headers: { 'content-type': ctx.get('content-type') } }).formData();
  } catch {
    throw new AppError(400, 'bad_request', unreadable);
  }
}

function missingKeytext(): AppError {
  return new AppError(400, 'no_key_data', 'missing keytext field with the key to add');
}
