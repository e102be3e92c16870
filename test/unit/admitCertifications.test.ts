// The merge hands out certifications whose issuer is not stored; admitCertifications later admits those that
// verify by the issuers given, settles the refused ones for good and leaves the ones still without an issuer.
import { beforeAll, describe, expect, it } from 'vitest';
import { admitCertifications } from '../../src/openpgp/admitCertifications.js';
import { parseCert } from '../../src/openpgp/certificate.js';
import { parseStoredCert } from '../../src/openpgp/index.js';
import { DEFAULT_LIMITS } from '../../src/openpgp/limits.js';
import { mergeCert, type AwaitingIssuer } from '../../src/openpgp/merge.js';
import { Tag, writePackets, type Packet } from '../../src/openpgp/packets.js';
import { armoredPackets } from '../helpers/hkp.js';
import { makeKey, type TestKey } from '../helpers/keys.js';

const primaryBytes = (key: TestKey) => writePackets([key.packets[0]!]);

describe('certifications awaiting their issuer', () => {
  let target: TestKey;
  let known: TestKey;
  let later: TestKey;
  let stranger: TestKey;
  let stored: Uint8Array;
  let awaiting: AwaitingIssuer[];

  beforeAll(async () => {
    const made = await Promise.all(['Target', 'Known', 'Later', 'Stranger'].map((name) => makeKey([{ name, email: `${name}@example.org` }])));
    [target, known, later, stranger] = made as [TestKey, TestKey, TestKey, TestKey];
    const signed = await target.publicKey.signAllUsers([known.privateKey, later.privateKey, stranger.privateKey]);
    const { cert } = await parseCert(armoredPackets(signed.armor()));
    // Only `known` is stored: its certification is kept, the other two await their issuer.
    const merged = await mergeCert(null, cert, { limits: DEFAULT_LIMITS, lookupIssuers: async () => [primaryBytes(known)] });
    stored = merged.bytes;
    awaiting = merged.awaitingIssuer;
  });

  it('hands out the certifications whose issuer is not stored, not as dropped', async () => {
    expect(awaiting.map((a) => a.issuerKeyId).sort()).toEqual([later, stranger].map((k) => k.fingerprint.slice(-16)).sort());
    expect(awaiting.every((a) => a.component.includes('Target'))).toBe(true);
  });

  it('admits the ones that verify by the issuers given, refuses a forged one, leaves the others waiting', async () => {
    const genuine = awaiting.find((a) => a.issuerKeyId === later.fingerprint.slice(-16))!;
    const waiting = awaiting.find((a) => a.issuerKeyId === stranger.fingerprint.slice(-16))!;
    const forged = Uint8Array.from(genuine.signature);
    forged[forged.length - 3]! ^= 0xff;
    const pending = [
      { id: 'genuine', userIdDigest: genuine.userIdDigest, signature: genuine.signature },
      { id: 'forged', userIdDigest: genuine.userIdDigest, signature: forged },
      { id: 'waiting', userIdDigest: waiting.userIdDigest, signature: waiting.signature },
      { id: 'no such user ID', userIdDigest: '00'.repeat(32), signature: genuine.signature },
    ];
    const admission = await admitCertifications(await parseStoredCert(stored), pending, [primaryBytes(later)], DEFAULT_LIMITS);
    expect(admission.settled.sort()).toEqual(['forged', 'genuine', 'no such user ID']);
    expect(admission.merged?.status).toBe('updated');
    expect(admission.merged?.added.signatures).toBe(1);
    const bodies = (packets: Packet[]) => packets.filter((p) => p.tag === Tag.signature).map((p) => Buffer.from(p.body).toString('hex'));
    expect(bodies(admission.merged!.packets)).toContain(Buffer.from(genuine.signature).toString('hex'));
    expect(bodies(admission.merged!.packets)).not.toContain(Buffer.from(forged).toString('hex'));

    // Already on the key: settled, nothing to write.
    const again = await admitCertifications(
      await parseStoredCert(admission.merged!.bytes),
      pending.slice(0, 1),
      [primaryBytes(later)],
      DEFAULT_LIMITS,
    );
    expect(again).toEqual({ merged: null, settled: ['genuine'] });
  });

  it('respects the per-user-ID cap: a full user ID settles them without admitting', async () => {
    const genuine = awaiting.find((a) => a.issuerKeyId === later.fingerprint.slice(-16))!;
    const limits = { ...DEFAULT_LIMITS, maxCertificationsPerUserId: 1 };
    const admission = await admitCertifications(
      await parseStoredCert(stored),
      [{ id: 'g', userIdDigest: genuine.userIdDigest, signature: genuine.signature }],
      [primaryBytes(later)],
      limits,
    );
    expect(admission).toEqual({ merged: null, settled: ['g'] });
  });
});
