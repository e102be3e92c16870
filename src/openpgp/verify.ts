// Cryptographic check that a signature was made by a key over given key/user-ID data.
//
// Deliberate choices (a keyserver checks bindings, it does not judge policy):
// - dates are not checked: expired signatures still bind (they carry the expiry we report);
// - RIPEMD160 and SHA-1 are accepted, MD5 is not;
// - policy subpackets that make openpgp.js refuse a signature after checking it (a designated
//   revoker, unknown critical subpackets or notations) are ignored: the packet is stored unchanged.
import { config as defaultConfig, enums, type PublicKeyPacket } from 'openpgp';
import { parsedSignature, type KeyMaterial, type SigInfo } from './certificate.js';
import type { Packet } from './packets.js';

const verifyConfig = {
  ...defaultConfig,
  rejectHashAlgorithms: new Set<number>([enums.hash.md5]),
  rejectMessageHashAlgorithms: new Set<number>([enums.hash.md5]),
};

interface KeyForHash {
  writeForHash(version: number): Uint8Array;
}

/** Hashes a key packet from its original bytes (never re-serialised). */
function keyForHash(body: Uint8Array): KeyForHash {
  return {
    writeForHash(version: number) {
      const n = body.length;
      const head = version >= 5
        ? Uint8Array.of(0x95 + version, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
        : Uint8Array.of(0x95 + version, (n >> 8) & 0xff, n & 0xff);
      const out = new Uint8Array(head.length + n);
      out.set(head);
      out.set(body, head.length);
      return out;
    },
  };
}

export type SignedData =
  | { kind: 'key' }
  | { kind: 'user'; user: Packet }
  | { kind: 'subkey'; subkey: KeyMaterial };

export async function verifyBy(issuer: KeyMaterial, primary: KeyMaterial, sig: SigInfo, signed: SignedData): Promise<boolean> {
  const parsed = parsedSignature(sig);
  if (!parsed) return false;
  const data: Record<string, unknown> = { key: keyForHash(primary.packet.body) };
  if (signed.kind === 'user') {
    const raw = { write: () => signed.user.body };
    if (signed.user.tag === 17) data['userAttribute'] = raw;
    else data['userID'] = raw;
  } else if (signed.kind === 'subkey') {
    data['bind'] = keyForHash(signed.subkey.packet.body);
  }
  // Attribution is decided by the caller (including signatures without an issuer subpacket).
  parsed.issuerKeyID = issuer.parsed.getKeyID();
  parsed.unknownSubpackets = [];
  parsed.rawNotations = [];
  parsed.revocationKeyClass = null;
  try {
    await parsed.verify(issuer.parsed as PublicKeyPacket, sig.type, data as never, null as never, false, verifyConfig);
    return true;
  } catch {
    return false;
  }
}
