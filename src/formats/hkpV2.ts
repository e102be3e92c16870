// HKP v2 (draft-ietf-openpgp-hkp-01) answers: the index JSON, the fingerprint prefix log, the push summary. Pure.
import type { KeySummary, SubkeySummary, SubmitResult, UserIdSummary } from '../vocabulary.js';

/** The facts of a key that the index lists (as the store gives them; times in Unix seconds). */
export interface V2IndexKey extends KeySummary {
  userIds: Pick<UserIdSummary, 'text' | 'revoked'>[];
  subkeys: SubkeySummary[];
}

// RFC 9580 §9.1 public-key algorithm IDs.
const ALGORITHM_NAMES: Record<number, string> = {
  1: 'RSA',
  2: 'RSA (encrypt only)',
  3: 'RSA (sign only)',
  16: 'Elgamal',
  17: 'DSA',
  18: 'ECDH',
  19: 'ECDSA',
  20: 'Elgamal (sign and encrypt)',
  22: 'EdDSA (legacy)',
  25: 'X25519',
  26: 'X448',
  27: 'Ed25519',
  28: 'Ed448',
};

/** RFC 3339 in UTC (`2026-12-03T10:00:00Z`) of Unix seconds. */
export function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function algorithm(code: number, bits: number) {
  return { code, name: ALGORITHM_NAMES[code] ?? `unknown (${code})`, bitLength: bits };
}

/** A key's version from its fingerprint's length: 64 hex digits for v6, 40 for v4. */
export function versionOfFingerprint(fingerprint: string): number {
  return fingerprint.length === 64 ? 6 : 4;
}

/**
 * `GET /pks/v2/index/...`: a JSON array, one object per key with the draft's fields (version, lower-case
 * fingerprint, algorithm {code,name,bitLength}, creation/expiration in RFC 3339, userIDs {uidString, confidence,
 * isRevoked}, subkeys) and Hockeypuck's (keywords beside uidString, longKeyID, bitLength, revoked). confidence
 * is 0: keystore never checks that an address belongs to the key's holder.
 */
export function formatV2Index(keys: readonly V2IndexKey[]): string {
  return JSON.stringify(
    keys.map((k) => ({
      version: k.version,
      fingerprint: k.fingerprint.toLowerCase(),
      longKeyID: k.keyId.toLowerCase(),
      algorithm: algorithm(k.algorithm, k.bits),
      bitLength: k.bits,
      creation: rfc3339(k.created),
      ...(k.expires !== null ? { expiration: rfc3339(k.expires) } : {}),
      revoked: k.revoked,
      userIDs: k.userIds.map((u) => ({ uidString: u.text, keywords: u.text, confidence: 0, isRevoked: u.revoked })),
      subkeys: k.subkeys.map((s) => ({
        version: versionOfFingerprint(s.fingerprint),
        fingerprint: s.fingerprint.toLowerCase(),
        longKeyID: s.keyId.toLowerCase(),
        algorithm: algorithm(s.algorithm, s.bits),
        creation: rfc3339(s.created),
        ...(s.expires !== null ? { expiration: rfc3339(s.expires) } : {}),
        isRevoked: s.revoked,
      })),
    })),
  );
}

/** `GET /pks/v2/prefixlog/<day>`: one prefix per line, each line ended by CRLF. */
export function formatPrefixLog(prefixes: readonly string[]): string {
  return prefixes.map((p) => `${p}\r\n`).join('');
}

export type V2PushOutcome = SubmitResult;

interface V2PushItem {
  version?: number;
  fingerprint?: string;
  comment?: string;
}

/**
 * `POST /pks/v2/certs`: `{inserted, updated, ignored, invalid}`, each a list of `{version, fingerprint, comment?}`
 * (unchanged keys are ignored; a refused key's comment says why; an accepted key's, what was dropped from it),
 * and the error when the push was refused as a whole.
 */
export function formatV2PushSummary(o: V2PushOutcome, error?: { code: number; message: string }): string {
  const droppedBy = new Map<string, string[]>();
  for (const d of o.dropped) droppedBy.set(d.fingerprint, [...(droppedBy.get(d.fingerprint) ?? []), `${d.component}: ${d.reason}`]);
  const accepted = (fingerprint: string): V2PushItem => {
    const dropped = droppedBy.get(fingerprint);
    return {
      version: versionOfFingerprint(fingerprint),
      fingerprint: fingerprint.toLowerCase(),
      ...(dropped ? { comment: `dropped ${dropped.length}: ${dropped.slice(0, 10).join('; ')}${dropped.length > 10 ? '; …' : ''}` } : {}),
    };
  };
  return JSON.stringify({
    inserted: o.inserted.map(accepted),
    updated: o.updated.map(accepted),
    ignored: o.unchanged.map(accepted),
    invalid: o.rejected.map((r): V2PushItem =>
      r.fingerprint
        ? { version: versionOfFingerprint(r.fingerprint), fingerprint: r.fingerprint.toLowerCase(), comment: r.reason }
        : { comment: r.reason },
    ),
    ...(error ? { error } : {}),
  });
}
