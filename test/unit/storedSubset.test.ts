import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCert } from '../../src/openpgp/certificate.js';
import { parseStoredCert } from '../../src/openpgp/index.js';
import { DEFAULT_LIMITS, type KeyLimits } from '../../src/openpgp/limits.js';
import { mergeCert } from '../../src/openpgp/merge.js';
import { Tag, fingerprintOf, type Packet } from '../../src/openpgp/packets.js';
import { isStoredSubset, publicKeyFingerprint } from '../../src/openpgp/storedSubset.js';
import { debianFixtures, fixtureBytes, fixtureKeys, fromPrivate, makeKey, type TestKey } from '../helpers/keys.js';

/** The key as the server stores it: merged alone (verified, canonical order, signatures normalised). */
async function storedBytes(packets: Packet[], limits: KeyLimits = DEFAULT_LIMITS): Promise<Uint8Array> {
  const { cert } = await parseCert(packets, limits);
  return (await mergeCert(null, cert, { limits })).bytes;
}

/** What the full merge says of the upload against the stored key. */
async function fullMerge(upload: Packet[], stored: Uint8Array, limits: KeyLimits = DEFAULT_LIMITS) {
  const parsed = await parseCert(upload, limits);
  const merged = await mergeCert(await parseStoredCert(stored), parsed.cert, { limits, lookupIssuers: async () => [] });
  // Certifications awaiting their issuer are not stored either: counted with the drops.
  const awaiting = merged.awaitingIssuer.map((a) => ({ component: a.component, reason: 'awaits its issuer' }));
  return { status: merged.status, dropped: [...parsed.dropped, ...merged.dropped, ...awaiting], added: merged.added };
}

/** isStoredSubset, checked against the full merge: when it says so, the merge finds nothing new and drops nothing. */
async function subset(upload: Packet[], stored: Uint8Array, limits: KeyLimits = DEFAULT_LIMITS): Promise<boolean> {
  const answer = isStoredSubset(upload, stored, limits);
  if (answer)
    expect(await fullMerge(upload, stored, limits)).toEqual({ status: 'unchanged', dropped: [], added: { userIds: 0, subkeys: 0, signatures: 0 } });
  return answer;
}

/** The signature with a subpacket appended to its unhashed area (unsigned: anyone can add one). */
function padUnhashed(body: Uint8Array, subpacketType = 20, size = 40): Uint8Array {
  const hashedLength = (body[4]! << 8) + body[5]!;
  const at = 6 + hashedLength;
  const unhashedLength = (body[at]! << 8) + body[at + 1]!;
  const extra = Buffer.concat([Buffer.from([size + 1, subpacketType]), Buffer.alloc(size, 7)]);
  const newLength = unhashedLength + extra.length;
  return new Uint8Array(
    Buffer.concat([
      body.subarray(0, at),
      Buffer.from([newLength >> 8, newLength & 0xff]),
      body.subarray(at + 2, at + 2 + unhashedLength),
      extra,
      body.subarray(at + 2 + unhashedLength),
    ]),
  );
}

const withLimits = (changes: Partial<KeyLimits>): KeyLimits => ({ ...DEFAULT_LIMITS, ...changes });

