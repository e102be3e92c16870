// src/openpgp/verify.ts and certificate.ts use parts of openpgp.js beyond its documented API (SignaturePacket's
// toHash, params and the fields its verify() consults; PublicKeyPacket's publicParams and read()'s return value).
// openpgp is pinned to one exact version; this test fails when an upgrade changes any of those parts.
import { readFileSync } from 'node:fs';
import * as openpgp from 'openpgp';
import { PublicKeyPacket, SignaturePacket, enums } from 'openpgp';
import { describe, expect, it } from 'vitest';
import { readPackets, splitKeys, type Packet } from '../../src/openpgp/packets.js';
import { debianFixtures, fixtureBytes, fixtureKeys } from '../helpers/keys.js';

const json = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'));

/** A key packet hashed from its bytes, as verify.ts's keyForHash does. */
const keyForHash = (body: Uint8Array) => ({
  writeForHash: (version: number) => {
    expect(version).toBe(4);
    return Uint8Array.of(0x99, body.length >> 8, body.length & 0xff, ...body);
  },
});

/** The primary key packet, the first user ID and its self-certification of a key's packets. */
function selfCertified(packets: Packet[]) {
  const primary = packets[0]!;
  const uidAt = packets.findIndex((p) => p.tag === 13);
  const user = packets[uidAt]!;
  const sig = packets.slice(uidAt + 1).find((p) => p.tag === 2)!;
  const parsedKey = new PublicKeyPacket();
  return { primary, user, sig, parsedKey };
}

async function generated(options: { type: 'ecc'; curve: 'curve25519Legacy' } | { type: 'curve25519' }) {
  const { publicKey } = await openpgp.generateKey({ ...options, userIDs: [{ name: 'Internals', email: 'internals@example.org' }], format: 'object' });
  return splitKeys(readPackets(publicKey.write())).keys[0]!;
}

async function signatureOf(packets: Packet[]) {
  const { primary, user, sig, parsedKey } = selfCertified(packets);
  await parsedKey.read(primary.body);
  const parsed = new SignaturePacket();
  parsed.read(sig.body);
  const data = { key: keyForHash(primary.body), userID: { write: () => user.body } };
  return { parsed, parsedKey, data, user };
}

describe('openpgp version', () => {
  it('is pinned to the exact version installed and locked', () => {
    const declared = json('../../package.json').dependencies.openpgp as string;
    const installed = json('../../node_modules/openpgp/package.json').version as string;
    const locked = json('../../package-lock.json').packages['node_modules/openpgp'].version as string;
    expect(declared).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(declared);
    expect(locked).toBe(declared);
  });
});

