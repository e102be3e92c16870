// Sylabs pagination tokens (x-pagetoken / X-HKP-Next-Page-Token): an opaque, versioned result offset. Pure.
import { AppError } from '../errors.js';

const PREFIX = 'o1:';
const MAX_OFFSET = 1_000_000;

export function encodePageToken(offset: number): string {
  return Buffer.from(`${PREFIX}${offset}`, 'utf8').toString('base64url');
}

export function decodePageToken(token: string): number {
  const text = /^[A-Za-z0-9_-]{1,32}$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const match = /^o1:(\d{1,7})$/.exec(text);
  const offset = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) {
    throw new AppError(400, 'bad_request', 'invalid x-pagetoken');
  }
  return offset;
}
