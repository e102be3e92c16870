import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import {
  PacketFramingError,
  Tag,
  concatBytes,
  fingerprintOf,
  keyIdOf,
  packetHeader,
  readPackets,
  splitKeys,
  writePackets,
  type Packet,
} from '../../src/openpgp/packets.js';

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function pkt(tag: number, n = 3): Packet {
  return { tag, body: bytes(n) };
}

function expectFramingError(input: Uint8Array, message?: RegExp): void {
  let caught: unknown;
  try {
    readPackets(input);
  } catch (e) {
    caught = e;
  }
  expect(caught, `input ${Buffer.from(input).toString('hex')}`).toBeInstanceOf(PacketFramingError);
  if (message) expect((caught as Error).message).toMatch(message);
}

describe('packetHeader', () => {
  it('uses one length octet below 192', () => {
    expect(Array.from(packetHeader(6, 0))).toEqual([0xc6, 0]);
    expect(Array.from(packetHeader(13, 100))).toEqual([0xcd, 100]);
    expect(Array.from(packetHeader(6, 191))).toEqual([0xc6, 191]);
  });

  it('uses two length octets from 192 to 8383', () => {
    expect(Array.from(packetHeader(6, 192))).toEqual([0xc6, 0xc0, 0x00]);
    // RFC 9580 §4.2.1.2 example: 1723 is encoded as 0xC5 0xFB.
    expect(Array.from(packetHeader(2, 1723))).toEqual([0xc2, 0xc5, 0xfb]);
    expect(Array.from(packetHeader(6, 8383))).toEqual([0xc6, 0xdf, 0xff]);
  });

  it('uses five length octets from 8384 on', () => {
    expect(Array.from(packetHeader(6, 8384))).toEqual([0xc6, 0xff, 0x00, 0x00, 0x20, 0xc0]);
    expect(Array.from(packetHeader(6, 70000))).toEqual([0xc6, 0xff, 0x00, 0x01, 0x11, 0x70]);
    // RFC 9580 example: 100000 is encoded as 0xFF 0x00 0x01 0x86 0xA0.
    expect(Array.from(packetHeader(14, 100000))).toEqual([0xce, 0xff, 0x00, 0x01, 0x86, 0xa0]);
  });
});

