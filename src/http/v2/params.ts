// Path parameters of the HKP v2 routes, checked: a malformed one is a 400 with the reason.
import { AppError } from '../../errors.js';
import type { KeyQuery } from '../../vocabulary.js';
import { parseSearch } from '../../services/search.js';

const FINGERPRINT_DIGITS: Record<string, number> = { '04': 40, '06': 64 };

function bad(message: string): AppError {
  return new AppError(400, 'bad_request', message);
}

/** `04` + 40 hex digits or `06` + 64 (any case): the upper-case fingerprint. */
export function parseVersionedFingerprint(version: string, fingerprint: string): string {
  const digits = FINGERPRINT_DIGITS[version];
  if (digits === undefined) throw bad(`key version must be 04 or 06 (two hex digits), got ${JSON.stringify(version.slice(0, 8))}`);
  if (fingerprint.length !== digits || !/^[0-9a-fA-F]+$/.test(fingerprint)) {
    throw bad(`a v${Number(version)} fingerprint is ${digits} hex digits`);
  }
  return fingerprint.toUpperCase();
}

/** 16 hex digits (any case, no 0x): the upper-case long key ID. */
export function parseKeyId(keyId: string): string {
  if (!/^[0-9a-fA-F]{16}$/.test(keyId)) throw bad('a key ID is 16 hex digits');
  return keyId.toUpperCase();
}

function checkedIdentity(raw: string): string {
  const identity = raw.trim();
  if (identity === '') throw bad('the identity is empty');
  if (identity.length > 4096) throw bad('the identity is longer than 4096 characters');
  if (/[\u0000-\u001f\u007f]/.test(identity)) throw bad('the identity contains control characters');
  return identity;
}

/** The site's normal form of an identity (docs/identities.md): NFC, trimmed, lower case. */
function normalForm(text: string): string {
  return text.normalize('NFC').trim().toLowerCase();
}

/**
 * An identity: an e-mail address (a@b or <a@b>), an account name (<name>, or alone), or else a whole user ID,
 * matched exactly (ignoring case).
 */
export function identityQuery(raw: string): KeyQuery {
  const identity = checkedIdentity(raw);
  const email = /^<?\s*([^\s<>@]+@[^\s<>@]+)\s*>?$/.exec(identity) ?? /^<\s*([^\s<>]+)\s*>$/.exec(identity);
  if (email) return { kind: 'identity', identity: normalForm(email[1]!) };
  // A whole user ID, or an account name (an identity without an @), as `exact=on` matches them.
  return { kind: 'exactUserId', text: identity, identity: /[\s<>]/.test(identity.trim()) ? null : normalForm(identity) };
}

/** What the index lists: as a legacy search with exact=on (fingerprint, key ID, e-mail or whole user ID). */
export function indexQuery(raw: string): KeyQuery {
  return parseSearch(checkedIdentity(raw), true);
}

/** `yyyy-mm-dd`, a real day: its midnight UTC. */
export function parseDay(day: string): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : null;
  if (!date || date.toISOString().slice(0, 10) !== day) throw bad('the day is a date written yyyy-mm-dd');
  return date;
}
