// Real keys with awkward features (RIPEMD160-only self-signatures, a designated revoker, photo IDs, DSA/Elgamal,
// NIST curves, revoked subkeys, expiry, non-ASCII user IDs, the largest Debian key) survive a round trip.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tag } from '../../src/openpgp/packets.js';
import { scanSignature } from '../../src/openpgp/signatureScan.js';
import { armoredPackets, lookup, pushKeys } from '../helpers/hkp.js';
import { debianFixtures, fixtureBytes, fixtureKeys, packetSet } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

const fixtures = debianFixtures();

/** Whether a packet (as packetSet writes it) is a signature made by another key than `fingerprint`. */
function isThirdParty(packet: string, fingerprint: string): boolean {
  if (!packet.startsWith(`${Tag.signature}:`)) return false;
  const facts = scanSignature(Buffer.from(packet.slice(2), 'hex'));
  const issuer = facts.issuerFingerprint ?? facts.issuerKeyId;
  return !!issuer && !fingerprint.endsWith(issuer);
}

describe.each(backends)('Debian fixture keys on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(fixtures.map((f) => [f.file, f] as const))('%s is stored whole and found by every ID', async (_, fixture) => {
    const bytes = fixtureBytes(fixture.file);
    const res = await pushKeys(server.url, bytes);
    expect(res.status).toBe(200);
    expect(res.json.inserted).toEqual([fixture.fingerprint]);
    const get = await lookup(server.url, { op: 'get', options: 'mr', search: `0x${fixture.fingerprint}` });
    expect(get.status).toBe(200);
    const stored = new Set(packetSet(armoredPackets(get.text)));
    const original = packetSet(fixtureKeys(bytes)[0]!);
    // Every user ID, photo ID, subkey and self-signature is kept; third-party certifications by keys not
    // stored here are dropped (the default certification policy) and reported.
    expect(original.filter((p) => !stored.has(p) && !isThirdParty(p, fixture.fingerprint))).toEqual([]);
    if (original.some((p) => !stored.has(p))) expect(res.json.dropped.length).toBeGreaterThan(0);
    for (const id of [
      fixture.fingerprint.slice(-16),
      fixture.fingerprint.slice(-8),
      ...fixture.subkeyFingerprints,
      ...fixture.subkeyFingerprints.map((f) => f.slice(-16)),
    ]) {
      const byId = await lookup(server.url, { op: 'get', search: `0x${id}` });
      expect(byId.status, id).toBe(200);
    }
    expect((await pushKeys(server.url, bytes)).json.unchanged).toEqual([fixture.fingerprint]);
  });

  it('keeps the designated-revoker and RIPEMD160 keys with all their self-signatures', async () => {
    for (const file of ['designated-revoker.gpg', 'ripemd160.gpg']) {
      const bytes = fixtureBytes(file);
      const fixture = fixtures.find((f) => f.file === file)!;
      expect((await pushKeys(server.url, bytes)).status).toBe(200);
      const get = await lookup(server.url, { op: 'get', search: `0x${fixture.fingerprint}` });
      const stored = armoredPackets(get.text);
      expect(stored.filter((p) => p.tag === Tag.userId)).toHaveLength(fixture.userIdStrings.length);
      const own = (packets: string[]) => packets.filter((p) => !isThirdParty(p, fixture.fingerprint));
      expect(own(packetSet(stored))).toEqual(own(packetSet(fixtureKeys(bytes)[0]!)));
    }
  });
});
