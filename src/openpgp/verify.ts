// Cryptographic check that a signature was made by a key over given key/user-ID data.
//
// Deliberate choices (a keyserver checks bindings, it does not judge policy):
// - dates are not checked: expired signatures still bind (they carry the expiry we report);
// - RIPEMD160 and SHA-1 are accepted, MD5 is not;
// - policy subpackets that make openpgp.js refuse a signature after checking it (a designated
//   revoker, unknown critical subpackets or notations) are ignored: the packet is stored unchanged.
import { constants, createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { config as defaultConfig, enums, type PublicKeyPacket, type SignaturePacket } from 'openpgp';
import { parsedSignature, type KeyMaterial, type NativeKey, type SigInfo } from './certificate.js';
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
  if (await verifiesNatively(issuer, parsed, sig.type, data)) return true;
  try {
    await parsed.verify(issuer.parsed as PublicKeyPacket, sig.type, data as never, null as never, false, verifyConfig);
    return true;
  } catch {
    return false;
  }
}

// RSA and Ed25519 signatures over a hash node:crypto knows are first checked by node:crypto, synchronously:
// openpgp.js goes through WebCrypto, a key import and a thread-pool round trip per signature, several times the
// cost on a bulk import. Only an acceptance is taken from here (after the checks openpgp.js makes before and
// after its own, on the same signed data): anything else is left to openpgp.js, which has the last word.
const NATIVE_HASHES = new Map<number, string>([
  [enums.hash.sha1, 'sha1'], [enums.hash.sha224, 'sha224'], [enums.hash.sha256, 'sha256'], [enums.hash.sha384, 'sha384'], [enums.hash.sha512, 'sha512'],
]);
// openpgp.js refuses EdDSA signatures over digests shorter than SHA-256's.
const MIN_EDDSA_DIGEST = 32;

/** What openpgp.js's SignaturePacket has beyond its type declarations (used by its own verify). */
interface SignatureInternals {
  toHash(signatureType: number, data: object, detached: boolean): Uint8Array;
  params: Record<string, Uint8Array | undefined> | Promise<Record<string, Uint8Array | undefined>>;
}

async function verifiesNatively(issuer: KeyMaterial, parsed: SignaturePacket, type: number, data: object): Promise<boolean> {
  const hash = NATIVE_HASHES.get(parsed.hashAlgorithm ?? -1);
  if (!hash || parsed.version !== 4 || parsed.publicKeyAlgorithm !== issuer.parsed.algorithm || !parsed.signedHashValue) return false;
  const native = nativeKeyOf(issuer);
  if (!native) return false;
  try {
    const internals = parsed as unknown as SignatureInternals;
    const toHash = internals.toHash(type, data, false);
    const digest = createHash(hash).update(toHash).digest();
    if (digest[0] !== parsed.signedHashValue[0] || digest[1] !== parsed.signedHashValue[1]) return false;
    const params = await internals.params;
    if (native.kind === 'rsa') {
      const s = params['s'];
      if (!s || s.length > native.size) return false;
      return cryptoVerify(hash, toHash, { key: native.key, padding: constants.RSA_PKCS1_PADDING }, leftPad(s, native.size));
    }
    if (digest.length < MIN_EDDSA_DIGEST) return false;
    const { RS, r, s } = params;
    const rs = RS ?? (r && s && r.length <= 32 && s.length <= 32 ? Buffer.concat([leftPad(r, 32), leftPad(s, 32)]) : null);
    return rs !== null && rs.length === 64 && cryptoVerify(null, digest, native.key, rs);
  } catch {
    return false;
  }
}

function nativeKeyOf(material: KeyMaterial): NativeKey | null {
  if (material.nativeKey === undefined) {
    try {
      material.nativeKey = nativeKey(material.parsed);
    } catch {
      material.nativeKey = null;
    }
  }
  return material.nativeKey;
}

function nativeKey(key: PublicKeyPacket): NativeKey | null {
  const params = key.publicParams as Record<string, unknown>;
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  const ed25519 = (point: Uint8Array): NativeKey => ({ kind: 'ed25519', key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64(point) }, format: 'jwk' }), size: 32 });
  switch (key.algorithm) {
    case enums.publicKey.rsaEncryptSign:
    case enums.publicKey.rsaEncrypt:
    case enums.publicKey.rsaSign: {
      const n = params['n'] as Uint8Array;
      const e = params['e'] as Uint8Array;
      return { kind: 'rsa', key: createPublicKey({ key: { kty: 'RSA', n: b64(n), e: b64(e) }, format: 'jwk' }), size: n.length };
    }
    case enums.publicKey.eddsaLegacy: {
      // Ed25519 only, its point with the 0x40 prefix (as openpgp.js checks).
      const oid = params['oid'] as { getName(): string };
      const q = params['Q'] as Uint8Array;
      return oid.getName() === enums.curve.ed25519Legacy && q.length === 33 && q[0] === 0x40 ? ed25519(q.subarray(1)) : null;
    }
    case enums.publicKey.ed25519: {
      const a = params['A'] as Uint8Array;
      return a.length === 32 ? ed25519(a) : null;
    }
    default:
      return null;
  }
}

function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length >= length) return bytes;
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}
