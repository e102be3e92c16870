// Cryptographic check that a signature was made by a key over given key/user-ID data.
//
// Deliberate choices (a keyserver checks bindings, it does not judge policy):
// - dates are not checked: expired signatures still bind (they carry the expiry we report);
// - RIPEMD160 and SHA-1 are accepted, MD5 is not;
// - policy subpackets that make openpgp.js refuse a signature after checking it (a designated
//   revoker, unknown critical subpackets or notations) are ignored: the packet is stored unchanged.
import { constants, createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { config as defaultConfig, enums, type PublicKeyPacket } from './library.js';
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
      const head =
        version >= 5
          ? Uint8Array.of(0x95 + version, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
          : Uint8Array.of(0x95 + version, (n >> 8) & 0xff, n & 0xff);
      const out = new Uint8Array(head.length + n);
      out.set(head);
      out.set(body, head.length);
      return out;
    },
  };
}

export type SignedData = { kind: 'key' } | { kind: 'user'; user: Packet } | { kind: 'subkey'; subkey: KeyMaterial };

export async function verifyBy(issuer: KeyMaterial, primary: KeyMaterial, sig: SigInfo, signed: SignedData): Promise<boolean> {
  if (verifiesNatively(issuer, primary, sig, signed)) return true;
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

// v4 RSA and Ed25519 signatures over a hash node:crypto knows are first checked by node:crypto, synchronously, on
// the signed data as RFC 9580 §5.2.4 defines it, read from the packets here: openpgp.js parses the signature, goes
// through WebCrypto, a key import and a thread-pool round trip per signature, several times the cost on a bulk
// import. Only an acceptance is taken from here (after the checks openpgp.js makes before and after its own:
// the algorithm is the issuer's, the hash is not MD5, the signed hash's first two bytes match): anything else is
// left to openpgp.js, which has the last word.
const NATIVE_HASHES = new Map<number, string>([
  [enums.hash.sha1, 'sha1'],
  [enums.hash.sha224, 'sha224'],
  [enums.hash.sha256, 'sha256'],
  [enums.hash.sha384, 'sha384'],
  [enums.hash.sha512, 'sha512'],
]);
// openpgp.js refuses EdDSA signatures over digests shorter than SHA-256's.
const MIN_EDDSA_DIGEST = 32;
const RSA_ALGORITHMS = new Set<number>([enums.publicKey.rsaEncryptSign, enums.publicKey.rsaEncrypt, enums.publicKey.rsaSign]);
const CERTIFICATION_TYPES = new Set<number>([0x10, 0x11, 0x12, 0x13, 0x30]);
const SUBKEY_TYPES = new Set<number>([0x18, 0x28]);
const KEY_TYPES = new Set<number>([0x1f, 0x20]);

/** A v4 signature's fields for the check: its hashed part ends at hashedEnd; null when not one read here. */
interface V4Signature {
  type: number;
  algorithm: number;
  hash: string;
  hashedEnd: number;
  left16: number;
  /** The signature's values: RSA's s, EdDSA's r and s (left-padded), Ed25519's 64 bytes. */
  values: Uint8Array[];
}

function readV4Signature(body: Uint8Array): V4Signature | null {
  if (body.length < 8 || body[0] !== 4) return null;
  const hash = NATIVE_HASHES.get(body[3]!);
  if (!hash) return null;
  const hashedEnd = 6 + ((body[4]! << 8) | body[5]!);
  if (hashedEnd + 2 > body.length) return null;
  let at = hashedEnd + 2 + ((body[hashedEnd]! << 8) | body[hashedEnd + 1]!);
  if (at + 2 > body.length) return null;
  const left16 = (body[at]! << 8) | body[at + 1]!;
  at += 2;
  const mpi = (): Uint8Array | null => {
    if (at + 2 > body.length) return null;
    const end = at + 2 + ((((body[at]! << 8) | body[at + 1]!) + 7) >> 3);
    if (end > body.length) return null;
    const value = body.subarray(at + 2, end);
    at = end;
    return value;
  };
  const algorithm = body[2]!;
  let values: (Uint8Array | null)[];
  if (RSA_ALGORITHMS.has(algorithm)) values = [mpi()];
  else if (algorithm === enums.publicKey.eddsaLegacy) values = [mpi(), mpi()];
  else if (algorithm === enums.publicKey.ed25519) values = [body.subarray(at, (at += 64))];
  else return null;
  // Exactly the packet: anything else (truncated, trailing bytes) is left to openpgp.js.
  if (at !== body.length || values.some((v) => v === null)) return null;
  return { type: body[1]!, algorithm, hash, hashedEnd, left16, values: values as Uint8Array[] };
}

/** The data a v4 signature of this type signs (RFC 9580 §5.2.4), before its own hashed part; null when not one read here. */
function signedPrefix(primary: KeyMaterial, signed: SignedData, type: number): Uint8Array[] | null {
  const v4Key = (key: KeyMaterial) => {
    const n = key.packet.body.length;
    return key.version === 4 && n <= 0xffff ? [Uint8Array.of(0x99, n >> 8, n & 0xff), key.packet.body] : null;
  };
  const key = v4Key(primary);
  if (!key) return null;
  if (KEY_TYPES.has(type) && signed.kind === 'key') return key;
  if (SUBKEY_TYPES.has(type) && signed.kind === 'subkey') {
    const subkey = v4Key(signed.subkey);
    return subkey ? [...key, ...subkey] : null;
  }
  if (CERTIFICATION_TYPES.has(type) && signed.kind === 'user') {
    const { tag, body } = signed.user;
    const n = body.length;
    return [...key, Uint8Array.of(tag === 17 ? 0xd1 : 0xb4, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff), body];
  }
  return null;
}

function verifiesNatively(issuer: KeyMaterial, primary: KeyMaterial, sig: SigInfo, signed: SignedData): boolean {
  const body = sig.packet.body;
  const v4 = readV4Signature(body);
  if (!v4 || v4.type !== sig.type || v4.algorithm !== issuer.algorithm) return false;
  const prefix = signedPrefix(primary, signed, v4.type);
  if (!prefix) return false;
  const native = nativeKeyOf(issuer);
  if (!native) return false;
  try {
    const n = v4.hashedEnd;
    const data = Buffer.concat([
      ...prefix,
      body.subarray(0, n),
      Uint8Array.of(0x04, 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff),
    ]);
    const digest = createHash(v4.hash).update(data).digest();
    if (((digest[0]! << 8) | digest[1]!) !== v4.left16) return false;
    if (native.kind === 'rsa') {
      const [s] = v4.values;
      if (!s || s.length > native.size) return false;
      return cryptoVerify(v4.hash, data, { key: native.key, padding: constants.RSA_PKCS1_PADDING }, leftPad(s, native.size));
    }
    if (digest.length < MIN_EDDSA_DIGEST) return false;
    const [r, s] = v4.values;
    const rs =
      v4.algorithm === enums.publicKey.ed25519
        ? r
        : r && s && r.length <= 32 && s.length <= 32
          ? Buffer.concat([leftPad(r, 32), leftPad(s, 32)])
          : null;
    return !!rs && rs.length === 64 && cryptoVerify(null, digest, native.key, rs);
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
  const ed25519 = (point: Uint8Array): NativeKey => ({
    kind: 'ed25519',
    key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64(point) }, format: 'jwk' }),
    size: 32,
  });
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
