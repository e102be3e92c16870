// The streaming key reader: keys found whatever the chunking, old and new packet headers, armored blocks
// decoded incrementally, and broken framing skipped up to the next plausible public-key packet.
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeArmor } from '../../src/formats/armor.js';
import { KeySplitter, KeyStreamReader, primaryFingerprint, readKeyStream, type KeyStreamItem } from '../../src/openpgp/keyStream.js';
import { concatBytes, fingerprintOf, packetHeader, writePackets, Tag, type Packet } from '../../src/openpgp/packets.js';
import { fixtureBytes, fixtureKeys, makeKey, type TestKey } from '../helpers/keys.js';

let keys: TestKey[];
let bytes: Uint8Array[];

beforeAll(async () => {
  keys = await Promise.all([1, 2, 3].map((i) => makeKey([{ name: `Key ${i}`, email: `key${i}@example.org` }])));
  bytes = keys.map((k) => writePackets(k.packets));
});

type Item = Exclude<KeyStreamItem, { kind: 'key' }> | { kind: 'key'; bytes: string; offset: number; block?: number };

/** What the reader yields for input pushed in the given pieces (key bytes as hex: quick to compare). */
function read(pieces: Uint8Array[], reader: { push(c: Uint8Array): KeyStreamItem[]; end(): KeyStreamItem[] } = new KeyStreamReader()): Item[] {
  const items: KeyStreamItem[] = [];
  for (const piece of pieces) items.push(...reader.push(piece));
  items.push(...reader.end());
  return items.map((i) => (i.kind === 'key' ? { ...i, bytes: hex(i.bytes) } : i));
}

