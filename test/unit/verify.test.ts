// Signature checks by node:crypto (RSA, Ed25519) agree with openpgp.js's: every self-signature of the fixture keys
// and of generated keys verifies, mostly without openpgp.js; corrupted or misattributed ones do not.
import * as openpgp from 'openpgp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseCert, type Cert, type SigInfo } from '../../src/openpgp/certificate.js';
import { NO_LIMITS } from '../../src/openpgp/limits.js';
import { isSelfIssued } from '../../src/openpgp/merge.js';
import { readPackets } from '../../src/openpgp/packets.js';
import { verifyBy, type SignedData } from '../../src/openpgp/verify.js';
import { debianFixtures, fixtureBytes, fixtureKeys, makeKey } from '../helpers/keys.js';

function selfSignatures(cert: Cert): { sig: SigInfo; signed: SignedData }[] {
  const out: { sig: SigInfo; signed: SignedData }[] = [];
  const own = (sig: SigInfo) => isSelfIssued(sig, cert.primary);
  for (const sig of cert.direct.filter(own)) out.push({ sig, signed: { kind: 'key' } });
  for (const u of cert.users) for (const sig of u.sigs.filter(own)) out.push({ sig, signed: { kind: 'user', user: u.packet } });
  for (const s of cert.subkeys) for (const sig of s.sigs.filter(own)) out.push({ sig, signed: { kind: 'subkey', subkey: s.key } });
  return out;
}

/** A fresh copy of a signature (nothing cached), optionally with a byte of its body changed. */
function copy(sig: SigInfo, corruptAt?: number): SigInfo {
  const body = new Uint8Array(sig.packet.body);
  if (corruptAt !== undefined) body[corruptAt]! ^= 0x01;
  return { ...sig, packet: { tag: sig.packet.tag, body }, parsed: undefined };
}

async function certs(): Promise<Cert[]> {
  const keys = debianFixtures().map((f) => fixtureKeys(fixtureBytes(f.file))[0]!);
  keys.push((await makeKey([{ name: 'Ed', email: 'ed@example.org' }])).packets);
  const rsa = await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs: [{ name: 'Rsa' }], format: 'object' });
  keys.push(readPackets(rsa.privateKey.toPublic().write()));
  return Promise.all(keys.map(async (k) => (await parseCert(k, NO_LIMITS)).cert));
}

describe('signature verification', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('accepts every self-signature of the fixtures and generated keys, openpgp.js only for DSA and unusual hashes', async () => {
    const openpgpVerify = vi.spyOn(openpgp.SignaturePacket.prototype, 'verify');
    let count = 0;
    let fallback = 0;
    for (const cert of await certs()) {
      for (const { sig, signed } of selfSignatures(cert)) {
        const before = openpgpVerify.mock.calls.length;
        expect(await verifyBy(cert.primary, cert.primary, copy(sig), signed), cert.primary.fingerprint).toBe(true);
        count++;
        if (openpgpVerify.mock.calls.length > before) {
          fallback++;
          // Only keys node:crypto does not verify here, or hashes it is not given (RIPEMD-160).
          const native = [1, 2, 3, 22, 27].includes(cert.primary.algorithm) && [2, 8, 9, 10, 11].includes(sig.packet.body[3]!);
          expect(native, `${cert.primary.fingerprint} algorithm ${cert.primary.algorithm} hash ${sig.packet.body[3]}`).toBe(false);
        }
      }
    }
    expect(count).toBeGreaterThan(30);
    expect(fallback).toBeLessThan(count / 2);
  }, 60_000);

  it('refuses corrupted signatures, signatures over other data and signatures checked with another key (as openpgp.js does)', async () => {
    const all = await certs();
    for (const [n, cert] of all.entries()) {
      const [first] = selfSignatures(cert);
      if (!first) continue;
      const { sig, signed } = first;
      // The last byte of the signature value; a byte of the hashed area (the signed hash no longer matches).
      expect(await verifyBy(cert.primary, cert.primary, copy(sig, sig.packet.body.length - 1), signed)).toBe(false);
      expect(await verifyBy(cert.primary, cert.primary, copy(sig, 8), signed)).toBe(false);
      const other = all[(n + 1) % all.length]!;
      if (signed.kind === 'user') {
        expect(
          await verifyBy(cert.primary, cert.primary, copy(sig), {
            kind: 'user',
            user: { ...signed.user, body: new TextEncoder().encode('someone else') },
          }),
        ).toBe(false);
      }
      expect(await verifyBy(other.primary, cert.primary, copy(sig), signed)).toBe(false);
    }
  }, 60_000);
});