describe('readPackets / writePackets', () => {
  it('returns no packets for empty input', () => {
    expect(readPackets(new Uint8Array(0))).toEqual([]);
    expect(writePackets([]).length).toBe(0);
  });

  it.each([0, 1, 191, 192, 1723, 8383, 8384, 70000])('round-trips a body of %i bytes', (n) => {
    const body = bytes(n);
    const encoded = writePackets([{ tag: Tag.userId, body }]);
    const headerLength = n < 192 ? 2 : n < 8384 ? 3 : 6;
    expect(encoded.length).toBe(headerLength + n);
    const packets = readPackets(encoded);
    expect(packets).toHaveLength(1);
    expect(packets[0]!.tag).toBe(Tag.userId);
    expect(packets[0]!.body.length).toBe(n);
    expect(same(packets[0]!.body, body)).toBe(true);
  });

  it('round-trips a sequence of packets with mixed tags and sizes', () => {
    const input: Packet[] = [pkt(6, 51), pkt(13, 0), pkt(2, 200), pkt(14, 9000), pkt(2, 191), pkt(17, 192), pkt(21, 70000)];
    const out = readPackets(writePackets(input));
    expect(out.map((p) => p.tag)).toEqual(input.map((p) => p.tag));
    out.forEach((p, i) => expect(same(p.body, input[i]!.body)).toBe(true));
  });

  it('accepts a non-minimal five-octet length', () => {
    const input = Uint8Array.of(0xcd, 0xff, 0, 0, 0, 3, 0x61, 0x62, 0x63);
    const [p, ...rest] = readPackets(input);
    expect(rest).toEqual([]);
    expect(p!.tag).toBe(13);
    expect(new TextDecoder().decode(p!.body)).toBe('abc');
  });

  it('parses old-format headers with one-octet lengths', () => {
    // 0x98 = 10 0110 00: old format, tag 6, length type 0 (one octet).
    const body = bytes(10);
    const [p] = readPackets(concatBytes([Uint8Array.of(0x98, 10), body]));
    expect(p!.tag).toBe(6);
    expect(same(p!.body, body)).toBe(true);
  });

  it('parses old-format headers with two-octet lengths', () => {
    // 0x99 = 10 0110 01: old format, tag 6, length type 1 (two octets).
    const body = bytes(0x0123);
    const [p] = readPackets(concatBytes([Uint8Array.of(0x99, 0x01, 0x23), body]));
    expect(p!.tag).toBe(6);
    expect(p!.body.length).toBe(0x123);
    expect(same(p!.body, body)).toBe(true);
  });

  it('parses old-format headers with four-octet lengths', () => {
    // 0x9A = 10 0110 10: old format, tag 6, length type 2 (four octets).
    const body = bytes(70000);
    const [p] = readPackets(concatBytes([Uint8Array.of(0x9a, 0x00, 0x01, 0x11, 0x70), body]));
    expect(p!.tag).toBe(6);
    expect(same(p!.body, body)).toBe(true);
  });

  it('parses a stream mixing old- and new-format headers, and rewrites it in new format', () => {
    const key = bytes(5);
    const uid = new TextEncoder().encode('Alice <a@b.org>');
    const sig = bytes(300);
    const input = concatBytes([
      Uint8Array.of(0x98, key.length),
      key, // old tag 6
      Uint8Array.of(0xb4, uid.length),
      uid, // old tag 13 (0xB4 = 10 1101 00)
      Uint8Array.of(0xc2, 0xc0, 300 - 192),
      sig, // new tag 2, two-octet length: 300 = ((0xC0 - 192) << 8) + 108 + 192
    ]);
    const packets = readPackets(input);
    expect(packets.map((p) => p.tag)).toEqual([6, 13, 2]);
    expect(same(packets[0]!.body, key)).toBe(true);
    expect(new TextDecoder().decode(packets[1]!.body)).toBe('Alice <a@b.org>');
    expect(same(packets[2]!.body, sig)).toBe(true);

    const rewritten = writePackets(packets);
    expect(rewritten[0]).toBe(0xc6);
    const again = readPackets(rewritten);
    expect(again.map((p) => p.tag)).toEqual([6, 13, 2]);
    again.forEach((p, i) => expect(same(p.body, packets[i]!.body)).toBe(true));
  });

  it('rejects old-format indeterminate length', () => {
    expectFramingError(Uint8Array.of(0x9b, 1, 2, 3), /indeterminate/);
  });

  it('rejects a first octet without the high bit', () => {
    expectFramingError(Uint8Array.of(0x06, 1, 0));
    // A valid packet followed by garbage.
    expectFramingError(concatBytes([writePackets([pkt(6)]), Uint8Array.of(0x00)]), /byte 5/);
  });

  it('throws PacketFramingError on truncated input', () => {
    const truncated = [
      Uint8Array.of(0xc6), // no length octet
      Uint8Array.of(0xc6, 0xc0), // two-octet length cut
      Uint8Array.of(0xc6, 0xff, 0, 0, 1), // five-octet length cut
      Uint8Array.of(0xc6, 5, 1, 2, 3), // body cut
      Uint8Array.of(0xc6, 0xc0, 0x00, ...new Array<number>(191).fill(0)), // 192-byte body, 191 present
      Uint8Array.of(0x98), // old format, no length
      Uint8Array.of(0x99, 0x00), // old format, two-octet length cut
      Uint8Array.of(0x9a, 0, 0, 0), // old format, four-octet length cut
      Uint8Array.of(0x99, 0x00, 0x05, 1), // old format, body cut
    ];
    for (const t of truncated) expectFramingError(t);
    // A full packet then a truncated one.
    expectFramingError(concatBytes([writePackets([pkt(6, 10)]), Uint8Array.of(0xcd, 4, 0x41)]), /truncated/);
  });

  it('throws PacketFramingError on every partial body length octet (0xE0..0xFE)', () => {
    for (let l0 = 0xe0; l0 <= 0xfe; l0++) {
      expectFramingError(Uint8Array.of(0xc6, l0, ...new Array<number>(16).fill(0)), /partial/);
    }
  });

  it('returns bodies that are views of the input, not copies of neighbours', () => {
    const input = writePackets([
      { tag: 13, body: Uint8Array.of(1, 2) },
      { tag: 13, body: Uint8Array.of(3) },
    ]);
    const [a, b] = readPackets(input);
    expect(Array.from(a!.body)).toEqual([1, 2]);
    expect(Array.from(b!.body)).toEqual([3]);
  });

  it('reads and rewrites an openpgp.js key byte for byte', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'a@b.c' }], format: 'object' });
    const raw = publicKey.write();
    const packets = readPackets(raw);
    expect(packets[0]!.tag).toBe(Tag.publicKey);
    expect(packets.map((p) => p.tag)).toContain(Tag.userId);
    expect(packets.map((p) => p.tag)).toContain(Tag.publicSubkey);
    expect(packets.filter((p) => p.tag === Tag.signature).length).toBeGreaterThanOrEqual(2);
    expect(same(writePackets(packets), raw)).toBe(true);
  });
});

