// The one merge function: stored key + uploaded key -> canonical union, admitting only what the key's owner
// signed (plus third-party certifications by the certification policy), within the key limits. Stored
// components were admitted before: they are never re-verified or removed.
import { createHash } from 'node:crypto';
import {
  type Cert,
  type Dropped,
  type KeyMaterial,
  type SigInfo,
  type UserComponent,
  CertRejected,
  SigType,
  describeUser,
  readKeyMaterial,
} from './certificate.js';
import type { KeyLimits } from './limits.js';
import { Tag, keyIdOf, readPackets, writePackets, type Packet } from './packets.js';
import { verifyBy, type SignedData } from './verify.js';

import type { MergeStatus } from '../vocabulary.js';

export interface MergeResult {
  status: MergeStatus;
  cert: Cert;
  /** Packets of the merged key in canonical order. */
  packets: Packet[];
  /** The merged key's bytes (packets with new-format headers). */
  bytes: Uint8Array;
  added: { userIds: number; subkeys: number; signatures: number };
  dropped: Dropped[];
  /**
   * Third-party certifications on bound user IDs whose issuer is not stored (yet): neither kept nor in `dropped`;
   * the caller keeps them aside or reports them dropped (see docs/certifications.md).
   */
  awaitingIssuer: AwaitingIssuer[];
}

/** A certification waiting for its issuer's key: what admitting it later needs. */
export interface AwaitingIssuer {
  /** The certified user ID, for reports. */
  component: string;
  /** userIdDigest of the certified user ID (or photo ID) packet. */
  userIdDigest: string;
  /** Long key ID of the issuer it names. */
  issuerKeyId: string;
  issuerFingerprint: string | null;
  /** The signature packet's body, normalised as stored. */
  signature: Uint8Array;
  /** Unix seconds. */
  created: number;
}

// Certifications are a few hundred bytes (the largest of the Debian keyrings' 45,923: 1,331); a larger one is
// not kept aside, so that waiting certifications cannot fill the store with bulk.
export const MAX_AWAITING_SIGNATURE_BYTES = 4096;

/** Stored keys (their bytes) whose primary key has one of the given long key IDs. */
export type IssuerLookup = (keyIds: string[]) => Promise<Uint8Array[]>;

export interface MergeOptions {
  limits: KeyLimits;
  /** Where third-party certifiers are looked up; without it no third-party certification is kept. */
  lookupIssuers?: IssuerLookup | undefined;
  /**
   * Verify every third-party candidate instead of at most two per free place on its user ID: for certifications
   * admitted from those kept aside, which are bounded in number already.
   */
  verifyAllCertifications?: boolean;
  /** Where the issuers' keys read by earlier merges are kept (each read once, not once per key it certifies). */
  issuerKeys?: IssuerKeys | undefined;
}

/**
 * The issuers' primary keys of third-party certifications as read for merges (their key material, with its
 * node:crypto key once made), by their bytes: a key certified by hundreds reads each of them once, not per
 * merge. The `max` most recently used are kept.
 */
export class IssuerKeys {
  private readonly byBytes = new Map<string, KeyMaterial | null>();

  constructor(private readonly max = 4096) {}

  /** The key material of a stored key's leading bytes (its primary key packet first); null when unreadable. */
  async read(bytes: Uint8Array): Promise<KeyMaterial | null> {
    const packet = bytes.subarray(0, firstPacketEnd(bytes));
    const id = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength).toString('latin1');
    let key = this.byBytes.get(id);
    if (key !== undefined) {
      this.byBytes.delete(id);
    } else {
      try {
        key = await readKeyMaterial(readPackets(packet)[0]!);
      } catch {
        key = null; // an unreadable stored key cannot certify anything
      }
      if (this.byBytes.size >= this.max) this.byBytes.delete(this.byBytes.keys().next().value!);
    }
    this.byBytes.set(id, key);
    return key;
  }
}

const CERTIFICATIONS = new Set<number>([SigType.certGeneric, SigType.certPersona, SigType.certCasual, SigType.certPositive]);
const USER_SIG_TYPES = new Set<number>([...CERTIFICATIONS, SigType.certRevocation]);
const DIRECT_SIG_TYPES = new Set<number>([SigType.key, SigType.keyRevocation]);
const SUBKEY_SIG_TYPES = new Set<number>([SigType.subkeyBinding, SigType.subkeyRevocation]);

/** Whether a signature claims to be made by the primary key (no issuer at all: try the primary). */
export function isSelfIssued(sig: SigInfo, primary: KeyMaterial): boolean {
  if (sig.issuerFingerprint) return sig.issuerFingerprint === primary.fingerprint;
  if (sig.issuerKeyId) return sig.issuerKeyId === primary.keyId;
  return true;
}

