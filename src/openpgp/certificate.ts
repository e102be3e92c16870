// A transferable public key split into its components, with the facts of each signature read once.
import { PublicKeyPacket, SignaturePacket, enums } from 'openpgp';
import { Tag, fingerprintOf, keyIdOf, packetKey, type Packet } from './packets.js';

export interface SigInfo {
  packet: Packet;
  /** De-duplication identity (tag + body). */
  id: string;
  version: number;
  type: number;
  /** Unix seconds. */
  created: number;
  issuerKeyId: string | null;
  issuerFingerprint: string | null;
  /** Seconds after key creation, from a self-signature; null = none. */
  keyExpirationTime: number | null;
  /** Seconds after signature creation; null = none. */
  signatureExpirationTime: number | null;
  primaryUserId: boolean;
  /** openpgp.js view used for verification; null for signatures it cannot read (e.g. v3). */
  parsed: SignaturePacket | null;
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
}

/** The whole key cannot be used; reason is shown to the client. */
export class CertRejected extends Error {
  constructor(
    readonly reason: string,
    readonly fingerprint?: string,
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

export async function readKeyMaterial(packet: Packet): Promise<KeyMaterial> {
  const parsed = new PublicKeyPacket();
  await parsed.read(packet.body);
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

function hex(bytes: Uint8Array | null | undefined): string | null {
  if (!bytes || bytes.length === 0) return null;
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

export function readSignature(packet: Packet): SigInfo {
  const id = packetKey(packet);
  const body = packet.body;
  const version = body[0] ?? 0;
  if (version === 3 && body.length >= 19) {
    // v3 signatures: openpgp.js cannot read them; keep their facts for attribution.
    return {
      packet, id, version, type: body[2]!, created: Buffer.from(body).readUInt32BE(3),
      issuerKeyId: hex(body.subarray(7, 15)), issuerFingerprint: null,
      keyExpirationTime: null, signatureExpirationTime: null, primaryUserId: false, parsed: null,
    };
  }
  const parsed = new SignaturePacket();
  parsed.read(body);
  // An absent issuer reads as the all-zero (wildcard) key ID.
  const issuerHex = parsed.issuerKeyID?.toHex().toUpperCase() ?? '';
  const issuerKeyId = issuerHex && issuerHex !== '0000000000000000' ? issuerHex : null;
  return {
    packet,
    id,
    version,
    type: parsed.signatureType ?? -1,
    created: parsed.created ? Math.floor(parsed.created.getTime() / 1000) : 0,
    issuerKeyId,
    issuerFingerprint: hex(parsed.issuerFingerprint as Uint8Array | null),
    keyExpirationTime: parsed.keyNeverExpires === false && parsed.keyExpirationTime ? parsed.keyExpirationTime : null,
    signatureExpirationTime: parsed.signatureNeverExpires === false && parsed.signatureExpirationTime ? parsed.signatureExpirationTime : null,
    primaryUserId: parsed.isPrimaryUserID === true,
    parsed,
  };
}

const SKIPPED_SILENTLY = new Set<number>([Tag.trust, Tag.marker, Tag.padding]);

/**
 * Splits one transferable key (its packets, primary first) into components. Unreadable or misplaced
 * packets are dropped and reported; secret key material rejects the whole key.
 */
export async function parseCert(packets: readonly Packet[]): Promise<{ cert: Cert; dropped: Dropped[] }> {
  const [first, ...rest] = packets;
  if (!first || (first.tag !== Tag.publicKey && first.tag !== Tag.secretKey)) {
    throw new CertRejected('data does not start with a public key packet');
  }
  if (packets.some((p) => p.tag === Tag.secretKey || p.tag === Tag.secretSubkey)) {
    const fingerprint = await secretKeyFingerprint(first.body);
    throw new CertRejected('secret key material is refused: upload only the public key (gpg --export, not --export-secret-keys)', fingerprint);
  }
  let primary: KeyMaterial;
  try {
    primary = await readKeyMaterial(first);
  } catch {
    throw new CertRejected(`unsupported or malformed primary key (version ${first.body[0] ?? '?'})`);
  }
  const cert: Cert = { primary, direct: [], users: [], subkeys: [] };
  const dropped: Dropped[] = [];
  let sigs: SigInfo[] | null = cert.direct;
  let where = 'primary key';
  for (const packet of rest) {
    switch (packet.tag) {
      case Tag.signature: {
        if (!sigs) {
          dropped.push({ component: where, reason: 'signature on a dropped component' });
          break;
        }
        try {
          sigs.push(readSignature(packet));
        } catch {
          dropped.push({ component: where, reason: 'unreadable signature' });
        }
        break;
      }
      case Tag.userId:
      case Tag.userAttribute: {
        const user: UserComponent = { packet, id: packetKey(packet), sigs: [] };
        cert.users.push(user);
        sigs = user.sigs;
        where = describeUser(packet);
        break;
      }
      case Tag.publicSubkey: {
        try {
          const key = await readKeyMaterial(packet);
          const sub: SubkeyComponent = { key, sigs: [] };
          cert.subkeys.push(sub);
          sigs = sub.sigs;
          where = `subkey ${key.fingerprint}`;
        } catch {
          dropped.push({ component: 'subkey', reason: 'unsupported or malformed subkey' });
          sigs = null;
          where = 'unreadable subkey';
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
    const used = (await (parsed.read(secretBody) as unknown as Promise<number>));
    return fingerprintOf(secretBody.subarray(0, used));
  } catch {
    return undefined;
  }
}

export function describeUser(packet: Packet): string {
  if (packet.tag === Tag.userAttribute) return 'user attribute (photo ID)';
  return `user ID "${new TextDecoder().decode(packet.body).slice(0, 80)}"`;
}

export const SigType = enums.signature;
