// Machine-readable index (op=index/vindex with options=mr), as read by gpg, SingularityCE (strict), OpenKeychain
// and GPGME. See docs/hkp-clients.md:
//
//   info:1:<number of pub records that follow>
//   pub:<FPR>:<algo>:<bits>:<created>:<expires>:<flag>
//   uid:<escaped uid>:<created>:<expires>:<flag>
//
// Rules kept here on purpose:
// - `info:1:N` where N is exactly the number of pub lines in this output (SingularityCE checks it).
// - pub lines always have exactly 7 fields (GPGME needs 7, never more); field 2 is the full upper-case fingerprint.
// - flag is at most one letter: 'r' wins over 'e' (SingularityCE compares the whole field).
// - uid creation dates are always digits (OpenKeychain's regex); empty expiry = none, never `0`.
// - only v4 keys: gpg 2.2 cannot parse v6 keys, so they are left out and not counted.
// Pure module: no I/O.
import type { KeySummary, SubkeySummary, UserIdSummary } from '../vocabulary.js';

export type IndexUserId = UserIdSummary;
export type IndexSubkey = SubkeySummary;

/** One signature, for vindex pages. */
export interface IndexSignature {
  type: number;
  issuerKeyId: string | null;
  created: number;
  issuerUserId: string | null;
}

export interface IndexKey extends KeySummary {
  userIds: IndexUserId[];
  subkeys?: IndexSubkey[];
}

const ALGORITHM_NAMES: Readonly<Record<number, string>> = {
  1: 'RSA',
  2: 'RSA',
  3: 'RSA',
  16: 'ELG',
  17: 'DSA',
  18: 'ECDH',
  19: 'ECDSA',
  22: 'EdDSA',
  25: 'X25519',
  26: 'X448',
  27: 'Ed25519',
  28: 'Ed448',
};

/** Short human name of an OpenPGP public-key algorithm id. */
export function algorithmName(id: number): string {
  return ALGORITHM_NAMES[id] ?? `algo${id}`;
}

const utf8 = new TextEncoder();

/**
 * Percent-encode a user ID for a `uid:` line. Works on the UTF-8 bytes: `%`, `:`, `+`, control bytes
 * (< 0x20, 0x7F) and every byte >= 0x80 become `%XX` (upper-case hex); other printable ASCII stays as is.
 * (Clients URL-decode the field, so a raw `+` would turn into a space.)
 */
export function escapeUserId(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) {
    if (b < 0x20 || b >= 0x7f || b === 0x25 /* % */ || b === 0x3a /* : */ || b === 0x2b /* + */) {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    } else {
      out += String.fromCharCode(b);
    }
  }
  return out;
}

/** A non-negative integer as digits (guards against fractions, negatives and NaN slipping into a strict field). */
function digits(n: number): string {
  return Number.isFinite(n) && n > 0 ? String(Math.floor(n)) : '0';
}

function optionalDate(n: number | null): string {
  return n === null ? '' : digits(n);
}

function flag(revoked: boolean, expires: number | null, now: number): string {
  if (revoked) return 'r';
  if (expires !== null && expires <= now) return 'e';
  return '';
}

/** Keys listed in the machine-readable index: only v4 (gpg 2.2 cannot read v6). */
function listable(key: IndexKey): boolean {
  return key.version === 4;
}

/**
 * The whole machine-readable index response body (ends with "\n").
 * @param now Unix seconds, for the 'e' flags.
 */
export function formatMachineReadableIndex(keys: IndexKey[], now: number): string {
  const shown = keys.filter(listable);
  const lines: string[] = [`info:1:${shown.length}`];
  for (const key of shown) {
    lines.push(
      [
        'pub',
        key.fingerprint.toUpperCase(),
        digits(key.algorithm),
        digits(key.bits),
        digits(key.created),
        optionalDate(key.expires),
        flag(key.revoked, key.expires, now),
      ].join(':'),
    );
    for (const uid of key.userIds) {
      lines.push(['uid', escapeUserId(uid.text), digits(uid.created), optionalDate(uid.expires), flag(uid.revoked, uid.expires, now)].join(':'));
    }
  }
  return lines.join('\n') + '\n';
}
