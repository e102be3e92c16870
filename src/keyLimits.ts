// The key limits a configuration sets: shared by the server and `keystore import` (whose worker threads must not
// load the HTTP stack, as importing them from server.ts would).
import type { Config } from './config.js';
import type { KeyLimits } from './openpgp/index.js';

export function keyLimits(config: Config): KeyLimits {
  return {
    maxKeyBytes: config.MAX_KEY_BYTES,
    maxPacketBytes: config.MAX_PACKET_BYTES,
    maxUserIdBytes: config.MAX_USER_ID_BYTES,
    maxUserIds: config.MAX_USER_IDS,
    maxSubkeys: config.MAX_SUBKEYS,
    maxSelfSignaturesPerComponent: config.MAX_SELF_SIGNATURES_PER_COMPONENT,
    maxCertificationsPerUserId: config.MAX_CERTIFICATIONS_PER_USER_ID,
    certificationPolicy: config.CERTIFICATION_POLICY,
    maxPendingCertificationsPerKey: config.MAX_PENDING_CERTIFICATIONS_PER_KEY,
    maxPendingCertifications: config.MAX_PENDING_CERTIFICATIONS,
  };
}
