import { describe, expect, it } from 'vitest';
import { keyForAddress } from '../../src/openpgp/addressSubset.js';
import { Tag, readPackets, splitKeys, writePackets, type Packet } from '../../src/openpgp/packets.js';
import { scanSignature } from '../../src/openpgp/signatureScan.js';
import { fixtureBytes } from '../helpers/keys.js';
import { makeV6Key } from '../helpers/v6.js';

const PHOTO_KEY = '1A9F9365EF7F1142627526B1CC79D80A5BB7FC51';

function components(packets: Packet[]) {
  const out: { packet: Packet; sigs: Packet[] }[] = [];
  for (const p of packets) {
    if (p.tag === Tag.signature) out[out.length - 1]!.sigs.push(p);
    else out.push({ packet: p, sigs: [] });
  }
  return out;
}

const text = (p: Packet) => new TextDecoder().decode(p.body);

describe('keyForAddress (the Web Key Directory subset of a stored key)', () => {
  const stored = writePackets(splitKeys(readPackets(fixtureBytes('photo-id.gpg'))).keys[0]!);
  const all = components(readPackets(stored));

  it("keeps the primary key, the address's user ID with its self-signatures only, and every subkey", () => {
    const subset = keyForAddress(stored, (e) => e === 'friedrich.beckmann@gmx.de');
    const kept = components(readPackets(subset!));
    expect(kept.map((c) => c.packet.tag)).toEqual([Tag.publicKey, Tag.userId, Tag.publicSubkey]);
    expect(text(kept[1]!.packet)).toBe('Friedrich Beckmann <friedrich.beckmann@gmx.de>');
    const original = all.find((c) => c.packet.tag === Tag.userId && text(c.packet) === text(kept[1]!.packet))!;
    const self = (sig: Packet) => {
      const facts = scanSignature(sig.body);
      return facts.issuerFingerprint === PHOTO_KEY || facts.issuerKeyId === PHOTO_KEY.slice(-16);
    };
    // The fixture's user ID carries certifications by other keys: all of them are left out, no self-signature is.
    expect(original.sigs.some((s) => !self(s))).toBe(true);
    expect(kept[1]!.sigs).toEqual(original.sigs.filter(self));
    expect(kept[1]!.sigs.length).toBeGreaterThan(0);
    expect(kept[0]!.sigs).toEqual(all[0]!.sigs);
    expect(kept[2]).toEqual(all.find((c) => c.packet.tag === Tag.publicSubkey));
    expect(all.some((c) => c.packet.tag === Tag.userAttribute)).toBe(true);
  });

  it('is null when no user ID has the address', () => {
    expect(keyForAddress(stored, (e) => e === 'nobody@example.org')).toBeNull();
  });

  it('works on v6 keys (issuer fingerprints of 32 bytes)', async () => {
    const six = await makeV6Key([{ email: 'a@six.example' }, { email: 'b@six.example' }]);
    const subset = readPackets(keyForAddress(writePackets(six.packets), (e) => e === 'b@six.example')!);
    expect(subset.filter((p) => p.tag === Tag.userId).map(text)).toEqual(['<b@six.example>']);
    expect(subset.filter((p) => p.tag === Tag.signature)).toHaveLength(six.packets.filter((p) => p.tag === Tag.signature).length - 1);
  });
});
