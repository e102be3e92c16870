// A transferable public key split into its components, with the facts of each signature read once.
import type { KeyObject } from 'node:crypto';
import { PublicKeyPacket, SignaturePacket, enums } from './library.js';
import { DEFAULT_LIMITS, type KeyLimits } from './limits.js';
import { Tag, fingerprintOf, keyIdOf, packetKey, type Packet } from './packets.js';
import { normalizeSignature, scanSignature, type SignatureFacts } from './signatureScan.js';

export interface SigInfo extends SignatureFacts {
  packet: Packet;
  /** De-duplication identity (tag + body). */
  id: string;
  /** openpgp.js view, parsed only when the signature is verified (undefined: not parsed yet). */
  parsed?: SignaturePacket | null;
}

export interface KeyMaterial {
  packet: Packet;
  fingerprint: string;
  keyId: string;
  version: number;
  algorithm: number;
  bits: number;
  /** Unix seconds. */
  created: number;
  parsed: PublicKeyPacket;
  /** node:crypto view of the key for verifying, made on first use (undefined: not yet; null: not an RSA or Ed25519 key). */
  nativeKey?: NativeKey | null;
}

export interface NativeKey {
  kind: 'rsa' | 'ed25519';
  key: KeyObject;
  /** RSA: length of the modulus in bytes (signatures are left-padded to it). */
  size: number;
}

export interface UserComponent {
  packet: Packet;
  id: string;
  sigs: SigInfo[];
}

export interface SubkeyComponent {
  key: KeyMaterial;
  sigs: SigInfo[];
}

export interface Cert {
  primary: KeyMaterial;
  /** Signatures directly on the primary key (revocations, direct-key signatures). */
  direct: SigInfo[];
  users: UserComponent[];
  subkeys: SubkeyComponent[];
}

export interface Dropped {
  component: string;
  reason: string;
  /** Set when the drop may be undone later: the certification's issuer is not stored (yet). */
  awaitsIssuer?: true;
}

/**
 * Why a key was refused, as a stable code for metrics (the reason text is for people). `unreadable_data` is
 * for parts of an upload that held no key at all (KeyData.problems).
 */
export type RejectionCode = 'secret_key' | 'not_a_public_key' | 'unsupported_key' | 'no_user_id' | 'too_large' | 'unreadable_data' | 'other';

/** The whole key cannot be used; reason is shown to the client. */
export class CertRejected extends Error {
  constructor(
    readonly reason: string,
    readonly fingerprint?: string,
    readonly code: RejectionCode = 'other',
  ) {
    super(reason);
  }
}

const CURVE_BITS: Record<string, number> = {
  ed25519Legacy: 255,
  curve25519Legacy: 255,
  ed25519: 255,
  curve25519: 255,
  nistP256: 256,
  nistP384: 384,
  nistP521: 521,
  secp256k1: 256,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
};
const NATIVE_ALGO_BITS: Record<number, number> = { 25: 255, 26: 448, 27: 255, 28: 448 };

/** Thrown for keys whose parameters are out of the sizes any real implementation uses. */
export class KeyParametersRejected extends Error {}

// Verifying with absurd parameters costs seconds to hours of CPU (an 8192-bit DSA q): refuse them unread.
const MAX_RSA_BITS = 16384;
const MAX_DSA_P_BITS = 4096;
const MAX_DSA_Q_BITS = 512;

function checkParameterSizes(parsed: PublicKeyPacket): void {
  const params = parsed.publicParams as Record<string, Uint8Array | undefined>;
  const bits = (v: Uint8Array | undefined) => (v ? v.length * 8 : 0);
  if ([1, 2, 3].includes(parsed.algorithm) && (bits(params['n']) > MAX_RSA_BITS || bits(params['e']) > 64)) {
    throw new KeyParametersRejected(`RSA key larger than ${MAX_RSA_BITS} bits or with an oversized exponent`);
  }
  if (parsed.algorithm === 17 && (bits(params['p']) > MAX_DSA_P_BITS || bits(params['q']) > MAX_DSA_Q_BITS)) {
    throw new KeyParametersRejected(`DSA key larger than ${MAX_DSA_P_BITS} bits or with an oversized q`);
  }
  if (parsed.algorithm === 16 && bits(params['p']) > MAX_RSA_BITS) {
    throw new KeyParametersRejected(`Elgamal key larger than ${MAX_RSA_BITS} bits`);
  }
}

export async function readKeyMaterial(packet: Packet): Promise<KeyMaterial> {
  const parsed = new PublicKeyPacket();
  await parsed.read(packet.body);
  checkParameterSizes(parsed);
  const info = parsed.getAlgorithmInfo();
  const bits = info.bits ?? (info.curve ? CURVE_BITS[info.curve] : undefined) ?? NATIVE_ALGO_BITS[parsed.algorithm] ?? 0;
  const fingerprint = fingerprintOf(packet.body);
  return {
    packet,
    fingerprint,
    keyId: keyIdOf(fingerprint),
    version: parsed.version,
    algorithm: parsed.algorithm,
    bits,
    created: Math.floor(parsed.created.getTime() / 1000),
    parsed,
  };
}

export function readSignature(packet: Packet): SigInfo {
  const { facts, body } = scanNormalized(packet.body);
  const normalized: Packet = { tag: packet.tag, body };
  return { packet: normalized, id: packetKey(normalized), ...facts };
}

/**
 * A signature body as the merge keeps it (unhashed area normalised), without readSignature's identity key; throws
 * where parseCert would drop the signature as unreadable.
 */
export function normalizedSignatureBody(body: Uint8Array): Uint8Array {
  return scanNormalized(body).body;
}