describe('concatBytes', () => {
  it('joins arrays in order', () => {
    expect(Array.from(concatBytes([Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)]))).toEqual([1, 2, 3]);
    expect(concatBytes([]).length).toBe(0);
  });
});

describe('splitKeys', () => {
  it('starts a new key at each public (6) or secret (5) key packet', () => {
    const packets = [pkt(6), pkt(13), pkt(2), pkt(14), pkt(2), pkt(5), pkt(13), pkt(2), pkt(7), pkt(2), pkt(6), pkt(13)];
    const { keys, leading } = splitKeys(packets);
    expect(leading).toEqual([]);
    expect(keys.map((k) => k.map((p) => p.tag))).toEqual([
      [6, 13, 2, 14, 2],
      [5, 13, 2, 7, 2],
      [6, 13],
    ]);
    // Packets are passed through, not copied.
    expect(keys[0]![0]).toBe(packets[0]);
    expect(keys[2]![1]).toBe(packets[11]);
  });

  it('does not split at subkeys', () => {
    const { keys } = splitKeys([pkt(6), pkt(14), pkt(2), pkt(7), pkt(2)]);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toHaveLength(5);
  });

  it('reports packets before the first key as leading', () => {
    const marker = pkt(10);
    const sig = pkt(2);
    const { keys, leading } = splitKeys([marker, sig, pkt(6), pkt(13)]);
    expect(leading).toEqual([marker, sig]);
    expect(keys.map((k) => k.map((p) => p.tag))).toEqual([[6, 13]]);
  });

  it('handles no packets and no keys', () => {
    expect(splitKeys([])).toEqual({ keys: [], leading: [] });
    const only = [pkt(13), pkt(2)];
    const r = splitKeys(only);
    expect(r.keys).toEqual([]);
    expect(r.leading).toEqual(only);
  });
});

describe('fingerprintOf / keyIdOf', () => {
  it('computes the v4 fingerprint openpgp.js reports, for the primary key and subkeys', async () => {
    const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'a@b.c' }], format: 'object' });
    const publicKey = privateKey.toPublic();
    const packets = readPackets(publicKey.write());
    expect(packets[0]!.body[0]).toBe(4);
    const fpr = fingerprintOf(packets[0]!.body);
    expect(fpr).toMatch(/^[0-9A-F]{40}$/);
    expect(fpr).toBe(publicKey.getFingerprint().toUpperCase());
    expect(keyIdOf(fpr)).toBe(publicKey.getKeyID().toHex().toUpperCase());
    expect(keyIdOf(fpr)).toBe(fpr.slice(24));

    const subkeyBodies = packets.filter((p) => p.tag === Tag.publicSubkey).map((p) => p.body);
    expect(subkeyBodies.map(fingerprintOf)).toEqual(publicKey.getSubkeys().map((s) => s.getFingerprint().toUpperCase()));
  });

  it('computes the v6 fingerprint openpgp.js reports', async () => {
    const { privateKey } = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ email: 'a@b.c' }],
      format: 'object',
      config: { v6Keys: true },
    });
    const publicKey = privateKey.toPublic();
    const packets = readPackets(publicKey.write());
    expect(packets[0]!.body[0]).toBe(6);
    const fpr = fingerprintOf(packets[0]!.body);
    expect(fpr).toMatch(/^[0-9A-F]{64}$/);
    expect(fpr).toBe(publicKey.getFingerprint().toUpperCase());
    expect(keyIdOf(fpr)).toBe(publicKey.getKeyID().toHex().toUpperCase());
    expect(keyIdOf(fpr)).toBe(fpr.slice(0, 16));
  });

  it('depends on every byte of the key body', () => {
    const body = Uint8Array.of(4, ...bytes(40));
    const a = fingerprintOf(body);
    body[20]! ^= 1;
    expect(fingerprintOf(body)).not.toBe(a);
  });

  it('throws PacketFramingError for unsupported versions and empty bodies', () => {
    for (const v of [2, 3, 5, 7]) {
      expect(() => fingerprintOf(Uint8Array.of(v, 1, 2, 3))).toThrow(PacketFramingError);
    }
    expect(() => fingerprintOf(new Uint8Array(0))).toThrow(PacketFramingError);
  });

  it('takes the last 16 hex digits of a v4 fingerprint and the first 16 of a v6 one', () => {
    const v4 = '0123456789ABCDEF0123456789ABCDEF01234567';
    expect(keyIdOf(v4)).toBe('89ABCDEF01234567');
    const v6 = 'FEDCBA9876543210' + '0'.repeat(48);
    expect(keyIdOf(v6)).toBe('FEDCBA9876543210');
  });
});
