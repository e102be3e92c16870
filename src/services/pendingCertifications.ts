// Certifications whose issuer is not stored yet: kept aside by the store within the bounds (MAX_PENDING_*), and
// admitted into the certified key, by the certification policy, when a write stores the issuer
// (docs/certifications.md). Here: what a write is given to do that, and what a push reports about them.
import {
  admitCertifications,
  deriveKey,
  parseStoredCert,
  summarizeDropped,
  type AwaitingIssuer,
  type Dropped,
  type IssuerKeys,
  type KeyLimits,
} from '../openpgp/index.js';
import type { PendingWrite } from '../store/keyStore.js';
import type { KeyRecord } from '../vocabulary.js';
import type { PendingAdmitter } from '../store/pendingCertifications.js';

/** Merges a stored key with its certifications aside whose issuer is stored, as a push of them would. */
export function pendingAdmitter(limits: KeyLimits, issuerKeys?: IssuerKeys): PendingAdmitter<KeyRecord> {
  return async (key, pending, issuers) => {
    const stored = await parseStoredCert(key.packets);
    const { merged, settled } = await admitCertifications(stored, pending, issuers, limits, issuerKeys);
    return { write: merged ? { record: deriveKey(merged.cert), packets: merged.bytes } : null, settled };
  };
}

/** What a write keeps aside: the awaiting certifications of the keys it writes (fingerprint, certifications). */
export function pendingWrite(
  limits: KeyLimits,
  admit: PendingAdmitter<KeyRecord>,
  keys: [string, AwaitingIssuer[]][],
  deferAdmission = false,
): PendingWrite {
  return {
    deferAdmission,
    bounds: { maxPerKey: limits.maxPendingCertificationsPerKey, maxTotal: limits.maxPendingCertifications },
    admit,
    awaiting: new Map(keys.filter(([, awaiting]) => awaiting.length > 0)),
    kept: new Map(),
    admitted: [],
  };
}

// Said of an awaiting certification in the audit row, written with the key before the store tells what it kept.
const AWAITING = 'third-party certification by a key not stored here yet';

/** The audit's (and a refused write's) view of awaiting certifications. */
export function awaitingDrops(awaiting: AwaitingIssuer[]): Dropped[] {
  return summarizeDropped(awaiting.map((a) => ({ component: a.component, reason: AWAITING })));
}

/**
 * What a push reports of a key's awaiting certifications once written: those kept aside, and those not (the
 * bounds), which are reported dropped with awaitsIssuer (an import merges their key again at its end).
 */
export function pendingDrops(awaiting: AwaitingIssuer[], write: PendingWrite, fingerprint: string, limits: KeyLimits): Dropped[] {
  if (awaiting.length === 0) return [];
  const kept = write.kept.get(fingerprint) ?? { kept: 0, full: 'key' };
  const notKept =
    kept.full === 'total'
      ? `${AWAITING}: not kept aside, this server holds the maximum of ${limits.maxPendingCertifications} certifications awaiting their issuer`
      : `${AWAITING}: not kept aside, this key has the maximum of ${limits.maxPendingCertificationsPerKey} certifications awaiting their issuer`;
  return summarizeDropped(
    awaiting.map((a, n): Dropped =>
      n < kept.kept
        ? { component: a.component, reason: `${AWAITING}: kept aside until its issuer is stored` }
        : { component: a.component, reason: notKept, awaitsIssuer: true },
    ),
  );
}
