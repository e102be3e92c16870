// What a `search` parameter asks for (HKP draft §3.1.1 plus what clients really send). Pure.
import { AppError } from '../errors.js';
import { normalizeIdentity, userIdWords } from '../openpgp/index.js';
import type { KeyQuery } from '../vocabulary.js';

const HEX = /^[0-9a-fA-F]+$/;
const GROUPED_HEX = /^[0-9a-fA-F]{4}(\s+[0-9a-fA-F]{4})+$/;

/**
 * Fingerprints (40/64 hex), long (16) and short (8) key IDs, with or without 0x; 9-15 hex digits are a
 * long key ID whose leading zeros were dropped (Singularity). An e-mail (a@b or <a@b>) or an account name in
 * brackets (<name>) matches that identity; other text matches user IDs containing every word (whole words, any
 * case; text without a letter or digit is refused), or with exact=on the whole user ID or the identity.
 */
export function parseSearch(raw: string, exact: boolean): KeyQuery {
  const search = raw.trim();
  if (search.length === 0) throw new AppError(400, 'invalid_search', 'search parameter is empty');
  // No user ID search needs control characters (other than whitespace), and PostgreSQL text cannot hold NUL.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(search)) throw new AppError(400, 'invalid_search', 'search contains control characters');
  const prefixed = /^0x/i.test(search);
  const body = prefixed ? search.slice(2) : search;
  // Spaces are ignored after 0x, and in a fingerprint printed as groups of four hex digits.
  const ungrouped = body.replace(/\s+/g, '');
  const isFingerprintLength = ungrouped.length === 40 || ungrouped.length === 64;
  const hexCandidate = prefixed || (GROUPED_HEX.test(body) && isFingerprintLength) ? ungrouped : body;
  if (HEX.test(hexCandidate)) {
    const hex = hexCandidate.toUpperCase();
    const n = hex.length;
    if (n === 40 || n === 64) return { kind: 'fingerprint', fingerprint: hex };
    if (n === 16) return { kind: 'longId', keyId: hex };
    if (n >= 9 && n <= 15 && prefixed) return { kind: 'longId', keyId: hex.padStart(16, '0') };
    if (n === 8) return { kind: 'shortId', keyId: hex };
    if (prefixed) {
      throw new AppError(400, 'invalid_search', `a key ID or fingerprint has 8, 16, 40 or 64 hex digits; got ${n}`);
    }
  }
  const email = /^<?\s*([^\s<>@]+@[^\s<>@]+)\s*>?$/.exec(search);
  if (email) return { kind: 'identity', identity: normalizeIdentity(email[1]!) ?? email[1]!.toLowerCase() };
  const bracketed = /^<([^<>]*)>$/.exec(search);
  const named = bracketed ? normalizeIdentity(bracketed[1]!) : null;
  if (named !== null) return { kind: 'identity', identity: named };
  if (exact) return { kind: 'exactUserId', text: search, identity: normalizeIdentity(search) };
  // Whole words, as stored for each user ID at import (punctuation separates words, case is ignored).
  const words = userIdWords(search);
  if (words.length === 0) throw new AppError(400, 'invalid_search', 'search has no letters or digits to match');
  return { kind: 'words', words, text: search.split(/\s+/).join(' ') };
}