describe('openpgp.js internals verify.ts relies on', () => {
  it('has the enums and config fields verify.ts reads', () => {
    for (const name of ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const) expect(typeof enums.hash[name], name).toBe('number');
    for (const name of ['rsaEncryptSign', 'rsaEncrypt', 'rsaSign', 'eddsaLegacy', 'ed25519'] as const)
      expect(typeof enums.publicKey[name], name).toBe('number');
    expect(enums.curve.ed25519Legacy).toBe('ed25519Legacy');
    expect(openpgp.config.rejectHashAlgorithms).toBeInstanceOf(Set);
    expect(openpgp.config.rejectMessageHashAlgorithms).toBeInstanceOf(Set);
    expect(Array.isArray(openpgp.config.knownNotations)).toBe(true);
  });

  it('has SignaturePacket.toHash(type, data, detached) and verify(key, type, data, date, detached, config)', () => {
    const proto = SignaturePacket.prototype as unknown as Record<string, unknown>;
    expect(typeof proto['toHash']).toBe('function');
    expect(typeof proto['verify']).toBe('function');
    // Parameters before the first default value: toHash(signatureType, data, detached = false).
    expect((proto['toHash'] as (...a: unknown[]) => unknown).length).toBe(2);
    expect((proto['verify'] as (...a: unknown[]) => unknown).length).toBe(3);
  });

  it('reads a signature into the fields verify.ts reads and clears', async () => {
    const { parsed } = await signatureOf(await generated({ type: 'ecc', curve: 'curve25519Legacy' }));
    const fields = parsed as unknown as Record<string, unknown>;
    expect(parsed.version).toBe(4);
    expect(typeof parsed.hashAlgorithm).toBe('number');
    expect(parsed.publicKeyAlgorithm).toBe(enums.publicKey.eddsaLegacy);
    expect(parsed.signedHashValue).toBeInstanceOf(Uint8Array);
    expect(parsed.signedHashValue).toHaveLength(2);
    expect(typeof (fields['issuerKeyID'] as { equals?: unknown }).equals).toBe('function');
    expect(fields['unknownSubpackets']).toEqual([]);
    expect(Array.isArray(fields['rawNotations'])).toBe(true);
    expect(fields['revocationKeyClass']).toBeNull();
    // EdDSA (legacy) signatures: r and s.
    const params = (await fields['params']) as Record<string, unknown>;
    expect(params['r']).toBeInstanceOf(Uint8Array);
    expect(params['s']).toBeInstanceOf(Uint8Array);
  });

  it('hashes through data.key.writeForHash and data.userID.write, as verify.ts supplies them', async () => {
    const { parsed, data, user } = await signatureOf(await generated({ type: 'ecc', curve: 'curve25519Legacy' }));
    let wrote = 0;
    const hashed = (parsed as unknown as { toHash(t: number, d: object, detached: boolean): Uint8Array }).toHash(
      parsed.signatureType!,
      { ...data, userID: { write: () => (wrote++, user.body) } },
      false,
    );
    expect(wrote).toBe(1);
    expect(Buffer.from(hashed).includes(Buffer.from(user.body))).toBe(true);
  });

  it('verify() consults the fields verify.ts clears, and passes once they are cleared (no date check with null)', async () => {
    const packets = await generated({ type: 'ecc', curve: 'curve25519Legacy' });
    const verifyWith = async (change: (fields: Record<string, unknown>) => void) => {
      const { parsed, parsedKey, data } = await signatureOf(packets);
      change(parsed as unknown as Record<string, unknown>);
      await parsed.verify(parsedKey, parsed.signatureType!, data as never, null as never, false, openpgp.config);
    };
    await expect(verifyWith(() => {})).resolves.toBeUndefined();
    await expect(verifyWith((f) => void (f['unknownSubpackets'] = [{ type: 99, critical: true }]))).rejects.toThrow();
    await expect(verifyWith((f) => void (f['rawNotations'] = [{ name: 'x@example.org', critical: true }]))).rejects.toThrow();
    await expect(verifyWith((f) => void (f['revocationKeyClass'] = 0x80))).rejects.toThrow();
    const corrupt = async () => {
      const { parsed, parsedKey, data } = await signatureOf(packets);
      parsed.signedHashValue = Uint8Array.of(parsed.signedHashValue![0]! ^ 0xff, 0);
      await parsed.verify(parsedKey, parsed.signatureType!, data as never, null as never, false, openpgp.config);
    };
    await expect(corrupt()).rejects.toThrow();
  });

  it('exposes the public parameters verify.ts turns into node:crypto keys', async () => {
    const legacy = (await signatureOf(await generated({ type: 'ecc', curve: 'curve25519Legacy' }))).parsedKey;
    const legacyParams = legacy.publicParams as unknown as Record<string, unknown>;
    expect((legacyParams['oid'] as { getName(): string }).getName()).toBe(enums.curve.ed25519Legacy);
    const q = legacyParams['Q'] as Uint8Array;
    expect(q).toHaveLength(33);
    expect(q[0]).toBe(0x40);

    const modern = await signatureOf(await generated({ type: 'curve25519' }));
    expect(modern.parsedKey.algorithm).toBe(enums.publicKey.ed25519);
    expect((modern.parsedKey.publicParams as unknown as Record<string, Uint8Array>)['A']).toHaveLength(32);
    // Ed25519 (RFC 9580) signatures: one RS value.
    const params = (await (modern.parsed as unknown as { params: unknown }).params) as Record<string, unknown>;
    expect(params['RS']).toBeInstanceOf(Uint8Array);

    const rsaFixture = debianFixtures()
      .map((f) => fixtureKeys(fixtureBytes(f.file))[0]!)
      .find((k) => {
        const p = new PublicKeyPacket();
        void p.read(k[0]!.body);
        return p.algorithm === enums.publicKey.rsaEncryptSign;
      });
    expect(rsaFixture, 'an RSA key among the Debian fixtures').toBeDefined();
    const rsa = await signatureOf(rsaFixture!);
    const rsaParams = rsa.parsedKey.publicParams as unknown as Record<string, unknown>;
    expect(rsaParams['n']).toBeInstanceOf(Uint8Array);
    expect(rsaParams['e']).toBeInstanceOf(Uint8Array);
    expect(rsa.parsedKey.getAlgorithmInfo().bits).toBe((rsaParams['n'] as Uint8Array).length * 8);
    expect(((await (rsa.parsed as unknown as { params: unknown }).params) as Record<string, unknown>)['s']).toBeInstanceOf(Uint8Array);
  });

  it('PublicKeyPacket.read returns the bytes it used (certificate.ts names a secret key by its public prefix)', async () => {
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Secret' }], format: 'object' });
    const secret = readPackets(privateKey.write())[0]!;
    const publicBody = readPackets(privateKey.toPublic().write())[0]!.body;
    const used = await (new PublicKeyPacket().read(secret.body) as unknown as Promise<number>);
    expect(used).toBe(publicBody.length);
    const key = new PublicKeyPacket();
    await key.read(publicBody);
    expect(key.created).toBeInstanceOf(Date);
    expect(key.getAlgorithmInfo().curve).toBe(enums.curve.ed25519Legacy);
    expect(typeof key.getKeyID().toHex()).toBe('string');
  });
});
