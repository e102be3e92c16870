// Abuse limits and the third-party certification policy: nobody but the owner grows a key past its bounds.
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tag, type Packet } from '../../src/openpgp/packets.js';
import { armoredPackets, lookup, pushKeys } from '../helpers/hkp.js';
import { armorPackets, fromPrivate, makeKey, packetSet, userIdPackets, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';
import { writePackets } from '../../src/openpgp/packets.js';

/** A certification-shaped signature by a random (unknown) issuer: what a flood is made of. */
function floodSignature(created: number): Packet {
  const fpr = randomBytes(20);
  const hashed = Buffer.concat([Buffer.from([5, 2]), u32(created), Buffer.from([22, 33, 4]), fpr]);
  const unhashed = Buffer.concat([Buffer.from([9, 16]), fpr.subarray(12)]);
  const mpi = () => Buffer.concat([Buffer.from([0x01, 0x00]), randomBytes(32)]);
  const body = Buffer.concat([
    Buffer.from([4, 0x10, 22, 8]),
    u16(hashed.length),
    hashed,
    u16(unhashed.length),
    unhashed,
    randomBytes(2),
    mpi(),
    mpi(),
  ]);
  return { tag: Tag.signature, body: new Uint8Array(body) };
}
const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

/** The key's packets with third-party certifications by `certifier` on every user ID, made at `dates`. */
async function certifiedBy(key: TestKey, certifier: TestKey, dates: Date[]): Promise<Packet[]> {
  let signed = key.publicKey;
  for (const date of dates) signed = await signed.signAllUsers([certifier.privateKey], date);
  return fromPrivateOrPublic(signed);
}
function fromPrivateOrPublic(key: openpgp.PublicKey): Packet[] {
  return armoredPackets(key.armor());
}

const thirdPartyCount = (packets: Packet[], certifier: TestKey) =>
  packets.filter((p) => p.tag === Tag.signature && Buffer.from(p.body).includes(Buffer.from(certifier.fingerprint, 'hex'))).length;

async function stored(server: TestServer, fingerprint: string): Promise<Packet[]> {
  const res = await lookup(server.url, { op: 'get', search: `0x${fingerprint}` });
  expect(res.status).toBe(200);
  return armoredPackets(res.text);
}

describe.each(backends)('limits and certification policy on %s', (backend) => {
  let server: TestServer;
  let capped: TestServer;
  let alice: TestKey;
  let carol: TestKey;

  beforeAll(async () => {
    [server, capped] = await Promise.all([
      startTestServer(backend),
      startTestServer(backend, { MAX_CERTIFICATIONS_PER_USER_ID: '3', MAX_USER_IDS: '3', MAX_USER_ID_BYTES: '200', MAX_KEY_BYTES: '20000' }),
    ]);
    alice = await makeKey([{ name: 'Alice', email: 'alice@example.org' }]);
    // Made in the past, so that its certifications can carry the dates the tests give them.
    carol = await makeKey([{ name: 'Carol Certifier', email: 'carol@example.org' }], new Date(Date.UTC(2020, 0, 1)));
    for (const s of [server, capped]) {
      expect((await pushKeys(s.url, alice.armored)).status).toBe(200);
      expect((await pushKeys(s.url, carol.armored)).status).toBe(200);
    }
  });
  afterAll(async () => {
    await Promise.all([server?.close(), capped?.close()]);
  });

  it('keeps a certification by a stored key that verifies, drops one by a key not stored here', async () => {
    const dave = await makeKey([{ email: 'dave@example.org' }]);
    const byDave = await certifiedBy(alice, dave, [new Date()]);
    const refused = await pushKeys(server.url, armorPackets(byDave));
    expect(refused.json.unchanged).toEqual([alice.fingerprint]);
    expect(refused.json.dropped[0].reason).toMatch(/not stored here/);
    const byCarol = await certifiedBy(alice, carol, [new Date()]);
    const accepted = await pushKeys(server.url, armorPackets(byCarol));
    expect(accepted.json.updated).toEqual([alice.fingerprint]);
    expect(thirdPartyCount(await stored(server, alice.fingerprint), carol)).toBe(1);
  });

  it('drops a forged certification that names a stored issuer but does not verify', async () => {
    const before = packetSet(await stored(server, alice.fingerprint));
    const genuine = (await certifiedBy(alice, carol, [new Date(Date.now() - 60_000)])).filter((p) => p.tag === Tag.signature).at(-1)!;
    const forgedBody = new Uint8Array(genuine.body);
    forgedBody[forgedBody.length - 1]! ^= 0xff;
    const res = await pushKeys(
      server.url,
      armorPackets([
        ...alice.packets.slice(0, 2),
        ...userIdPackets(alice.packets, 'Alice <alice@example.org>').slice(1),
        { tag: Tag.signature, body: forgedBody },
      ]),
    );
    expect(res.status).toBe(200);
    expect(packetSet(await stored(server, alice.fingerprint))).toEqual(before);
  });

  it('keeps no third-party certification with CERTIFICATION_POLICY=none', async () => {
    const none = await startTestServer(backend, { CERTIFICATION_POLICY: 'none' });
    try {
      await pushKeys(none.url, carol.armored);
      const res = await pushKeys(none.url, armorPackets(await certifiedBy(alice, carol, [new Date()])));
      expect(res.json.inserted).toEqual([alice.fingerprint]);
      expect(res.json.dropped[0].reason).toMatch(/not kept/);
      expect(thirdPartyCount(await stored(none, alice.fingerprint), carol)).toBe(0);
    } finally {
      await none.close();
    }
  });

  it('stops at the certification cap per user ID and never removes what is stored', async () => {
    const dates = [1, 2, 3, 4, 5].map((d) => new Date(Date.UTC(2025, 0, d)));
    const res = await pushKeys(capped.url, armorPackets(await certifiedBy(alice, carol, dates)));
    expect(res.json.updated).toEqual([alice.fingerprint]);
    expect(res.json.dropped.map((d: { reason: string }) => d.reason).join()).toMatch(/maximum of 3 third-party certifications/);
    const afterFirst = await stored(capped, alice.fingerprint);
    expect(thirdPartyCount(afterFirst, carol)).toBe(3);
    const later = await pushKeys(capped.url, armorPackets(await certifiedBy(alice, carol, [new Date(Date.UTC(2025, 5, 1))])));
    expect(later.json.unchanged).toEqual([alice.fingerprint]);
    expect(packetSet(await stored(capped, alice.fingerprint))).toEqual(packetSet(afterFirst));
  });

  it('bounds a flooded key: 5,000 certifications by unknown keys are dropped, the key stays small', async () => {
    const bob = await makeKey([{ name: 'Bob Flooded', email: 'bob@example.org' }]);
    const flood = Array.from({ length: 5000 }, (_, i) => floodSignature(1_600_000_000 + i));
    const uidEnd = bob.packets.findIndex((p) => p.tag === Tag.publicSubkey);
    const flooded = [...bob.packets.slice(0, uidEnd), ...flood, ...bob.packets.slice(uidEnd)];
    const bytes = writePackets(flooded);
    expect(bytes.length).toBeGreaterThan(500_000);
    const [res, other] = await Promise.all([pushKeys(server.url, bytes), lookup(server.url, { op: 'get', search: `0x${alice.fingerprint}` })]);
    expect(other.status).toBe(200);
    expect(res.status).toBe(200);
    expect(res.json.inserted).toEqual([bob.fingerprint]);
    // The first 1,000 (MAX_PENDING_CERTIFICATIONS_PER_KEY) wait for their issuer aside, never served; the rest go.
    expect(res.json.dropped).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(/not stored here yet: kept aside until its issuer is stored \(1000 signatures\)/) }),
      expect.objectContaining({ reason: expect.stringMatching(/not kept aside, this key has the maximum of 1000 .* \(4000 signatures\)/) }),
    ]);
    expect(packetSet(await stored(server, bob.fingerprint))).toEqual(packetSet(bob.packets));
  });

  it('drops over-long user IDs and user IDs beyond the maximum, and never grows a stored key past it', async () => {
    const long = 'L'.repeat(300);
    const key = await makeKey([
      { name: 'One', email: 'one@example.org' },
      { name: long, email: 'long@example.org' },
      { name: 'Two', email: 'two@example.org' },
      { name: 'Three', email: 'three@example.org' },
      { name: 'Four', email: 'four@example.org' },
    ]);
    const res = await pushKeys(capped.url, key.armored);
    expect(res.status).toBe(200);
    const reasons = res.json.dropped.map((d: { reason: string }) => d.reason).join('\n');
    expect(reasons).toMatch(/longer than 200 bytes/);
    expect(reasons).toMatch(/more than 3 user IDs/);
    const uids = (await stored(capped, key.fingerprint)).filter((p) => p.tag === Tag.userId);
    expect(uids).toHaveLength(3);
    const { privateKey } = await openpgp.reformatKey({
      privateKey: key.privateKey,
      userIDs: [{ name: 'Five', email: 'five@example.org' }],
      format: 'object',
    });
    const grown = await pushKeys(capped.url, fromPrivate(privateKey).armored);
    expect(grown.status).toBe(200);
    expect(grown.json.dropped.map((d: { reason: string }) => d.reason).join()).toMatch(/more than 3 user IDs/);
    expect((await stored(capped, key.fingerprint)).filter((p) => p.tag === Tag.userId)).toHaveLength(3);
  });

  it('refuses a key larger than MAX_KEY_BYTES with 422 and the reason', async () => {
    const tooBig = await startTestServer(backend, { MAX_KEY_BYTES: '1024' });
    try {
      const huge = await makeKey(Array.from({ length: 12 }, (_, i) => ({ name: `User number ${i} with a long name`, email: `u${i}@example.org` })));
      const refused = await pushKeys(tooBig.url, huge.armored);
      expect(refused.status).toBe(422);
      expect(refused.json.error.message).toMatch(/larger than the limit of 1024 bytes/);
    } finally {
      await tooBig.close();
    }
  });
});
