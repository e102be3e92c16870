// The one merge function: stored key + uploaded key -> canonical union, admitting only what the
// key's owner signed. Stored components were admitted before and are never re-verified or removed.
import {
  type Cert, type Dropped, type KeyMaterial, type SigInfo, type SubkeyComponent, type UserComponent,
  CertRejected, SigType, describeUser,
} from './certificate.js';
import { Tag, type Packet } from './packets.js';
import { verifyBy, type SignedData } from './verify.js';

export type MergeStatus = 'inserted' | 'updated' | 'unchanged';

export interface MergeResult {
  status: MergeStatus;
  cert: Cert;
  /** Packets of the merged key in canonical order. */
  packets: Packet[];
  added: { userIds: number; subkeys: number; signatures: number };
  dropped: Dropped[];
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

export async function mergeCert(stored: Cert | null, incoming: Cert): Promise<MergeResult> {
  if (stored && stored.primary.fingerprint !== incoming.primary.fingerprint) {
    throw new Error('mergeCert called with different primary keys');
  }
  const primary = stored?.primary ?? incoming.primary;
  const dropped: Dropped[] = [];
  const added = { userIds: 0, subkeys: 0, signatures: 0 };
  const known = new Set<string>();
  const result: Cert = {
    primary,
    direct: [...(stored?.direct ?? [])],
    users: (stored?.users ?? []).map((u) => ({ ...u, sigs: [...u.sigs] })),
    subkeys: (stored?.subkeys ?? []).map((s) => ({ ...s, sigs: [...s.sigs] })),
  };
  for (const sig of allSigs(result)) known.add(sig.id);

  const selfValid = async (sig: SigInfo, signed: SignedData) => isSelfIssued(sig, primary) && verifyBy(primary, primary, sig, signed);

  // Signatures on the primary key: only the key's own revocations and direct-key signatures.
  for (const sig of incoming.direct) {
    if (known.has(sig.id)) continue;
    if (DIRECT_SIG_TYPES.has(sig.type) && (await selfValid(sig, { kind: 'key' }))) {
      result.direct.push(sig);
      known.add(sig.id);
      added.signatures++;
    } else {
      dropped.push({ component: 'primary key', reason: sig.type === SigType.keyRevocation ? 'revocation not made by the key itself' : 'signature not made by the key itself' });
    }
  }

  const usersById = new Map(result.users.map((u) => [u.id, u]));
  for (const user of incoming.users) {
    const target = usersById.get(user.id);
    const accepted: SigInfo[] = [];
    const thirdParty: SigInfo[] = [];
    let certified = false; // bound by a valid self-certification or self-revocation
    const seen = new Set<string>();
    for (const sig of user.sigs) {
      if (known.has(sig.id) || seen.has(sig.id)) continue;
      seen.add(sig.id);
      if (!USER_SIG_TYPES.has(sig.type)) {
        dropped.push({ component: describeUser(user.packet), reason: `signature of type 0x${sig.type.toString(16)} does not belong on a user ID` });
      } else if (isSelfIssued(sig, primary)) {
        if (await verifyBy(primary, primary, sig, { kind: 'user', user: user.packet })) {
          // A self-revocation binds too: the owner made it, and it marks the user ID revoked.
          accepted.push(sig);
          certified = true;
        } else {
          dropped.push({ component: describeUser(user.packet), reason: 'invalid self-signature' });
        }
      } else {
        // Third-party certification: kept as it is on user IDs the owner has bound.
        thirdParty.push(sig);
      }
    }
    if (!target && !certified) {
      dropped.push({ component: describeUser(user.packet), reason: 'no valid self-signature by the primary key' });
      continue;
    }
    const newSigs = [...accepted, ...thirdParty];
    for (const s of newSigs) known.add(s.id);
    added.signatures += newSigs.length;
    if (target) {
      target.sigs.push(...newSigs);
    } else {
      const component: UserComponent = { packet: user.packet, id: user.id, sigs: newSigs };
      result.users.push(component);
      usersById.set(user.id, component);
      if (user.packet.tag === Tag.userId) added.userIds++;
    }
  }

  const subkeysByFpr = new Map(result.subkeys.map((s) => [s.key.fingerprint, s]));
  for (const sub of incoming.subkeys) {
    const target = subkeysByFpr.get(sub.key.fingerprint);
    const accepted: SigInfo[] = [];
    let bound = false;
    const seen = new Set<string>();
    const component = `subkey ${sub.key.fingerprint}`;
    for (const sig of sub.sigs) {
      if (known.has(sig.id) || seen.has(sig.id)) continue;
      seen.add(sig.id);
      if (SUBKEY_SIG_TYPES.has(sig.type) && (await selfValid(sig, { kind: 'subkey', subkey: sub.key }))) {
        // A revocation by the primary binds too (keyrings keep revoked subkeys without their binding).
        accepted.push(sig);
        bound = true;
      } else {
        dropped.push({ component, reason: isSelfIssued(sig, primary) ? 'invalid binding or revocation signature' : 'subkey signature not made by the primary key' });
      }
    }
    if (!target && !bound) {
      dropped.push({ component, reason: 'subkey has no valid binding or revocation signature by the primary key' });
      continue;
    }
    for (const s of accepted) known.add(s.id);
    added.signatures += accepted.length;
    if (target) {
      target.sigs.push(...accepted);
    } else {
      const comp: SubkeyComponent = { key: sub.key, sigs: accepted };
      result.subkeys.push(comp);
      subkeysByFpr.set(sub.key.fingerprint, comp);
      added.subkeys++;
    }
  }

  if (!result.users.some((u) => u.packet.tag === Tag.userId)) {
    throw new CertRejected('key has no user ID with a valid self-signature (gpg cannot import such a key)', primary.fingerprint);
  }
  canonicalize(result, primary);
  const changed = !stored || added.userIds + added.subkeys + added.signatures > 0;
  return {
    status: !stored ? 'inserted' : changed ? 'updated' : 'unchanged',
    cert: result,
    packets: certPackets(result),
    added,
    dropped,
  };
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
