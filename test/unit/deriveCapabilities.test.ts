// Capabilities and revocation reasons, derived at import from key flags and reason-for-revocation subpackets.
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { parseCert } from '../../src/openpgp/certificate.js';
import { capabilitiesOf, deriveKey } from '../../src/openpgp/derive.js';
import { readPackets } from '../../src/openpgp/packets.js';
import { scanSignature } from '../../src/openpgp/signatureScan.js';
import { debianFixtures, fixtureBytes, fixtureKeys, makeKey } from '../helpers/keys.js';

const derive = async (bytes: Uint8Array) => deriveKey((await parseCert(readPackets(bytes))).cert);

describe('capabilitiesOf', () => {
  it('reads the key-flags octet', () => {
    expect(capabilitiesOf(0x03, 22, true)).toBe('cs');
    expect(capabilitiesOf(0x0c, 18, false)).toBe('e');
    expect(capabilitiesOf(0x04, 1, false)).toBe('e');
    expect(capabilitiesOf(0x20, 22, false)).toBe('a');
    expect(capabilitiesOf(0x23, 1, true)).toBe('csa');
    expect(capabilitiesOf(0, 1, false)).toBe('');
  });
  it('falls back on what the algorithm allows when a key has no key flags', () => {
    expect(capabilitiesOf(null, 17, true)).toBe('cs'); // DSA primary
    expect(capabilitiesOf(null, 16, false)).toBe('e'); // Elgamal subkey
    expect(capabilitiesOf(null, 1, false)).toBe('se'); // RSA subkey
    expect(capabilitiesOf(null, 2, true)).toBe('c'); // RSA encrypt-only primary
  });
});

describe('deriveKey: capabilities and revocations', () => {
  it('gives a new ed25519 key certify+sign and its cv25519 subkey encrypt', async () => {
    const key = await makeKey();
    const derived = await derive(key.publicKey.write());
    expect(derived.capabilities).toBe('cs');
    expect(derived.subkeys.map((s) => s.capabilities)).toEqual(['e']);
    expect(derived.revocation).toBeNull();
  });

  it('keeps the reason and text of a key revocation and of a subkey revocation', async () => {
    const key = await makeKey();
    const { privateKey: revoked } = await openpgp.revokeKey({
      key: key.privateKey,
      format: 'object',
      reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keyRetired, string: 'moved to a <new> key' },
    });
    const derived = await derive(revoked.toPublic().write());
    expect(derived.revoked).toBe(true);
    expect(derived.revocation).toEqual({ code: 3, text: 'moved to a <new> key' });

    const subkey = key.privateKey.getSubkeys()[0]!;
    const revokedSub = await subkey.revoke(key.privateKey.keyPacket as openpgp.SecretKeyPacket, {
      flag: openpgp.enums.reasonForRevocation.keyCompromised,
      string: 'laptop stolen',
    });
    key.privateKey.subkeys = [revokedSub];
    const subDerived = await derive(key.privateKey.toPublic().write());
    expect(subDerived.revoked).toBe(false);
    expect(subDerived.subkeys[0]!.revoked).toBe(true);
    expect(subDerived.subkeys[0]!.revocation).toEqual({ code: 2, text: 'laptop stolen' });
  });

  it('derives the Debian DSA/Elgamal key as the algorithms and flags say', async () => {
    const fixture = debianFixtures().find((f) => f.features.includes('dsa-elgamal'))!;
    const [packets] = fixtureKeys(fixtureBytes(fixture.file));
    const derived = deriveKey((await parseCert(packets!)).cert);
    expect(derived.capabilities).toMatch(/^cs/);
    expect(derived.subkeys.every((s) => s.capabilities === 'e')).toBe(true);
  });
});

describe('scanSignature: key flags and reason for revocation', () => {
  it('reads only the hashed area and cuts control characters from the reason', async () => {
    const key = await makeKey();
    const { privateKey: revoked } = await openpgp.revokeKey({
      key: key.privateKey,
      format: 'object',
      reasonForRevocation: { flag: 1, string: 'new key\u0007\nsee site' },
    });
    const revocation = revoked.revocationSignatures[0]!;
    const facts = scanSignature(revocation.write());
    expect(facts.revocationReason).toEqual({ code: 1, text: 'new key  see site' });
    expect(facts.keyFlags).toBeNull();
    const binding = key.publicKey.users[0]!.selfCertifications[0]!;
    expect(scanSignature(binding.write()).keyFlags).toBe(0x03);
  });
});
