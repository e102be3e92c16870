// Merging pushes into stored keys: only what the key's owner signed gets in, nothing is ever removed.
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tag, type Packet } from '../../src/openpgp/packets.js';
import { AuditRepository } from '../../src/store/auditRepository.js';
import { armoredPackets, lookup, pushKeys } from '../helpers/hkp.js';
import { armorPackets, componentPackets, fromPrivate, makeKey, packetSet, userIdPackets, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

const primaryOnly = (k: TestKey) => k.packets.slice(0, 1);

async function storedPackets(server: TestServer, fingerprint: string): Promise<Packet[]> {
  const res = await lookup(server.url, { op: 'get', options: 'mr', search: `0x${fingerprint}` });
  expect(res.status).toBe(200);
  return armoredPackets(res.text);
}

/** Everything stored about a key (its row, identifier and user ID rows) and the change counters. */
async function storedState(server: TestServer, fingerprint: string) {
  const db = server.database.db;
  const key = await db.selectFrom('keys').selectAll().where('fingerprint', '=', fingerprint).executeTakeFirstOrThrow();
  return {
    key,
    identifiers: await db.selectFrom('key_identifiers').selectAll().where('key_row', '=', key.id).orderBy('fingerprint').execute(),
    userIds: await db.selectFrom('user_ids').selectAll().where('key_row', '=', key.id).orderBy('position').execute(),
    counters: await db.selectFrom('key_stats_hourly').selectAll().orderBy('hour').execute(),
  };
}

async function auditOf(server: TestServer, fingerprint: string) {
  return (await new AuditRepository(server.database.db).list({ fingerprint })).map((r) => ({ outcome: r.outcome, detail: r.detail }));
}

/** The signature with a subpacket appended to its unhashed (unsigned) area: a notation, which is not kept. */
function padUnhashed(sig: Packet): Packet {
  const body = sig.body;
  const at = 6 + ((body[4]! << 8) + body[5]!);
  const length = (body[at]! << 8) + body[at + 1]!;
  const extra = Buffer.concat([Buffer.from([41, 20]), Buffer.alloc(40, 7)]);
  const newLength = length + extra.length;
  return {
    tag: sig.tag,
    body: new Uint8Array(
      Buffer.concat([
        body.subarray(0, at),
        Buffer.from([newLength >> 8, newLength & 0xff]),
        body.subarray(at + 2, at + 2 + length),
        extra,
        body.subarray(at + 2 + length),
      ]),
    ),
  };
}

const NOTHING_ADDED = { added: { userIds: 0, subkeys: 0, signatures: 0 } };

async function revocationOf(key: TestKey): Promise<Packet> {
  const { privateKey } = await openpgp.revokeKey({ key: key.privateKey, format: 'object' });
  const revoked = fromPrivate(privateKey as openpgp.PrivateKey);
  const sig = revoked.packets[1]!;
  expect(sig.tag).toBe(Tag.signature);
  return sig;
}

describe.each(backends)('merging on %s', (backend) => {
  let server: TestServer;
  let alice: TestKey;
  let mallory: TestKey;

  beforeAll(async () => {
    server = await startTestServer(backend);
    alice = await makeKey([{ name: 'Alice', email: 'alice@example.org' }]);
    mallory = await makeKey([{ name: 'Alice (really Mallory)', email: 'alice@example.org' }]);
    expect((await pushKeys(server.url, alice.armored)).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('drops a user ID signed by another key and leaves the stored key unchanged', async () => {
    const before = packetSet(await storedPackets(server, alice.fingerprint));
    const forged = [...alice.packets, ...userIdPackets(mallory.packets, 'Alice (really Mallory) <alice@example.org>')];
    const res = await pushKeys(server.url, armorPackets(forged));
    expect(res.status).toBe(200);
    expect(res.json.unchanged).toEqual([alice.fingerprint]);
    expect(res.json.dropped).toEqual([expect.objectContaining({ fingerprint: alice.fingerprint, reason: expect.stringMatching(/self-signature/) })]);
    expect(packetSet(await storedPackets(server, alice.fingerprint))).toEqual(before);
  });

  it('drops a revocation made by another key, and a self-revocation whose signature is corrupted', async () => {
    const before = packetSet(await storedPackets(server, alice.fingerprint));
    const foreign = await revocationOf(mallory);
    const genuine = await revocationOf(alice);
    const corruptedBody = new Uint8Array(genuine.body);
    corruptedBody[corruptedBody.length - 3]! ^= 0x55;
    const corrupted: Packet = { tag: Tag.signature, body: corruptedBody };
    for (const sig of [foreign, corrupted]) {
      const res = await pushKeys(server.url, armorPackets([...primaryOnly(alice), sig, ...alice.packets.slice(1)]));
      expect(res.status).toBe(200);
      expect(res.json.unchanged).toEqual([alice.fingerprint]);
      expect(res.json.dropped).toHaveLength(1);
    }
    expect(packetSet(await storedPackets(server, alice.fingerprint))).toEqual(before);
  });

  it('drops a subkey bound by another key', async () => {
    const before = packetSet(await storedPackets(server, alice.fingerprint));
    const malloryPackets = mallory.packets;
    const subkey = componentPackets(malloryPackets, (p) => p.tag === Tag.publicSubkey);
    const res = await pushKeys(server.url, armorPackets([...alice.packets, ...subkey]));
    expect(res.json.unchanged).toEqual([alice.fingerprint]);
    expect(res.json.dropped.map((d: { reason: string }) => d.reason).join()).toMatch(/primary key/);
    expect(packetSet(await storedPackets(server, alice.fingerprint))).toEqual(before);
  });

  it('merges a new user ID, keeps everything stored, and a re-push or subset is unchanged', async () => {
    const key = await makeKey([{ name: 'Bob', email: 'bob@example.org' }]);
    expect((await pushKeys(server.url, key.armored)).json.inserted).toEqual([key.fingerprint]);
    const { privateKey } = await openpgp.reformatKey({
      privateKey: key.privateKey,
      userIDs: [
        { name: 'Bob', email: 'bob@example.org' },
        { name: 'Bob at work', email: 'bob@work.example' },
      ],
      format: 'object',
    });
    const extended = fromPrivate(privateKey);
    const res = await pushKeys(server.url, extended.armored);
    expect(res.json.updated).toEqual([key.fingerprint]);
    const stored = packetSet(await storedPackets(server, key.fingerprint));
    for (const p of packetSet(key.packets)) expect(stored).toContain(p);
    for (const p of packetSet(extended.packets)) expect(stored).toContain(p);
    expect((await pushKeys(server.url, key.armored)).json.unchanged).toEqual([key.fingerprint]);
    expect((await pushKeys(server.url, extended.armored)).json.unchanged).toEqual([key.fingerprint]);
    const byNewEmail = await lookup(server.url, { op: 'get', search: 'bob@work.example', exact: 'on' });
    expect(byNewEmail.status).toBe(200);
  });

  it('answers a re-push of a stored key unchanged, with an audit row each time, and alters nothing stored', async () => {
    const key = await makeKey([{ name: 'Repush', email: 'repush@example.org' }]);
    expect((await pushKeys(server.url, key.armored)).json.inserted).toEqual([key.fingerprint]);
    const before = await storedState(server, key.fingerprint);
    // As first pushed, and as the server gives it out (canonical order, new-format headers).
    const exported = (await lookup(server.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` })).text;
    for (const keytext of [key.armored, exported]) {
      const res = await pushKeys(server.url, keytext);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ inserted: [], updated: [], unchanged: [key.fingerprint], rejected: [], dropped: [] });
    }
    expect((await pushKeys(server.url, key.armored, { mr: false })).text).toBe('0 key(s) added, 0 updated, 1 unchanged\n');
    expect(await storedState(server, key.fingerprint)).toEqual(before);
    expect(await auditOf(server, key.fingerprint)).toEqual([
      { outcome: 'inserted', detail: { added: { userIds: 1, subkeys: 1, signatures: 2 } } },
      ...Array.from({ length: 3 }, () => ({ outcome: 'unchanged', detail: NOTHING_ADDED })),
    ]);
  });

  it('updates a re-push of a stored key with one user ID more (all verified), with its audit row', async () => {
    const key = await makeKey([{ name: 'Grows', email: 'grows@example.org' }]);
    expect((await pushKeys(server.url, key.armored)).json.inserted).toEqual([key.fingerprint]);
    const { privateKey } = await openpgp.reformatKey({
      privateKey: key.privateKey,
      userIDs: [
        { name: 'Grows', email: 'grows@example.org' },
        { name: 'Grows at work', email: 'grows@work.example' },
      ],
      format: 'object',
    });
    const extra = userIdPackets(fromPrivate(privateKey).packets, 'Grows at work <grows@work.example>');
    const before = await storedState(server, key.fingerprint);
    const res = await pushKeys(server.url, armorPackets([...key.packets, ...extra]));
    expect(res.json).toEqual({ inserted: [], updated: [key.fingerprint], unchanged: [], rejected: [], dropped: [] });
    const after = await storedState(server, key.fingerprint);
    expect(after.key.revision).toBe(before.key.revision + 1);
    expect(after.userIds.map((u) => u.email)).toEqual(['grows@example.org', 'grows@work.example']);
    expect(packetSet(await storedPackets(server, key.fingerprint))).toEqual(packetSet([...key.packets, ...extra]));
    expect((await auditOf(server, key.fingerprint)).slice(1)).toEqual([
      { outcome: 'updated', detail: { added: { userIds: 1, subkeys: 0, signatures: 1 } } },
    ]);
  });

  it('answers unchanged when a stored signature comes back with more in its unsigned area, and stores nothing of it', async () => {
    const key = await makeKey([{ name: 'Padded', email: 'padded@example.org' }]);
    expect((await pushKeys(server.url, key.armored)).json.inserted).toEqual([key.fingerprint]);
    const before = await storedState(server, key.fingerprint);
    const padded = key.packets.map((p) => (p.tag === Tag.signature ? padUnhashed(p) : p));
    expect(packetSet(padded)).toEqual(packetSet(key.packets)); // the same once normalised
    const res = await pushKeys(server.url, armorPackets(padded));
    expect(res.json).toEqual({ inserted: [], updated: [], unchanged: [key.fingerprint], rejected: [], dropped: [] });
    expect(await storedState(server, key.fingerprint)).toEqual(before);
    expect((await auditOf(server, key.fingerprint)).slice(1)).toEqual([{ outcome: 'unchanged', detail: NOTHING_ADDED }]);
  });

  it('writes the audit rows of a push of several keys in the order of the keys, whichever are written', async () => {
    const stored = await makeKey([{ email: 'order-stored@example.org' }]);
    const fresh = await makeKey([{ email: 'order-new@example.org' }]);
    expect((await pushKeys(server.url, stored.armored)).json.inserted).toEqual([stored.fingerprint]);
    const { privateKey } = await openpgp.reformatKey({
      privateKey: stored.privateKey,
      userIDs: [{ email: 'order-stored@example.org' }, { email: 'order-more@example.org' }],
      format: 'object',
    });
    const grown = fromPrivate(privateKey);
    const unbound = [mallory.packets[0]!, ...userIdPackets(alice.packets, 'Alice <alice@example.org>')];
    const audit = new AuditRepository(server.database.db);
    const start = (await audit.list()).length;
    const res = await pushKeys(server.url, armorPackets([...stored.packets, ...unbound, ...fresh.packets, ...grown.packets, ...stored.packets]));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      inserted: [fresh.fingerprint],
      updated: [stored.fingerprint],
      unchanged: [stored.fingerprint, stored.fingerprint],
    });
    const rows = (await audit.list()).slice(start);
    expect(rows.map((r) => [r.outcome, r.fingerprint])).toEqual([
      ['unchanged', stored.fingerprint],
      ['refused', mallory.fingerprint],
      ['inserted', fresh.fingerprint],
      ['updated', stored.fingerprint],
      ['unchanged', stored.fingerprint],
    ]);
    expect(new Set(rows.map((r) => r.id)).size).toBe(5);
  });

  it('merges a genuine revocation; the order of pushes does not change the result', async () => {
    const one = await makeKey([{ email: 'order@example.org' }]);
    const revocation = await revocationOf(one);
    const revoked = [...primaryOnly(one), revocation, ...one.packets.slice(1)];
    const other = fromPrivate(one.privateKey);
    const serverB = await startTestServer(backend);
    try {
      expect((await pushKeys(server.url, one.armored)).json.inserted).toEqual([one.fingerprint]);
      expect((await pushKeys(server.url, armorPackets(revoked))).json.updated).toEqual([one.fingerprint]);
      expect((await pushKeys(serverB.url, armorPackets(revoked))).json.inserted).toEqual([one.fingerprint]);
      expect((await pushKeys(serverB.url, other.armored)).json.unchanged).toEqual([one.fingerprint]);
      const a = await lookup(server.url, { op: 'get', search: `0x${one.fingerprint}` });
      const b = await lookup(serverB.url, { op: 'get', search: `0x${one.fingerprint}` });
      expect(a.text).toBe(b.text);
      expect(packetSet(armoredPackets(a.text))).toContain(`${Tag.signature}:${Buffer.from(revocation.body).toString('hex')}`);
    } finally {
      await serverB.close();
    }
  });

  it('keeps every one of 50 concurrent pushes adding different user IDs to one key', async () => {
    const base = await makeKey([{ email: 'base@example.org' }]);
    expect((await pushKeys(server.url, base.armored)).json.inserted).toEqual([base.fingerprint]);
    const userIDs = Array.from({ length: 50 }, (_, i) => ({ name: `Concurrent ${i}`, email: `c${i}@example.org` }));
    const { privateKey } = await openpgp.reformatKey({ privateKey: base.privateKey, userIDs, format: 'object' });
    const all = fromPrivate(privateKey);
    const pushes = userIDs.map((u) => {
      const uid = userIdPackets(all.packets, `${u.name} <${u.email}>`);
      return pushKeys(server.url, armorPackets([...primaryOnly(base), ...uid]));
    });
    const results = await Promise.all(pushes);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.json.updated).toEqual([base.fingerprint]);
    }
    const stored = await storedPackets(server, base.fingerprint);
    const texts = stored.filter((p) => p.tag === Tag.userId).map((p) => new TextDecoder().decode(p.body));
    expect(texts).toHaveLength(51);
    for (const u of userIDs) expect(texts).toContain(`${u.name} <${u.email}>`);
  });
});
