// Certifications kept aside until their issuer's key is stored are admitted into the certified key once it is:
// merged as if pushed on the key again, so the certification policy, the per-user-ID cap and the key limits
// apply to them exactly as to any push.
import { CertRejected, readSignature, type Cert, type SigInfo, type UserComponent } from './certificate.js';
import type { KeyLimits } from './limits.js';
import { mergeCert, userIdDigest, type IssuerKeys, type IssuerLookup, type MergeResult } from './merge.js';
import { Tag, packetKey } from './packets.js';

/** A certification kept aside: `id` names it to the caller. */
export interface PendingSignature {
  id: string;
  userIdDigest: string;
  signature: Uint8Array;
}

export interface Admission {
  /** The key with the certifications admitted; null when none was (nothing to write). */
  merged: MergeResult | null;
  /**
   * The pending certifications done with: admitted, already on the key, or refused for good (they do not
   * verify, their user ID is full, the key would pass its size limit). The others still wait for their issuer.
   */
  settled: string[];
}

/** Admits into a stored key the pending certifications that verify, by the issuers given (their primary keys' bytes). */
export async function admitCertifications(
  stored: Cert,
  pending: PendingSignature[],
  issuers: Uint8Array[],
  limits: KeyLimits,
  issuerKeys?: IssuerKeys,
): Promise<Admission> {
  const users = new Map(stored.users.map((u) => [userIdDigest(u.packet), u]));
  const offered = new Map<UserComponent, SigInfo[]>();
  const waitingIds = new Map<string, string[]>(); // signature identity -> pending ids
  const settled: string[] = [];
  for (const p of pending) {
    const user = users.get(p.userIdDigest);
    let sig: SigInfo;
    try {
      sig = readSignature({ tag: Tag.signature, body: p.signature });
    } catch {
      settled.push(p.id);
      continue;
    }
    if (!user) {
      settled.push(p.id);
      continue;
    }
    offered.set(user, [...(offered.get(user) ?? []), sig]);
    waitingIds.set(sig.id, [...(waitingIds.get(sig.id) ?? []), p.id]);
  }
  if (offered.size === 0) return { merged: null, settled };
  const incoming: Cert = {
    primary: stored.primary,
    direct: [],
    users: [...offered].map(([user, sigs]) => ({ packet: user.packet, id: user.id, sigs })),
    subkeys: [],
  };
  const lookupIssuers: IssuerLookup = async () => issuers;
  let merged: MergeResult;
  try {
    merged = await mergeCert(stored, incoming, { limits, lookupIssuers, verifyAllCertifications: true, issuerKeys });
  } catch (e) {
    if (!(e instanceof CertRejected)) throw e;
    return { merged: null, settled: [...settled, ...[...waitingIds.values()].flat()] };
  }
  // What still names an issuer not given here stays aside; everything else was decided.
  const still = new Set(merged.awaitingIssuer.map((a) => packetKey({ tag: Tag.signature, body: a.signature })));
  for (const [sigId, ids] of waitingIds) if (!still.has(sigId)) settled.push(...ids);
  return { merged: merged.status === 'updated' ? merged : null, settled };
}