describe('isStoredSubset', () => {
  let key: TestKey;
  let twoUserIds: TestKey;
  let other: TestKey;
  let stored: Uint8Array;

  beforeAll(async () => {
    key = await makeKey([{ name: 'Subset', email: 'subset@example.org' }]);
    other = await makeKey([{ name: 'Other', email: 'other@example.org' }]);
    const { privateKey } = await openpgp.reformatKey({
      privateKey: key.privateKey,
      userIDs: [
        { name: 'Subset', email: 'subset@example.org' },
        { name: 'Subset at work', email: 'subset@work.example' },
      ],
      format: 'object',
    });
    twoUserIds = fromPrivate(privateKey);
    stored = await storedBytes(key.packets);
  });

  it('holds for the stored key itself, in any packet order and header form', async () => {
    expect(await subset(key.packets, stored)).toBe(true);
    const [primary, ...rest] = key.packets;
    expect(await subset([primary!, ...[...rest].reverse()], stored)).toBe(true);
  });

  it('holds for a part of the stored key: the primary key alone, or without its subkey', async () => {
    expect(await subset(key.packets.slice(0, 1), stored)).toBe(true);
    expect(
      await subset(
        key.packets.filter((p) => p.tag !== Tag.publicSubkey && p !== key.packets.at(-1)),
        stored,
      ),
    ).toBe(true);
  });

  it('holds when a stored signature comes with junk in its unsigned area (the merge normalises it away)', async () => {
    const padded = key.packets.map((p) => (p.tag === Tag.signature ? { tag: p.tag, body: padUnhashed(p.body) } : p));
    expect(padded.some((p, i) => p.body !== key.packets[i]!.body)).toBe(true);
    expect(await subset(padded, stored)).toBe(true);
  });

  it('ignores trust, marker and padding packets, as parsing does', async () => {
    const noise: Packet[] = [
      { tag: Tag.trust, body: Uint8Array.of(0, 0) },
      { tag: Tag.marker, body: new TextEncoder().encode('PGP') },
      { tag: Tag.padding, body: new Uint8Array(16) },
    ];
    expect(await subset([key.packets[0]!, ...noise, ...key.packets.slice(1)], stored)).toBe(true);
  });

  it("fails for anything not stored: a new user ID or signature, another primary key, another key's subkey", async () => {
    expect(await subset(twoUserIds.packets, stored)).toBe(false);
    expect((await fullMerge(twoUserIds.packets, stored)).status).toBe('updated');
    const newSignature = twoUserIds.packets.find((p) => p.tag === Tag.signature && !key.packets.some((q) => Buffer.from(q.body).equals(p.body)))!;
    expect(await subset([...key.packets, newSignature], stored)).toBe(false);
    expect(await subset(other.packets, stored)).toBe(false);
    const otherSubkey = other.packets.filter((p) => p.tag === Tag.publicSubkey);
    expect(await subset([...key.packets, ...otherSubkey], stored)).toBe(false);
  });

  it('fails for a packet that differs from a stored one only before its last bytes (same tag and length)', async () => {
    const userId = key.packets.find((p) => p.tag === Tag.userId)!;
    const twin = Uint8Array.from(userId.body);
    twin[0] = twin[0] === 0x58 ? 0x59 : 0x58; // another first letter
    expect(await subset([...key.packets, { tag: Tag.userId, body: twin }], stored)).toBe(false);
    const sig = key.packets.find((p) => p.tag === Tag.signature)!;
    const otherSig = Uint8Array.from(sig.body);
    const flipped = otherSig.length - 40; // inside the signature value, before its last three bytes
    otherSig[flipped] = otherSig[flipped]! ^ 1;
    expect(await subset([...key.packets, { tag: Tag.signature, body: otherSig }], stored)).toBe(false);
  });

  it('fails for secret key material and for packets parsing reports as unexpected', async () => {
    const secret: Packet[] = [{ tag: Tag.secretKey, body: key.privateKey.keyPacket.write() }, ...key.packets.slice(1)];
    expect(isStoredSubset(secret, stored, DEFAULT_LIMITS)).toBe(false);
    expect(await subset([...key.packets, { tag: 11, body: Uint8Array.of(0x62, 0, 0, 0, 0, 0) }], stored)).toBe(false);
  });

  it('fails for a signature parsing cannot read, even when a readable copy of it is stored', async () => {
    const sig = key.packets.find((p) => p.tag === Tag.signature)!;
    expect(await subset([...key.packets, { tag: Tag.signature, body: sig.body.subarray(0, 8) }], stored)).toBe(false);
  });

  it('fails when parsing would drop a stored packet under the current (lowered) limits', async () => {
    const userIdLength = key.packets.find((p) => p.tag === Tag.userId)!.body.length;
    for (const limits of [
      withLimits({ maxUserIds: 0 }),
      withLimits({ maxSubkeys: 0 }),
      withLimits({ maxUserIdBytes: userIdLength - 1 }),
      withLimits({ maxPacketBytes: key.packets[0]!.body.length + 1 }), // the signatures are larger
    ]) {
      expect(isStoredSubset(key.packets, stored, limits)).toBe(false);
      expect((await fullMerge(key.packets, stored, limits)).dropped).not.toEqual([]);
    }
    // A primary key over the limit: the key is refused.
    const tooSmall = withLimits({ maxPacketBytes: key.packets[0]!.body.length - 1 });
    expect(isStoredSubset(key.packets, stored, tooSmall)).toBe(false);
    await expect(fullMerge(key.packets, stored, tooSmall)).rejects.toThrow(/primary key packet larger/);
    // The components over a limit left out, the rest still matches.
    expect(
      await subset(
        key.packets.filter((p) => p.tag !== Tag.publicSubkey && p !== key.packets.at(-1)),
        stored,
        withLimits({ maxSubkeys: 0 }),
      ),
    ).toBe(true);
  });

  it('fails for stored bytes it cannot use: unreadable, another key, no user ID', async () => {
    expect(isStoredSubset(key.packets, stored.subarray(0, stored.length - 3), DEFAULT_LIMITS)).toBe(false);
    expect(isStoredSubset(key.packets, await storedBytes(other.packets), DEFAULT_LIMITS)).toBe(false);
    const primaryOnly = stored.subarray(0, 2 + stored[1]!);
    expect(isStoredSubset(key.packets.slice(0, 1), primaryOnly, DEFAULT_LIMITS)).toBe(false);
    expect(isStoredSubset([], stored, DEFAULT_LIMITS)).toBe(false);
  });

  it('agrees with the full merge on the Debian keys (photo IDs, revoked subkeys, DSA, certifications by keys not stored)', async () => {
    for (const fixture of debianFixtures()) {
      const packets = fixtureKeys(fixtureBytes(fixture.file))[0]!;
      const { cert } = await parseCert(packets);
      const merged = await mergeCert(null, cert, { limits: DEFAULT_LIMITS });
      const merge = await fullMerge(packets, merged.bytes);
      expect(merge.status, fixture.file).toBe('unchanged');
      // As exported (third-party certifications the store did not keep are dropped again): a subset only without drops.
      expect(isStoredSubset(packets, merged.bytes, DEFAULT_LIMITS), fixture.file).toBe(merge.dropped.length === 0);
      // As stored, it is a subset of itself.
      expect(await subset(merged.packets, merged.bytes), fixture.file).toBe(true);
    }
  }, 60_000);
});

describe('publicKeyFingerprint', () => {
  it('is the fingerprint of the public primary key an upload starts with, null otherwise', async () => {
    const key = await makeKey();
    expect(publicKeyFingerprint(key.packets)).toBe(key.fingerprint);
    expect(publicKeyFingerprint(key.packets)).toBe(fingerprintOf(key.packets[0]!.body));
    expect(publicKeyFingerprint(key.packets.slice(1))).toBeNull();
    expect(publicKeyFingerprint([{ tag: Tag.secretKey, body: key.privateKey.keyPacket.write() }])).toBeNull();
    expect(publicKeyFingerprint([{ tag: Tag.publicKey, body: Uint8Array.of(9, 1, 2) }])).toBeNull();
    expect(publicKeyFingerprint([])).toBeNull();
  });
});
