// Facts a lookup needs, computed once from a merged key whose self-signatures were all verified.
import { type Cert, type KeyMaterial, type SigInfo, SigType } from './certificate.js';
import { isSelfIssued } from './merge.js';
import { Tag, keyIdOf } from './packets.js';
import { userIdWords } from './userIdWords.js';
import { wkdHashOfAddress } from '../formats/wkdHash.js';
import type { KeyRecord, SignatureFact, SubkeyFacts, UserIdFacts } from '../vocabulary.js';

/** The facts lookups need, in the key vocabulary's words (src/vocabulary.ts). */
export type DerivedUserId = UserIdFacts;
export type DerivedSubkey = SubkeyFacts;
export type DerivedKey = KeyRecord;

const CERTIFICATIONS = new Set<number>([SigType.certGeneric, SigType.certPersona, SigType.certCasual, SigType.certPositive]);
const utf8 = new TextDecoder('utf-8', { fatal: false });

export function deriveKey(cert: Cert): DerivedKey {
  const { primary } = cert;
  const self = (s: SigInfo) => isSelfIssued(s, primary);
  const newest = (sigs: SigInfo[]) => sigs.reduce<SigInfo | null>((best, s) => (!best || s.created >= best.created ? s : best), null);

  const userIds: DerivedUserId[] = [];
  const userIdSignatures: SignatureFact[][] = [];
  const liveSelfCerts: SigInfo[] = [];
  let userAttributes = 0;
  for (const u of cert.users) {
    const selfSigs = u.sigs.filter(self);
    const cert_ = newest(selfSigs.filter((s) => CERTIFICATIONS.has(s.type)));
    const last = newest(selfSigs);
    const revoked = last?.type === SigType.certRevocation;
    if (cert_ && !revoked) liveSelfCerts.push(cert_);
    if (u.packet.tag !== Tag.userId) {
      userAttributes++;
      continue;
    }
    // PostgreSQL text cannot hold NUL; the packet keeps the original bytes.
    userIdSignatures.push(u.sigs.map(signatureFact));
    const text = utf8.decode(u.packet.body).replace(/\u0000/g, '\uFFFD');
    const address = addressOf(text);
    userIds.push({
      text,
      email: address?.toLowerCase() ?? null,
      identity: identityOf(text),
      wkdHash: address === null ? null : wkdHashOfAddress(address),
      words: userIdWords(text),
      created: cert_?.created ?? last?.created ?? primary.created,
      expires: cert_?.signatureExpirationTime ? cert_.created + cert_.signatureExpirationTime : null,
      revoked,
      primary: cert_?.primaryUserId ?? false,
    });
  }

  // Key expiry comes from the newest self-signature over a live user ID or the key itself.
  const directSelf = cert.direct.filter((s) => self(s) && s.type === SigType.key);
  const expirySource = newest([...liveSelfCerts, ...directSelf]);
  const revoked = cert.direct.some((s) => self(s) && s.type === SigType.keyRevocation);

  const keyRevocation = newest(cert.direct.filter((s) => self(s) && s.type === SigType.keyRevocation));
  const flagsSource = newest([...liveSelfCerts, ...directSelf].filter((s) => s.keyFlags !== null));

  const subkeys = cert.subkeys.map((sub) => {
    const binding = newest(sub.sigs.filter((s) => s.type === SigType.subkeyBinding));
    const revocation = newest(sub.sigs.filter((s) => s.type === SigType.subkeyRevocation));
    return {
      ...keyFacts(sub.key, binding?.keyExpirationTime ?? null),
      revoked: revocation !== null,
      capabilities: capabilitiesOf(binding?.keyFlags ?? null, sub.key.algorithm, false),
      revocation: revocation?.revocationReason ?? null,
    };
  });

  let signatures = cert.direct.length;
  for (const u of cert.users) signatures += u.sigs.length;
  for (const s of cert.subkeys) signatures += s.sigs.length;

  return {
    ...keyFacts(primary, expirySource?.keyExpirationTime ?? null),
    version: primary.version,
    revoked,
    capabilities: capabilitiesOf(flagsSource?.keyFlags ?? null, primary.algorithm, true),
    revocation: keyRevocation?.revocationReason ?? null,
    userIds,
    userAttributes,
    subkeys,
    signatures,
    signatureFacts: { userIds: userIdSignatures, subkeys: cert.subkeys.map((sub) => sub.sigs.map(signatureFact)) },
  };
}

