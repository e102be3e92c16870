// Bounds on what one key may hold, so no upload or merge can flood a key (the 2019 SKS attacks).

export type CertificationPolicy = 'stored' | 'none';

export interface KeyLimits {
  /** Largest stored key (all packets); a merge that would exceed it is refused. */
  maxKeyBytes: number;
  /** Largest single packet; larger packets are dropped (their component with them). */
  maxPacketBytes: number;
  /** Longest user ID; longer ones are dropped. */
  maxUserIdBytes: number;
  /** Most user IDs and photo IDs on one key. */
  maxUserIds: number;
  maxSubkeys: number;
  /** Most signatures by the key itself on one component (user ID, subkey, the key). */
  maxSelfSignaturesPerComponent: number;
  /** Most third-party certifications kept on one user ID; once reached, new ones are dropped. */
  maxCertificationsPerUserId: number;
  /**
   * Third-party certifications: `stored` keeps those whose issuer key is stored here and whose signature
   * verifies; `none` keeps none.
   */
  certificationPolicy: CertificationPolicy;
  /** Most certifications kept aside for one key until their issuer is stored (docs/certifications.md). */
  maxPendingCertificationsPerKey: number;
  /** Most certifications kept aside in the whole store. */
  maxPendingCertifications: number;
}

export const DEFAULT_LIMITS: KeyLimits = {
  maxKeyBytes: 1024 * 1024,
  maxPacketBytes: 64 * 1024,
  maxUserIdBytes: 1024,
  maxUserIds: 100,
  maxSubkeys: 100,
  maxSelfSignaturesPerComponent: 100,
  maxCertificationsPerUserId: 100,
  certificationPolicy: 'stored',
  maxPendingCertificationsPerKey: 1000,
  maxPendingCertifications: 100_000,
};

/** No bounds: for reading keys already stored, which must never lose a packet when limits change. */
export const NO_LIMITS: KeyLimits = {
  maxKeyBytes: Infinity,
  maxPacketBytes: Infinity,
  maxUserIdBytes: Infinity,
  maxUserIds: Infinity,
  maxSubkeys: Infinity,
  maxSelfSignaturesPerComponent: Infinity,
  maxCertificationsPerUserId: Infinity,
  certificationPolicy: 'stored',
  maxPendingCertificationsPerKey: Infinity,
  maxPendingCertifications: Infinity,
};