function issuerKeyIdOf(sig: SigInfo): string | null {
  if (sig.issuerKeyId) return sig.issuerKeyId;
  if (!sig.issuerFingerprint) return null;
  return keyIdOf(sig.issuerFingerprint);
}

/**
 * Long key IDs of the issuers of third-party signatures on the key's user IDs: every key mergeCert may ask
 * lookupIssuers for when merging this key (so that a batch of merges can look them up at once).
 */
export function certifierKeyIds(cert: Cert): string[] {
  const ids = new Set<string>();
  for (const user of cert.users) {
    for (const sig of user.sigs) {
      const id = isSelfIssued(sig, cert.primary) ? null : issuerKeyIdOf(sig);
      if (id) ids.add(id);
    }
  }
  return [...ids];
}

const newestFirst = (a: SigInfo, b: SigInfo) => b.created - a.created;

export async function mergeCert(stored: Cert | null, incoming: Cert, options: MergeOptions): Promise<MergeResult> {
  if (stored && stored.primary.fingerprint !== incoming.primary.fingerprint) {
    throw new Error('mergeCert called with different primary keys');
  }
  const { limits } = options;
  const primary = stored?.primary ?? incoming.primary;
  const dropped: Dropped[] = [];
  const awaitingIssuer: AwaitingIssuer[] = [];
  const added = { userIds: 0, subkeys: 0, signatures: 0 };
  const known = new Set<string>();
  const result: Cert = {
    primary,
    direct: [...(stored?.direct ?? [])],
    users: (stored?.users ?? []).map((u) => ({ ...u, sigs: [...u.sigs] })),
    subkeys: (stored?.subkeys ?? []).map((s) => ({ ...s, sigs: [...s.sigs] })),
  };
  for (const sig of allSigs(result)) known.add(sig.id);

  /** New signatures of one component, de-duplicated against the stored key and within the upload. */
  const fresh = (sigs: SigInfo[]) => {
    const out: SigInfo[] = [];
    for (const sig of sigs) {
      if (known.has(sig.id)) continue;
      known.add(sig.id);
      out.push(sig);
    }
    return out;
  };

  /** Verifies the owner's new signatures on a component, newest first, within the per-component limit. */
  const acceptSelfSigs = async (component: string, existing: SigInfo[], candidates: SigInfo[], signed: SignedData) => {
    const room = Math.max(0, limits.maxSelfSignaturesPerComponent - existing.filter((s) => isSelfIssued(s, primary)).length);
    const ordered = [...candidates].sort(newestFirst);
    for (const _sig of ordered.slice(room))
      dropped.push({ component, reason: `more than ${limits.maxSelfSignaturesPerComponent} signatures by the key on one component` });
    const accepted: SigInfo[] = [];
    for (const sig of ordered.slice(0, room)) {
      if (await verifyBy(primary, primary, sig, signed)) accepted.push(sig);
      else dropped.push({ component, reason: 'invalid self-signature' });
    }
    return accepted;
  };

  // Signatures on the primary key: only the key's own revocations and direct-key signatures.
  const directCandidates: SigInfo[] = [];
  for (const sig of fresh(incoming.direct)) {
    if (DIRECT_SIG_TYPES.has(sig.type) && isSelfIssued(sig, primary)) directCandidates.push(sig);
    else
      dropped.push({
        component: 'primary key',
        reason: sig.type === SigType.keyRevocation ? 'revocation not made by the key itself' : 'signature not made by the key itself',
      });
  }
  const acceptedDirect = await acceptSelfSigs('primary key', result.direct, directCandidates, { kind: 'key' });
  result.direct.push(...acceptedDirect);
  added.signatures += acceptedDirect.length;

  const usersById = new Map(result.users.map((u) => [u.id, u]));
  const certifications: { user: UserComponent; sigs: SigInfo[] }[] = [];
  for (const user of incoming.users) {
    const component = describeUser(user.packet);
    let target = usersById.get(user.id);
    const selfSigs: SigInfo[] = [];
    const thirdParty: SigInfo[] = [];
    for (const sig of fresh(user.sigs)) {
      if (!USER_SIG_TYPES.has(sig.type))
        dropped.push({ component, reason: `signature of type 0x${sig.type.toString(16)} does not belong on a user ID` });
      else if (isSelfIssued(sig, primary)) selfSigs.push(sig);
      else thirdParty.push(sig);
    }
    // A self-certification or a self-revocation binds the user ID: the owner made either.
    const accepted = await acceptSelfSigs(component, target?.sigs ?? [], selfSigs, { kind: 'user', user: user.packet });
    if (!target) {
      if (accepted.length === 0) {
        dropped.push({ component, reason: 'no valid self-signature by the primary key' });
        continue;
      }
      if (result.users.length >= limits.maxUserIds) {
        dropped.push({ component, reason: `more than ${limits.maxUserIds} user IDs` });
        continue;
      }
      target = { packet: user.packet, id: user.id, sigs: [] };
      result.users.push(target);
      usersById.set(user.id, target);
      if (user.packet.tag === Tag.userId) added.userIds++;
    }
    target.sigs.push(...accepted);
    added.signatures += accepted.length;
    if (thirdParty.length > 0) certifications.push({ user: target, sigs: thirdParty });
  }

  const subkeysByFpr = new Map(result.subkeys.map((s) => [s.key.fingerprint, s]));
  for (const sub of incoming.subkeys) {
    const component = `subkey ${sub.key.fingerprint}`;
    let target = subkeysByFpr.get(sub.key.fingerprint);
    const candidates: SigInfo[] = [];
    for (const sig of fresh(sub.sigs)) {
      if (SUBKEY_SIG_TYPES.has(sig.type) && isSelfIssued(sig, primary)) candidates.push(sig);
      else
        dropped.push({
          component,
          reason: isSelfIssued(sig, primary) ? 'signature of the wrong type on a subkey' : 'subkey signature not made by the primary key',
        });
    }
    // A revocation by the primary binds too (keyrings keep revoked subkeys without their binding).
    const accepted = await acceptSelfSigs(component, target?.sigs ?? [], candidates, { kind: 'subkey', subkey: sub.key });
    if (!target) {
      if (accepted.length === 0) {
        dropped.push({ component, reason: 'subkey has no valid binding or revocation signature by the primary key' });
        continue;
      }
      if (result.subkeys.length >= limits.maxSubkeys) {
        dropped.push({ component, reason: `more than ${limits.maxSubkeys} subkeys` });
        continue;
      }
      target = { key: sub.key, sigs: [] };
      result.subkeys.push(target);
      subkeysByFpr.set(sub.key.fingerprint, target);
      added.subkeys++;
    }
    target.sigs.push(...accepted);
    added.signatures += accepted.length;
  }

  added.signatures += await acceptCertifications(certifications, primary, options, dropped, awaitingIssuer);

  if (!result.users.some((u) => u.packet.tag === Tag.userId)) {
    throw new CertRejected('key has no user ID with a valid self-signature (gpg cannot import such a key)', primary.fingerprint, 'no_user_id');
  }
  canonicalize(result, primary);
  const packets = certPackets(result);
  const bytes = writePackets(packets);
  const changed = !stored || added.userIds + added.subkeys + added.signatures > 0;
  if (changed && bytes.length > limits.maxKeyBytes) {
    throw new CertRejected(`the key would be larger than the limit of ${limits.maxKeyBytes} bytes`, primary.fingerprint, 'too_large');
  }
  return {
    status: !stored ? 'inserted' : changed ? 'updated' : 'unchanged',
    cert: result,
    packets,
    bytes,
    added,
    dropped: summarizeDropped(dropped),
    awaitingIssuer,
  };
}

