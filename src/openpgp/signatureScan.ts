// Reads the facts of a signature packet needed to attribute and order it — version, type, creation time,
// issuer, expiry times, primary-user-ID flag, key flags, revocation reason — without parsing its key material (cheap enough for floods).
// RFC 9580 §5.2.3 (v4/v6) and §5.2.2 (v3).

export interface SignatureFacts {
  version: number;
  type: number;
  /** Unix seconds; 0 when absent. */
  created: number;
  issuerKeyId: string | null;
  issuerFingerprint: string | null;
  keyExpirationTime: number | null;
  signatureExpirationTime: number | null;
  primaryUserId: boolean;
  /** First octet of the key-flags subpacket (certify 0x01, sign 0x02, encrypt 0x04/0x08, authenticate 0x20); null when absent. */
  keyFlags: number | null;
  /** Reason-for-revocation subpacket: its code and text (RFC 9580 §5.2.3.31); null when absent. */
  revocationReason: { code: number; text: string } | null;
}

export class SignatureScanError extends Error {}

const SUBPACKET = {
  created: 2,
  signatureExpiry: 3,
  keyExpiry: 9,
  issuer: 16,
  primaryUserId: 25,
  keyFlags: 27,
  revocationReason: 29,
  issuerFingerprint: 33,
} as const;
// Revocation texts longer than this are cut: shown on a key's page, never needed in full.
const MAX_REASON_CHARS = 500;
const utf8 = new TextDecoder('utf-8', { fatal: false });

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').toUpperCase();
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
}

/** The facts of a signature of this version and type before any subpacket is read. */
function noSubpacketFacts(version: number, type: number): SignatureFacts {
  return {
    version,
    type,
    created: 0,
    issuerKeyId: null,
    issuerFingerprint: null,
    keyExpirationTime: null,
    signatureExpirationTime: null,
    primaryUserId: false,
    keyFlags: null,
    revocationReason: null,
  };
}

export function scanSignature(body: Uint8Array): SignatureFacts {
  const version = body[0];
  if (version === 3) {
    if (body.length < 19 || body[1] !== 5) throw new SignatureScanError('truncated v3 signature');
    return { ...noSubpacketFacts(version, body[2]!), created: u32(body, 3), issuerKeyId: hex(body.subarray(7, 15)) };
  }
  if (version !== 4 && version !== 6) throw new SignatureScanError(`unsupported signature version ${version}`);
  const countBytes = version === 6 ? 4 : 2;
  const facts = noSubpacketFacts(version, body[1] ?? -1);
  let pos = 4;
  for (const hashed of [true, false]) {
    if (pos + countBytes > body.length) throw new SignatureScanError('truncated signature');
    const count = countBytes === 4 ? u32(body, pos) : (body[pos]! << 8) + body[pos + 1]!;
    pos += countBytes;
    const end = pos + count;
    if (end > body.length) throw new SignatureScanError('truncated signature subpackets');
    readSubpackets(body.subarray(pos, end), hashed, facts);
    pos = end;
  }
  if (pos + 2 > body.length) throw new SignatureScanError('truncated signature');
  return facts;
}

/**
 * The one reader of subpacket lengths (RFC 9580 §5.2.3.7): the length at `at` and the bytes it takes, or null when
 * `end` comes before the length does.
 */
function readSubpacketLength(bytes: Uint8Array, at: number, end: number): { length: number; lengthBytes: number } | null {
  const l0 = bytes[at]!;
  if (l0 < 192) return { length: l0, lengthBytes: 1 };
  if (l0 < 255) return at + 1 >= end ? null : { length: ((l0 - 192) << 8) + bytes[at + 1]! + 192, lengthBytes: 2 };
  return at + 5 > end ? null : { length: u32(bytes, at + 1), lengthBytes: 5 };
}

