// OpenPGP packet framing (RFC 9580 §4.2): split bytes into packets and write them back.
// Pure byte handling: no parsing of packet contents here.
import { createHash } from 'node:crypto';

export interface Packet {
  tag: number;
  body: Uint8Array;
}

export const Tag = {
  signature: 2,
  secretKey: 5,
  publicKey: 6,
  secretSubkey: 7,
  marker: 10,
  trust: 12,
  userId: 13,
  publicSubkey: 14,
  userAttribute: 17,
  padding: 21,
} as const;

export class PacketFramingError extends Error {}

/** A packet header read at a position: the packet's tag and body length, or why it cannot be read. */
export type PacketHeader =
  | { tag: number; headerLength: number; length: number }
  /** The bytes end inside the header. */
  | { need: true }
  /** Not a header key data may have: no header bit, a partial body length or an indeterminate length. */
  | { invalid: 'header' | 'partial' | 'indeterminate' };

/** The one reader of packet headers (RFC 9580 §4.2, new and old formats), of `data` up to `end`. */
export function readPacketHeader(data: Uint8Array, at: number, end: number): PacketHeader {
  const first = data[at]!;
  if ((first & 0x80) === 0) return { invalid: 'header' };
  if (first & 0x40) {
    const tag = first & 0x3f;
    if (at + 1 >= end) return { need: true };
    const l0 = data[at + 1]!;
    if (l0 < 192) return { tag, headerLength: 2, length: l0 };
    if (l0 < 224) {
      if (at + 2 >= end) return { need: true };
      return { tag, headerLength: 3, length: ((l0 - 192) << 8) + data[at + 2]! + 192 };
    }
    // Partial body lengths are only allowed for data packets, never in keys.
    if (l0 !== 255) return { invalid: 'partial' };
    if (at + 6 > end) return { need: true };
    return { tag, headerLength: 6, length: readUint32(data, at + 2) };
  }
  const tag = (first >> 2) & 0x0f;
  const lengthType = first & 0x03;
  if (lengthType === 3) return { invalid: 'indeterminate' };
  const n = 1 << lengthType;
  if (at + 1 + n > end) return { need: true };
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + data[at + 1 + i]!;
  return { tag, headerLength: 1 + n, length };
}

const FRAMING_ERRORS = {
  partial: 'partial body length is not allowed in key data',
  indeterminate: 'indeterminate length is not allowed in key data',
} as const;

/** Splits a byte string into packets. Throws PacketFramingError on truncated or partial-length key data. */
export function readPackets(bytes: Uint8Array): Packet[] {
  const packets: Packet[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const header = readPacketHeader(bytes, pos, bytes.length);
    if ('need' in header) throw new PacketFramingError('truncated packet header');
    if ('invalid' in header) {
      throw new PacketFramingError(header.invalid === 'header' ? `invalid packet header at byte ${pos}` : FRAMING_ERRORS[header.invalid]);
    }
    const { tag, headerLength, length } = header;
    const start = pos + headerLength;
    const end = start + length;
    if (end > bytes.length) throw new PacketFramingError(`truncated packet (tag ${tag})`);
    packets.push({ tag, body: bytes.subarray(start, end) });
    pos = end;
  }
  return packets;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
}

/** Writes a packet with a new-format header. */
export function packetHeader(tag: number, length: number): Uint8Array {
  const first = 0xc0 | tag;
  if (length < 192) return Uint8Array.of(first, length);
  if (length < 8384) {
    const v = length - 192;
    return Uint8Array.of(first, (v >> 8) + 192, v & 0xff);
  }
  return Uint8Array.of(first, 255, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}

export function writePackets(packets: readonly Packet[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const p of packets) {
    parts.push(packetHeader(p.tag, p.body.length), p.body);
  }
  return concatBytes(parts);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Identity of a packet for de-duplication: tag plus body, header form ignored. */
export function packetKey(p: Packet): string {
  return p.tag.toString(16) + ':' + Buffer.from(p.body.buffer, p.body.byteOffset, p.body.byteLength).toString('base64');
}

/** Fingerprint of a public key packet body: v4 = SHA-1, v6 = SHA-256 (RFC 9580 §5.5.4). Upper-case hex. */
export function fingerprintOf(keyBody: Uint8Array): string {
  const version = keyBody[0];
  if (version === 4) {
    const h = createHash('sha1');
    h.update(Uint8Array.of(0x99, (keyBody.length >> 8) & 0xff, keyBody.length & 0xff));
    h.update(keyBody);
    return h.digest('hex').toUpperCase();
  }
  if (version === 6) {
    const n = keyBody.length;
    const h = createHash('sha256');
    h.update(Uint8Array.of(0x9b, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff));
    h.update(keyBody);
    return h.digest('hex').toUpperCase();
  }
  throw new PacketFramingError(`unsupported key version ${version}`);
}

/** Long key ID: v4 = last 8 bytes of the fingerprint, v6 = first 8 bytes. */
export function keyIdOf(fingerprint: string): string {
  return fingerprint.length === 64 ? fingerprint.slice(0, 16) : fingerprint.slice(-16);
}

/** Splits a packet stream into transferable keys: each starts at a primary (public or secret) key packet. */
export function splitKeys(packets: readonly Packet[]): { keys: Packet[][]; leading: Packet[] } {
  const keys: Packet[][] = [];
  const leading: Packet[] = [];
  let current: Packet[] | null = null;
  for (const p of packets) {
    if (p.tag === Tag.publicKey || p.tag === Tag.secretKey) {
      current = [p];
      keys.push(current);
    } else if (current) {
      current.push(p);
    } else {
      leading.push(p);
    }
  }
  return { keys, leading };
}
