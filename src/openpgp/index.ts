// The only module that knows OpenPGP. Everything else sees packets as bytes and derived facts.
import { decodeArmor, looksArmored } from '../formats/armor.js';
import { CertRejected, parseCert, type Cert, type Dropped } from './certificate.js';
import { DEFAULT_LIMITS, NO_LIMITS, type KeyLimits } from './limits.js';
import { PacketFramingError, readPackets, splitKeys, type Packet } from './packets.js';

export { CertRejected, parseCert, type Cert, type Dropped, type RejectionCode } from './certificate.js';
export {
  certifierKeyIds,
  IssuerKeys,
  mergeCert,
  summarizeDropped,
  type AwaitingIssuer,
  type IssuerLookup,
  type MergeOptions,
  type MergeResult,
} from './merge.js';
export { admitCertifications, type Admission, type PendingSignature } from './admitCertifications.js';
export { DEFAULT_LIMITS, type CertificationPolicy, type KeyLimits } from './limits.js';
export {
  deriveKey,
  emailOf,
  identityOf,
  isEmailIdentity,
  normalizeIdentity,
  MAX_IDENTITY_LENGTH,
  type DerivedKey,
  type DerivedSubkey,
  type DerivedUserId,
} from './derive.js';
export { writePackets, readPackets, fingerprintOf, type Packet } from './packets.js';
export { userIdWords } from './userIdWords.js';
export { isStoredSubset, publicKeyFingerprint } from './storedSubset.js';
export { keyForAddress } from './addressSubset.js';

export interface KeyData {
  /** Each entry holds the packets of one transferable key. */
  keys: Packet[][];
  /** Parts of the input that held no usable key, each with the reason. */
  problems: string[];
}

/** Reads uploaded key data: armored text with one or more blocks, or binary packets. */
export function readKeyData(input: string | Uint8Array): KeyData {
  const problems: string[] = [];
  const chunks: Uint8Array[] = [];
  const text = typeof input === 'string' ? input : null;
  if (text !== null || looksArmoredBytes(input as Uint8Array)) {
    const decoded = decodeArmor(text ?? Buffer.from(input as Uint8Array).toString('latin1'));
    problems.push(...decoded.errors);
    for (const block of decoded.blocks) {
      // Secret key blocks go on to parseCert, which rejects each key by fingerprint with the reason.
      if (block.type === 'PUBLIC KEY BLOCK' || block.type === 'PRIVATE KEY BLOCK') chunks.push(block.data);
      else problems.push(`armored ${block.type.toLowerCase()} is not a public key`);
    }
  } else {
    chunks.push(input as Uint8Array);
  }
  const keys: Packet[][] = [];
  for (const chunk of chunks) {
    try {
      const split = splitKeys(readPackets(chunk));
      if (split.leading.length > 0) problems.push('data before the first key packet was ignored');
      keys.push(...split.keys);
    } catch (e) {
      problems.push(e instanceof PacketFramingError ? `malformed OpenPGP data: ${e.message}` : 'malformed OpenPGP data');
    }
  }
  return { keys, problems };
}

function looksArmoredBytes(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, 4096))).toString('latin1');
  return looksArmored(head);
}

/** Parses stored key bytes (written by this server) back into a Cert for merging. */
export async function parseStoredCert(bytes: Uint8Array): Promise<Cert> {
  const packets = readPackets(bytes);
  // Stored keys are read without limits: lowering a limit must never drop a stored packet.
  return (await parseCert(packets, NO_LIMITS)).cert;
}

export async function parseUploadedCert(packets: Packet[], limits: KeyLimits = DEFAULT_LIMITS): Promise<{ cert: Cert; dropped: Dropped[] }> {
  return parseCert(packets, limits);
}

export function isCertRejected(e: unknown): e is CertRejected {
  return e instanceof CertRejected;
}
