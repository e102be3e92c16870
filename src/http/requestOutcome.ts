// What every answer shares, whichever path produced it: the request log line and the JSON error body.
import type { Logger } from 'pino';
import type { AppError } from '../errors.js';

export interface RequestLogFields {
  requestId: unknown;
  method: string;
  path: string;
  op: string | undefined;
  /** The kind of search (fingerprint, identity, words, …), never its text. */
  search: unknown;
  status: number;
  keys: unknown;
  /** When the request arrived (process.hrtime.bigint()). */
  started: bigint;
  remote: string;
}

/** One structured line per request; never key material, tokens or full search strings. */
export function logRequest(logger: Logger, fields: RequestLogFields): void {
  const { started, ...rest } = fields;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  logger.info({ ...rest, ms: Math.round(ms * 10) / 10 }, 'request');
}

/**
 * Headers every answer carries, whichever path produced it: HKP lookups and pushes may be called from any web
 * page (CORS), and answers echo client text (searches, user IDs) inside JSON and text, so a browser must never
 * sniff them as HTML.
 */
export function commonHeaders(path: string): [string, string][] {
  const headers: [string, string][] = [['X-Content-Type-Options', 'nosniff']];
  if (path.startsWith('/pks/')) headers.unshift(['Access-Control-Allow-Origin', '*']);
  return headers;
}

/**
 * An unexpected error as logged: its type, message and stack only. Database errors carry the query parameters
 * (search strings, key data), which must not reach the log.
 */
export function errorLogFields(e: unknown): { type?: string; message: string; stack?: string | undefined } {
  return e instanceof Error ? { type: e.name, message: e.message, stack: e.stack } : { message: String(e) };
}

/** The body of an error answer: `{"error":{"code":…,"message":…}}` and the error's extra fields. */
export function errorJson(error: AppError): string {
  return JSON.stringify({ error: { code: error.status, message: error.message }, ...(error.details ?? {}) });
}