function keyBytes(items: Item[]): string[] {
  return items.flatMap((i) => (i.kind === 'key' ? [i.bytes] : []));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Old-format packet header (RFC 9580 §4.2.2) with 1, 2 or 4 length octets. */
function oldHeader(tag: number, length: number, octets: 1 | 2 | 4): Uint8Array {
  const type = octets === 1 ? 0 : octets === 2 ? 1 : 2;
  const out = [0x80 | (tag << 2) | type];
  for (let i = octets - 1; i >= 0; i--) out.push((length >>> (8 * i)) & 0xff);
  return Uint8Array.from(out);
}

function withOldHeaders(packets: Packet[], octets: 1 | 2 | 4): Uint8Array {
  return concatBytes(packets.flatMap((p) => [oldHeader(p.tag, p.body.length, p.body.length > 255 && octets === 1 ? 2 : octets), p.body]));
}

describe('KeySplitter and KeyStreamReader on binary input', () => {
  it('hands out each key with its exact bytes and offset', () => {
    const input = concatBytes(bytes);
    const items = read([input]);
    expect(items.map((i) => i.kind)).toEqual(['key', 'key', 'key']);
    expect(keyBytes(items)).toEqual(bytes.map(hex));
    expect(items.map((i) => i.offset)).toEqual([0, bytes[0]!.length, bytes[0]!.length + bytes[1]!.length]);
  });

  it('gives the same keys whatever byte the input is split at, and fed one byte at a time', () => {
    const input = concatBytes(bytes);
    const whole = read([input]);
    for (let at = 0; at <= input.length; at++) {
      expect(read([input.subarray(0, at), input.subarray(at)]), `split at ${at}`).toEqual(whole);
    }
    const single: Uint8Array[] = [];
    for (let i = 0; i < input.length; i++) single.push(input.subarray(i, i + 1));
    expect(read(single)).toEqual(whole);
  });

  it('reads old-format headers with one, two and four length octets, and mixed with new-format ones', () => {
    for (const octets of [1, 2, 4] as const) {
      const oldKey = withOldHeaders(keys[0]!.packets, octets);
      const input = concatBytes([oldKey, bytes[1]!]);
      const items = read([input]);
      expect(keyBytes(items), `${octets} octets`).toEqual([hex(oldKey), hex(bytes[1]!)]);
      for (let at = 0; at <= input.length; at += 7) expect(read([input.subarray(0, at), input.subarray(at)])).toEqual(items);
    }
  });

  it('reads five-octet new-format lengths', () => {
    const [primary, ...rest] = keys[0]!.packets;
    const long = concatBytes([Uint8Array.of(0xc0 | Tag.publicKey, 0xff, 0, 0, 0, primary!.body.length), primary!.body, writePackets(rest)]);
    expect(keyBytes(read([long]))).toEqual([hex(long)]);
  });

  it('skips a key with broken framing and resumes at the next public-key packet, reporting the bytes skipped', () => {
    const broken = bytes[1]!.slice();
    // The user ID packet header of the second key (after its primary key packet) becomes a packet of tag 0.
    const uidAt = 2 + keys[1]!.packets[0]!.body.length;
    expect(broken[uidAt]).toBe(0xc0 | Tag.userId);
    broken[uidAt] = 0xc0;
    const input = concatBytes([bytes[0]!, broken, bytes[2]!]);
    for (let at = 0; at <= input.length; at += 5) {
      const items = read([input.subarray(0, at), input.subarray(at)]);
      expect(items.map((i) => i.kind)).toEqual(['key', 'skipped', 'key']);
      expect(keyBytes(items)).toEqual([hex(bytes[0]!), hex(bytes[2]!)]);
      const skipped = items[1] as Extract<Item, { kind: 'skipped' }>;
      expect(skipped).toMatchObject({
        offset: bytes[0]!.length,
        length: broken.length,
        at: bytes[0]!.length + uidAt,
        fingerprint: keys[1]!.fingerprint,
      });
      expect(skipped.reason).toMatch(/tag 0/);
    }
  });

  it('skips a truncated key whose last packet runs into the next key', () => {
    // Fixed keys (Debian fixtures): with random key bytes the truncated key's last packet can end on a
    // plausible boundary inside the next key (about 1 run in 100), and no reader can tell that apart.
    const fixedKeys = ['ed25519.gpg', 'expired.gpg', 'non-ascii-uid.gpg'].map((f) => fixtureKeys(fixtureBytes(f))[0]!);
    const fixed = fixedKeys.map((packets) => writePackets(packets));
    const truncated = fixed[1]!.subarray(0, fixed[1]!.length - 20);
    const items = read([concatBytes([fixed[0]!, truncated, fixed[2]!])]);
    expect(keyBytes(items)).toEqual([hex(fixed[0]!), hex(fixed[2]!)]);
    expect(items[1]).toMatchObject({ kind: 'skipped', offset: fixed[0]!.length, fingerprint: fingerprintOf(fixedKeys[1]![0]!.body) });
    // A plausible packet header inside the broken key can split the skipped region: together they cover it.
    const skippedBytes = items.reduce((n, i) => n + (i.kind === 'skipped' ? i.length : 0), 0);
    expect(skippedBytes).toBe(truncated.length);
  });

  it('skips garbage before the first key and a truncated key at the end', () => {
    const garbage = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    const tail = bytes[2]!.subarray(0, 30);
    const input = concatBytes([garbage, bytes[0]!, bytes[1]!, tail]);
    for (const pieces of [[input], [input.subarray(0, 100), input.subarray(100, 400), input.subarray(400)]]) {
      const items = read(pieces);
      expect(items.map((i) => i.kind)).toEqual(['skipped', 'key', 'key', 'skipped']);
      expect(items[0]).toMatchObject({ offset: 0, length: garbage.length });
      expect(items[3]).toMatchObject({ offset: input.length - tail.length, length: tail.length, reason: 'truncated packet' });
    }
  });

  it('keeps the last key when only zeros or blanks follow it, and not when other bytes follow them', () => {
    const padded = concatBytes([bytes[0]!, bytes[1]!, new Uint8Array(100), Uint8Array.of(0x0a)]);
    expect(read([padded]).map((i) => i.kind)).toEqual(['key', 'key']);
    const junk = concatBytes([bytes[0]!, bytes[1]!, new Uint8Array(10), Uint8Array.of(0x41, 0x42)]);
    const items = read([junk]);
    expect(items.map((i) => i.kind)).toEqual(['key', 'skipped']);
    expect(items[1]).toMatchObject({ offset: bytes[0]!.length, fingerprint: keys[1]!.fingerprint });
  });

  it('passes secret keys on (as keys: the merge refuses them by fingerprint)', () => {
    const [primary, ...rest] = keys[0]!.packets;
    const secretLike = writePackets([{ tag: Tag.secretKey, body: primary!.body }, ...rest]);
    const items = read([concatBytes([secretLike, bytes[2]!])]);
    expect(keyBytes(items)).toEqual([hex(secretLike), hex(bytes[2]!)]);
  });

  it('reports packets before the first key, resuming at the next public key; marker packets pass silently', () => {
    const stray = writePackets([keys[1]!.packets[1]!]); // a user ID with no key before it
    const items = read([concatBytes([stray, bytes[2]!])]);
    expect(items.map((i) => i.kind)).toEqual(['skipped', 'key']);
    expect(items[0]).toMatchObject({ offset: 0, length: stray.length, reason: 'no public key packet before this packet' });
    const marker = writePackets([{ tag: Tag.marker, body: Buffer.from('PGP') }]);
    expect(read([concatBytes([marker, bytes[2]!])]).map((i) => i.kind)).toEqual(['key']);
  });

  it('skips a key larger than maxKeyBytes without holding it, and goes on with the next', () => {
    const photos = Array.from({ length: 5 }, () => ({ tag: Tag.userAttribute, body: new Uint8Array(1000) }));
    const big = writePackets([...keys[0]!.packets, ...photos]);
    const input = concatBytes([big, bytes[1]!]);
    const splitter = new KeySplitter({ maxKeyBytes: 2000 });
    const pieces = Array.from({ length: Math.ceil(input.length / 512) }, (_, i) => input.subarray(i * 512, (i + 1) * 512));
    const items = read(pieces, splitter);
    expect(items.map((i) => i.kind)).toEqual(['skipped', 'key']);
    expect(items[0]).toMatchObject({ offset: 0, reason: 'key larger than 2000 bytes', fingerprint: keys[0]!.fingerprint });
    expect(keyBytes(items)).toEqual([hex(bytes[1]!)]);
  });

  it('reads from an async source', async () => {
    async function* source() {
      for (const b of bytes) yield b;
    }
    const items: KeyStreamItem[] = [];
    for await (const item of readKeyStream(source())) items.push(item);
    expect(items.map((i) => (i.kind === 'key' ? primaryFingerprint(i.bytes) : i.reason))).toEqual(keys.map((k) => k.fingerprint));
  });
});

describe('KeyStreamReader on armored input', () => {
  it('decodes several blocks (CRLF, armor headers, text between) and reports blocks that are no public keys', () => {
    const first = encodeArmor(concatBytes([bytes[0]!, bytes[1]!])).replace('\n\n', '\nVersion: test\nComment: two keys\n\n');
    const second = encodeArmor(bytes[2]!).replace(/\n/g, '\r\n');
    const signature = encodeArmor(Uint8Array.of(1, 2, 3), 'SIGNATURE');
    const text = `Some notes first.\n\n${first}\nbetween the blocks\n${signature}${second}trailing text`;
    const input = Buffer.from(text, 'latin1');
    const whole = read([input]);
    expect(keyBytes(whole)).toEqual(bytes.map(hex));
    const notes = whole.filter((i) => i.kind === 'skipped');
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ reason: 'armored signature is not a public key' });
    expect(whole.filter((i) => i.kind === 'key').map((i) => i.block)).toEqual([
      3,
      3,
      3 + first.split('\n').length + 1 + signature.split('\n').length - 1,
    ]);
    for (let at = 0; at <= input.length; at++) {
      expect(read([input.subarray(0, at), input.subarray(at)]), `split at ${at}`).toEqual(whole);
    }
  });

  it('decodes base64 lines of any length, even one line longer than the reader keeps', () => {
    const data = concatBytes([bytes[0]!, ...Array.from({ length: 400 }, () => bytes[1]!)]);
    const b64 = Buffer.from(data).toString('base64');
    const text = `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${b64}\n-----END PGP PUBLIC KEY BLOCK-----\n`;
    const input = Buffer.from(text);
    const pieces = Array.from({ length: Math.ceil(input.length / 4093) }, (_, i) => input.subarray(i * 4093, (i + 1) * 4093));
    const items = read(pieces);
    expect(items.every((i) => i.kind === 'key')).toBe(true);
    expect(items).toHaveLength(401);
  });

  it('drops the keys of a block whose checksum does not match, and keeps the other blocks', () => {
    const good = encodeArmor(bytes[0]!);
    const lines = encodeArmor(bytes[1]!).split('\n');
    const checksumLine = lines.findIndex((l) => l.startsWith('='));
    lines[checksumLine] = lines[checksumLine] === '=AAAA' ? '=AAAB' : '=AAAA';
    const items = read([Buffer.from(good + lines.join('\n') + encodeArmor(bytes[2]!))]);
    expect(keyBytes(items)).toEqual([hex(bytes[0]!), hex(bytes[2]!)]);
    expect(items.filter((i) => i.kind === 'skipped').map((i) => (i as { reason: string }).reason)).toEqual([
      'armor checksum mismatch (corrupted data): the block is skipped',
    ]);
  });

  it('reports a block cut off before its END line, and invalid base64', () => {
    const truncated = encodeArmor(bytes[0]!).split('\n').slice(0, 4).join('\n');
    const invalid = encodeArmor(bytes[1]!).replace(/\n([A-Za-z0-9+/]{10})/, '\n$1!');
    const items = read([Buffer.from(`${invalid}${truncated}\n`)]);
    expect(items.map((i) => (i as { reason?: string }).reason)).toEqual([
      'invalid base64 in armor: the block is skipped',
      'armored block has no END line (truncated?): the block is skipped',
    ]);
  });

  it('takes a packet length beyond maxKeyBytes for corruption, not for a key to pass over', () => {
    const huge = concatBytes([bytes[0]!.subarray(0, 40), Uint8Array.of(0xc0 | Tag.signature, 0xff, 0x7f, 0, 0, 0), bytes[1]!]);
    const items = read([huge], new KeySplitter({ maxKeyBytes: 2000 }));
    expect(items.map((i) => i.kind)).toEqual(['skipped', 'key']);
    expect(items[0]).toMatchObject({ reason: 'packet of 2130706432 bytes' });
  });

  it('says so when the input holds no OpenPGP data at all', () => {
    expect(read([Buffer.from('just some text\nno keys here\n')])).toEqual([
      { kind: 'skipped', offset: 0, length: 0, reason: 'no OpenPGP data (neither binary packets nor an armored block)' },
    ]);
    expect(read([])).toMatchObject([{ kind: 'skipped', reason: 'no OpenPGP data (empty input)' }]);
  });

  it('treats leading blank lines before binary data as blanks, not as text', () => {
    const items = read([Buffer.from('\n\n'), bytes[0]!]);
    expect(keyBytes(items)).toEqual([hex(bytes[0]!)]);
    expect(items[0]!.offset).toBe(2);
  });

  it('writes headers the splitter reads (new-format lengths at each boundary)', () => {
    for (const length of [191, 192, 8383, 8384]) {
      const primary = keys[0]!.packets[0]!;
      const uid = { tag: Tag.userId, body: new Uint8Array(length).fill(0x41) };
      const key = concatBytes([packetHeader(Tag.publicKey, primary.body.length), primary.body, packetHeader(Tag.userId, length), uid.body]);
      expect(keyBytes(read([key, bytes[1]!])), `length ${length}`).toEqual([hex(key), hex(bytes[1]!)]);
    }
  });
});