function readSubpackets(area: Uint8Array, hashed: boolean, facts: SignatureFacts): void {
  let pos = 0;
  while (pos < area.length) {
    const read = readSubpacketLength(area, pos, area.length);
    if (!read) throw new SignatureScanError('truncated subpacket length');
    const { length } = read;
    pos += read.lengthBytes;
    if (length < 1 || pos + length > area.length) throw new SignatureScanError('malformed subpacket');
    const type = area[pos]! & 0x7f;
    const data = area.subarray(pos + 1, pos + length);
    pos += length;
    // Only the hashed area is signed: times and flags count only there; the issuer is a hint either way.
    if (type === SUBPACKET.issuer && data.length === 8) facts.issuerKeyId ??= hex(data);
    else if (type === SUBPACKET.issuerFingerprint && data.length >= 21) facts.issuerFingerprint ??= hex(data.subarray(1));
    else if (!hashed) continue;
    else if (type === SUBPACKET.created && data.length === 4) facts.created = u32(data, 0);
    else if (type === SUBPACKET.keyExpiry && data.length === 4) facts.keyExpirationTime = u32(data, 0) || null;
    else if (type === SUBPACKET.signatureExpiry && data.length === 4) facts.signatureExpirationTime = u32(data, 0) || null;
    else if (type === SUBPACKET.primaryUserId && data.length === 1) facts.primaryUserId = data[0] !== 0;
    else if (type === SUBPACKET.keyFlags && data.length >= 1) facts.keyFlags = data[0]!;
    else if (type === SUBPACKET.revocationReason && data.length >= 1) {
      const text = utf8
        .decode(data.subarray(1, 1 + MAX_REASON_CHARS * 4))
        .replace(/[\u0000-\u001f\u007f]/g, ' ')
        .slice(0, MAX_REASON_CHARS);
      facts.revocationReason = { code: data[0]!, text };
    }
  }
}

// Unhashed subpackets kept: the issuer hints and an embedded back-signature (gpg puts the primary-key binding
// of signing subkeys there). Everything else in the unhashed area is unsigned: anyone could change it.
const KEPT_UNHASHED = new Set([16, 32, 33]);
const MAX_EMBEDDED_SIGNATURE = 4096;

/**
 * The signature with its unhashed area reduced to the subpackets worth keeping. Copies of one signature
 * that differ only in unsigned bytes become identical, so nobody can add "new" signatures to someone
 * else's key by padding a genuine one.
 */
export function normalizeSignature(body: Uint8Array): Uint8Array {
  const version = body[0];
  if (version !== 4 && version !== 6) return body;
  const countBytes = version === 6 ? 4 : 2;
  const readCount = (at: number) => (countBytes === 4 ? u32(body, at) : (body[at]! << 8) + body[at + 1]!);
  const unhashedAt = 4 + countBytes + readCount(4);
  if (unhashedAt + countBytes > body.length) throw new SignatureScanError('truncated signature');
  const unhashedLength = readCount(unhashedAt);
  const areaStart = unhashedAt + countBytes;
  const areaEnd = areaStart + unhashedLength;
  if (areaEnd > body.length) throw new SignatureScanError('truncated signature subpackets');
  const kept: Uint8Array[] = [];
  let pos = areaStart;
  let changed = false;
  while (pos < areaEnd) {
    const start = pos;
    // scanSignature read this area already (readSignature calls it first), so a length is never cut off here.
    const read = readSubpacketLength(body, pos, areaEnd);
    if (!read) throw new SignatureScanError('malformed subpacket');
    const { length } = read;
    pos += read.lengthBytes;
    const end = pos + length;
    if (length < 1 || end > areaEnd) throw new SignatureScanError('malformed subpacket');
    const type = body[pos]! & 0x7f;
    if (KEPT_UNHASHED.has(type) && (type !== 32 || length <= MAX_EMBEDDED_SIGNATURE)) kept.push(body.subarray(start, end));
    else changed = true;
    pos = end;
  }
  if (!changed) return body;
  const area = Buffer.concat(kept);
  const count =
    countBytes === 4
      ? Uint8Array.of((area.length >>> 24) & 0xff, (area.length >>> 16) & 0xff, (area.length >>> 8) & 0xff, area.length & 0xff)
      : Uint8Array.of((area.length >> 8) & 0xff, area.length & 0xff);
  return new Uint8Array(Buffer.concat([body.subarray(0, unhashedAt), count, area, body.subarray(areaEnd)]));
}