/**
 * Third-party certifications on bound user IDs, by the certification policy: kept when the issuer's key is
 * stored here and the signature verifies, oldest first, until the user ID holds the maximum; later ones are
 * dropped. Verification attempts are bounded too, so a flood costs at most a few signature checks per user ID.
 * Those whose issuer is not stored go to awaitingIssuer (they take no place on the user ID until admitted).
 */
async function acceptCertifications(
  pending: { user: UserComponent; sigs: SigInfo[] }[],
  primary: KeyMaterial,
  options: MergeOptions,
  dropped: Dropped[],
  awaitingIssuer: AwaitingIssuer[],
): Promise<number> {
  const { limits, lookupIssuers } = options;
  if (pending.length === 0) return 0;
  if (limits.certificationPolicy === 'none' || !lookupIssuers) {
    for (const p of pending)
      for (const _ of p.sigs) dropped.push({ component: describeUser(p.user.packet), reason: 'third-party certifications are not kept here' });
    return 0;
  }
  const keyIds = new Set<string>();
  for (const p of pending)
    for (const s of p.sigs) {
      const id = issuerKeyIdOf(s);
      if (id) keyIds.add(id);
    }
  const issuers = new Map<string, KeyMaterial[]>();
  const issuerKeys = options.issuerKeys ?? new IssuerKeys();
  for (const bytes of keyIds.size > 0 ? await lookupIssuers([...keyIds]) : []) {
    const key = await issuerKeys.read(bytes);
    if (key) issuers.set(key.keyId, [...(issuers.get(key.keyId) ?? []), key]);
  }
  let accepted = 0;
  for (const { user, sigs } of pending) {
    const component = describeUser(user.packet);
    let room = limits.maxCertificationsPerUserId - user.sigs.filter((s) => !isSelfIssued(s, primary)).length;
    let attempts = options.verifyAllCertifications ? Infinity : 2 * Math.max(room, 0);
    for (const sig of [...sigs].sort((a, b) => a.created - b.created)) {
      const candidates = issuers.get(issuerKeyIdOf(sig) ?? '') ?? [];
      if (room <= 0) {
        dropped.push({
          component,
          reason: `this user ID already holds the maximum of ${limits.maxCertificationsPerUserId} third-party certifications`,
        });
      } else if (candidates.length === 0) {
        const issuerKeyId = issuerKeyIdOf(sig);
        if (issuerKeyId && sig.packet.body.length <= MAX_AWAITING_SIGNATURE_BYTES) {
          awaitingIssuer.push({
            component,
            userIdDigest: userIdDigest(user.packet),
            issuerKeyId,
            issuerFingerprint: sig.issuerFingerprint,
            signature: sig.packet.body,
            created: sig.created,
          });
        } else {
          dropped.push({ component, reason: 'third-party certification by a key not stored here', awaitsIssuer: true });
        }
      } else if (attempts-- <= 0) {
        dropped.push({ component, reason: 'too many third-party certifications failed to verify' });
      } else {
        let ok = false;
        for (const issuer of candidates) {
          if (sig.issuerFingerprint && sig.issuerFingerprint !== issuer.fingerprint) continue;
          if (await verifyBy(issuer, primary, sig, { kind: 'user', user: user.packet })) {
            ok = true;
            break;
          }
        }
        if (ok) {
          user.sigs.push(sig);
          room--;
          accepted++;
        } else {
          dropped.push({ component, reason: 'third-party certification does not verify' });
        }
      }
    }
  }
  return accepted;
}