function signatureFact(sig: SigInfo): SignatureFact {
  const issuer = sig.issuerKeyId ?? (sig.issuerFingerprint ? keyIdOf(sig.issuerFingerprint) : null);
  return { type: sig.type, issuer, created: sig.created };
}

function keyFacts(key: KeyMaterial, expirationTime: number | null): DerivedSubkey {
  return {
    fingerprint: key.fingerprint,
    keyId: key.keyId,
    algorithm: key.algorithm,
    bits: key.bits,
    created: key.created,
    expires: expirationTime ? key.created + expirationTime : null,
    revoked: false,
    capabilities: '',
    revocation: null,
  };
}

// Public-key algorithms that can sign, and those that can encrypt (RFC 9580 §9.1).
const SIGNING_ALGORITHMS = new Set([1, 3, 17, 19, 22, 27, 28]);
const ENCRYPTING_ALGORITHMS = new Set([1, 2, 16, 18, 25, 26]);

/**
 * Capability letters (c certify, s sign, e encrypt, a authenticate) from a key-flags octet; keys without key
 * flags (old keys) get what their algorithm allows, as gpg does: a primary key certifies and, if it can, signs.
 */
export function capabilitiesOf(keyFlags: number | null, algorithm: number, primary: boolean): string {
  if (keyFlags !== null) {
    return (keyFlags & 0x01 ? 'c' : '') + (keyFlags & 0x02 ? 's' : '') + (keyFlags & 0x0c ? 'e' : '') + (keyFlags & 0x20 ? 'a' : '');
  }
  const sign = SIGNING_ALGORITHMS.has(algorithm) ? 's' : '';
  if (primary) return `c${sign}`;
  return sign + (ENCRYPTING_ALGORITHMS.has(algorithm) ? 'e' : '');
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;

/** The e-mail address of a user ID, normalised to lower case: the last <...> part, or the whole ID. */
export function emailOf(userId: string): string | null {
  return addressOf(userId)?.toLowerCase() ?? null;
}

/** The e-mail address of a user ID as written (case kept). */
function addressOf(userId: string): string | null {
  const bracketed = /<([^<>]*)>\s*$/.exec(userId) ?? /<([^<>]*@[^<>]*)>/.exec(userId);
  const candidate = (bracketed ? bracketed[1]! : userId).trim();
  return EMAIL.test(candidate) ? candidate : null;
}

/** Longest identity kept (an e-mail address has at most 254 characters; account names are shorter). */
export const MAX_IDENTITY_LENGTH = 254;

// Whitespace, angle brackets and control characters cannot be part of an identity.
const NOT_IN_IDENTITY = /[\s<>\u0000-\u001f\u007f]/u;

/**
 * The site's normal form of an identity, which every comparison uses (tokens, ownership, searches): NFC, trimmed,
 * lower case. Null when the text cannot be one: empty, over MAX_IDENTITY_LENGTH, with spaces, `<` or `>`.
 */
export function normalizeIdentity(text: string): string | null {
  const normal = text.normalize('NFC').trim().toLowerCase();
  if (normal.length === 0 || normal.length > MAX_IDENTITY_LENGTH || NOT_IN_IDENTITY.test(normal)) return null;
  return normal;
}

/**
 * A user ID's identity (an e-mail address or a site's account name), normalised: the last `<...>` part when the
 * user ID ends with one, else the first `<...>` holding an e-mail address, else the whole user ID when it is an
 * e-mail address. `Name <A@b.org>` has `a@b.org`, `山田太郎 (test key 03) <AAA12345xy>` has `aaa12345xy`, `Name` none.
 */
export function identityOf(userId: string): string | null {
  const bracketed = /<([^<>]*)>\s*$/.exec(userId) ?? /<([^<>]*@[^<>]*)>/.exec(userId);
  if (bracketed) return normalizeIdentity(bracketed[1]!);
  return emailOf(userId) === null ? null : normalizeIdentity(userId);
}

/** Whether an identity (normal form) is an e-mail address rather than an account name. */
export function isEmailIdentity(identity: string): boolean {
  return emailOf(identity) === identity;
}