function scanNormalized(body: Uint8Array): { facts: SignatureFacts; body: Uint8Array } {
  const facts = scanSignature(body);
  return { facts, body: normalizeSignature(body) };
}

/** The openpgp.js view of a signature, parsed on first use; null when openpgp.js cannot read it (v3). */
export function parsedSignature(sig: SigInfo): SignaturePacket | null {
  if (sig.parsed === undefined) {
    try {
      const parsed = new SignaturePacket();
      parsed.read(sig.packet.body);
      sig.parsed = parsed;
    } catch {
      sig.parsed = null;
    }
  }
  return sig.parsed;
}

/** Packets parseCert skips without reporting them (also those over the size limit). */
export const SKIPPED_SILENTLY = new Set<number>([Tag.trust, Tag.marker, Tag.padding]);

/**
 * Splits one transferable key (its packets, primary first) into components. Unreadable or misplaced
 * packets are dropped and reported; secret key material rejects the whole key.
 */
export async function parseCert(packets: readonly Packet[], limits: KeyLimits = DEFAULT_LIMITS): Promise<{ cert: Cert; dropped: Dropped[] }> {
  const [first, ...rest] = packets;
  if (!first || (first.tag !== Tag.publicKey && first.tag !== Tag.secretKey)) {
    throw new CertRejected('data does not start with a public key packet', undefined, 'not_a_public_key');
  }
  if (packets.some((p) => p.tag === Tag.secretKey || p.tag === Tag.secretSubkey)) {
    const fingerprint = await secretKeyFingerprint(first.body);
    throw new CertRejected(
      'secret key material is refused: upload only the public key (gpg --export, not --export-secret-keys)',
      fingerprint,
      'secret_key',
    );
  }
  if (first.body.length > limits.maxPacketBytes) {
    throw new CertRejected(`primary key packet larger than ${limits.maxPacketBytes} bytes`, undefined, 'too_large');
  }
  let primary: KeyMaterial;
  try {
    primary = await readKeyMaterial(first);
  } catch (e) {
    if (e instanceof KeyParametersRejected) throw new CertRejected(e.message, undefined, 'unsupported_key');
    throw new CertRejected(`unsupported or malformed primary key (version ${first.body[0] ?? '?'})`, undefined, 'unsupported_key');
  }
  const cert: Cert = { primary, direct: [], users: [], subkeys: [] };
  const dropped: Dropped[] = [];
  let sigs: SigInfo[] | null = cert.direct;
  let where = 'primary key';
  const skipComponent = (component: string, reason: string) => {
    dropped.push({ component, reason });
    sigs = null;
    where = component;
  };
  for (const packet of rest) {
    if (packet.body.length > limits.maxPacketBytes && !SKIPPED_SILENTLY.has(packet.tag)) {
      if (packet.tag === Tag.signature) {
        if (sigs) dropped.push({ component: where, reason: `signature larger than ${limits.maxPacketBytes} bytes` });
      } else {
        skipComponent(packet.tag === Tag.publicSubkey ? 'subkey' : describeUser(packet), `packet larger than ${limits.maxPacketBytes} bytes`);
      }
      continue;
    }
    switch (packet.tag) {
      case Tag.signature: {
        if (!sigs) break; // the component was dropped and reported once
        try {
          sigs.push(readSignature(packet));
        } catch {
          dropped.push({ component: where, reason: 'unreadable signature' });
        }
        break;
      }
      case Tag.userId:
      case Tag.userAttribute: {
        if (packet.tag === Tag.userId && packet.body.length > limits.maxUserIdBytes) {
          skipComponent(describeUser(packet), `user ID longer than ${limits.maxUserIdBytes} bytes`);
        } else if (cert.users.length >= limits.maxUserIds) {
          skipComponent(describeUser(packet), `more than ${limits.maxUserIds} user IDs`);
        } else {
          const user: UserComponent = { packet, id: packetKey(packet), sigs: [] };
          cert.users.push(user);
          sigs = user.sigs;
          where = describeUser(packet);
        }
        break;
      }
      case Tag.publicSubkey: {
        if (cert.subkeys.length >= limits.maxSubkeys) {
          skipComponent('subkey', `more than ${limits.maxSubkeys} subkeys`);
          break;
        }
        try {
          const key = await readKeyMaterial(packet);
          const sub: SubkeyComponent = { key, sigs: [] };
          cert.subkeys.push(sub);
          sigs = sub.sigs;
          where = `subkey ${key.fingerprint}`;
        } catch (e) {
          skipComponent('subkey', e instanceof KeyParametersRejected ? e.message : 'unsupported or malformed subkey');
        }
        break;
      }
      default:
        if (!SKIPPED_SILENTLY.has(packet.tag)) {
          dropped.push({ component: where, reason: `unexpected packet (tag ${packet.tag})` });
        }
    }
  }
  return { cert, dropped };
}

/** Names a secret key by the public fields at the start of its packet (RFC 9580 §5.5.3). */
async function secretKeyFingerprint(secretBody: Uint8Array): Promise<string | undefined> {
  try {
    const parsed = new PublicKeyPacket();
    const used = await (parsed.read(secretBody) as unknown as Promise<number>);
    return fingerprintOf(secretBody.subarray(0, used));
  } catch {
    return undefined;
  }
}

/** A short, printable name of a user ID for reports (control characters, NUL included, replaced). */
export function describeUser(packet: Packet): string {
  if (packet.tag === Tag.userAttribute) return 'user attribute (photo ID)';
  const text = new TextDecoder().decode(packet.body.subarray(0, 240)).slice(0, 80);
  return `user ID "${text.replace(/[\u0000-\u001f\u007f]/g, '\uFFFD')}"`;
}

export const SigType = enums.signature;