/** Length of the first packet (header included) of a byte string, or the whole length if unreadable. */
function firstPacketEnd(bytes: Uint8Array): number {
  const first = bytes[0] ?? 0;
  if (first & 0x40) {
    const l0 = bytes[1] ?? 0;
    if (l0 < 192) return 2 + l0;
    if (l0 < 224) return 3 + ((l0 - 192) << 8) + (bytes[2] ?? 0) + 192;
    return bytes.length;
  }
  const n = 1 << (first & 0x03);
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + (bytes[1 + i] ?? 0);
  return Math.min(bytes.length, 1 + n + length);
}

/** Identity of a user ID or photo ID packet for certifications kept aside: SHA-256 of its tag and body, hex. */
export function userIdDigest(packet: Packet): string {
  return createHash('sha256').update(Uint8Array.of(packet.tag)).update(packet.body).digest('hex');
}

/** One entry per component and reason, with a count, so a flood does not flood the response. */
export function summarizeDropped(dropped: Dropped[]): Dropped[] {
  const counts = new Map<string, { d: Dropped; n: number }>();
  for (const d of dropped) {
    const key = `${d.component}\u0000${d.reason}`;
    const entry = counts.get(key);
    if (entry) entry.n++;
    else counts.set(key, { d, n: 1 });
  }
  return [...counts.values()].map(({ d, n }) => (n === 1 ? d : { ...d, reason: `${d.reason} (${n} signatures)` }));
}

function* allSigs(cert: Cert): Generator<SigInfo> {
  yield* cert.direct;
  for (const u of cert.users) yield* u.sigs;
  for (const s of cert.subkeys) yield* s.sigs;
}

const bySigOrder = (a: SigInfo, b: SigInfo) => a.created - b.created || compareIds(a.id, b.id);
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Stable order, whatever order the parts arrived in: by creation time, ties broken by content. */
function canonicalize(cert: Cert, primary: KeyMaterial): void {
  cert.direct.sort(bySigOrder);
  for (const u of cert.users) u.sigs.sort(bySigOrder);
  for (const s of cert.subkeys) s.sigs.sort(bySigOrder);
  const firstSelfSig = (u: UserComponent) => {
    let t = Infinity;
    for (const s of u.sigs) if (isSelfIssued(s, primary) && s.created < t) t = s.created;
    return t;
  };
  const userOrder = new Map(cert.users.map((u) => [u.id, firstSelfSig(u)]));
  cert.users.sort((a, b) => {
    if (a.packet.tag !== b.packet.tag) return a.packet.tag === Tag.userId ? -1 : 1;
    return userOrder.get(a.id)! - userOrder.get(b.id)! || compareIds(a.id, b.id);
  });
  cert.subkeys.sort((a, b) => a.key.created - b.key.created || compareIds(a.key.fingerprint, b.key.fingerprint));
}

export function certPackets(cert: Cert): Packet[] {
  const out: Packet[] = [cert.primary.packet];
  for (const s of cert.direct) out.push(s.packet);
  for (const u of cert.users) {
    out.push(u.packet);
    for (const s of u.sigs) out.push(s.packet);
  }
  for (const sub of cert.subkeys) {
    out.push(sub.key.packet);
    for (const s of sub.sigs) out.push(s.packet);
  }
  return out;
}
