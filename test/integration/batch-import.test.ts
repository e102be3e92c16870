// Batch submission (KeyService.submitKeys, what `keystore import` uses): the same stored keys, index rows,
// counters and audit rows as pushing the keys one by one to /pks/add, the same per-key results as submitKey
// (new, stored, repeated, refused keys in one batch), concurrent batches with the same keys, and multi-row
// writes past PostgreSQL's bind-parameter limit; on each backend.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { importKeyService } from '../../src/cli/import.js';
import { loadConfig, type Config } from '../../src/config.js';
import { readPackets, Tag, type Packet } from '../../src/openpgp/packets.js';
import { keyLimits } from '../../src/keyLimits.js';
import { KeyService, type KeyOutcome } from '../../src/services/keyService.js';
import { AuditRepository } from '../../src/store/auditRepository.js';
import type { Database, DatabaseHandle } from '../../src/store/database.js';
import { KeyRepository } from '../../src/store/keyRepository.js';
import type { KeyChange, KeyRecord } from '../../src/vocabulary.js';
import { openMigratedDatabase } from '../../src/store/migrate.js';
import { pushKeys } from '../helpers/hkp.js';
import { armorPackets, debianFixtures, fixtureBytes, fixtureKeys, makeKey, type TestKey } from '../helpers/keys.js';
import { backends, createTestDatabase, startTestServer, type Backend, type TestServer } from '../helpers/server.js';

interface Store {
  db: DatabaseHandle;
  config: Config;
  close(): Promise<void>;
}

async function freshStore(backend: Backend): Promise<Store> {
  const database = await createTestDatabase(backend);
  const config = loadConfig({ DATA_DIR: 'memory://', ...(database.url ? { DATABASE_URL: database.url } : {}) });
  const db = await openMigratedDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 4 });
  return {
    db,
    config,
    close: async () => {
      await db.close();
      await database.drop();
    },
  };
}

/** Everything stored about keys, without row ids: keys, their identifiers and user IDs (by key fingerprint), counters. */
async function dump(db: Kysely<Database>) {
  const keys = (await db.selectFrom('keys').selectAll().orderBy('fingerprint').execute()).map(
    ({ id: _id, first_seen: _f, last_changed: _l, packets, ...k }) => ({ ...k, packets: Buffer.from(packets).toString('hex') }),
  );
  const identifiers = (
    await db
      .selectFrom('key_identifiers')
      .innerJoin('keys', 'keys.id', 'key_identifiers.key_row')
      .selectAll('key_identifiers')
      .select('keys.fingerprint as key')
      .orderBy('key')
      .orderBy('key_identifiers.fingerprint')
      .execute()
  ).map(({ key_row: _row, ...row }) => row);
  const userIds = (
    await db
      .selectFrom('user_ids')
      .innerJoin('keys', 'keys.id', 'user_ids.key_row')
      .selectAll('user_ids')
      .select('keys.fingerprint as key')
      .orderBy('key')
      .orderBy('position')
      .execute()
  ).map(({ key_row: _row, ...row }) => row);
  const stats = await db
    .selectFrom('key_stats_hourly')
    .select((eb) => [eb.fn.sum<string>('inserted').as('inserted'), eb.fn.sum<string>('updated').as('updated')])
    .executeTakeFirst();
  return { keys, identifiers, userIds, stats: { inserted: Number(stats?.inserted ?? 0), updated: Number(stats?.updated ?? 0) } };
}

/** The audit rows as comparable across sources: fingerprint, outcome and detail, in order. */
async function auditRows(db: Kysely<Database>) {
  return (await new AuditRepository(db).list()).map((r) => ({ fingerprint: r.fingerprint, outcome: r.outcome, detail: r.detail }));
}

/** What submitKey gives (or throws) in a comparable form. */
function settledOf(result: PromiseSettledResult<KeyOutcome>) {
  if (result.status === 'fulfilled') return { ok: result.value };
  const e = result.reason as { constructor: { name: string }; message: string; code?: string; fingerprint?: string };
  return { error: { type: e.constructor.name, message: e.message, code: e.code, fingerprint: e.fingerprint } };
}

async function oneByOne(keys: KeyService, batch: Packet[][]) {
  const results: PromiseSettledResult<KeyOutcome>[] = [];
  for (const packets of batch) {
    try {
      results.push({ status: 'fulfilled', value: await keys.submitKey(packets, { source: 'import' }) });
    } catch (e) {
      results.push({ status: 'rejected', reason: e });
    }
  }
  return results;
}

/** The key without the user ID `text` (and its signatures): an earlier state of it. */
function withoutUserId(key: TestKey, text: string): Packet[] {
  const out: Packet[] = [];
  let skipping = false;
  for (const p of key.packets) {
    if (p.tag !== Tag.signature) skipping = p.tag === Tag.userId && new TextDecoder().decode(p.body) === text;
    if (!skipping) out.push(p);
  }
  return out;
}

/** The key with every user ID certified by another key too. */
async function certifiedBy(key: TestKey, certifier: TestKey): Promise<Packet[]> {
  return readPackets((await key.publicKey.signAllUsers([certifier.privateKey])).write());
}

describe.each(backends)('batch submission on %s', (backend) => {
  let keys: TestKey[];
  let sequence: Packet[][];

  beforeAll(async () => {
    keys = [];
    for (let i = 0; i < 12; i++)
      keys.push(
        await makeKey([
          { name: `Batch ${i}`, email: `batch${i}@example.org` },
          { name: `Second ${i}`, email: `second${i}@example.net` },
        ]),
      );
    const [a, b, c, d, e, ...others] = keys as [TestKey, TestKey, TestKey, TestKey, TestKey, ...TestKey[]];
    sequence = [
      a.packets,
      await certifiedBy(b, a), // certified by a key before it: kept, as one by one
      await certifiedBy(c, d), // certified by a key after it: kept aside until d is stored, as one by one
      d.packets,
      withoutUserId(e, `Second 4 <second4@example.net>`),
      ...others.map((k) => k.packets),
      ...debianFixtures().map((f) => fixtureKeys(fixtureBytes(f.file))[0]!),
      e.packets, // the same key again with a user ID more: updated
      a.packets, // again: unchanged
    ];
  }, 60_000);

  it('stores exactly what pushing the keys one by one to /pks/add stores: keys, index rows, counters, audit rows', async () => {
    let server: TestServer | undefined;
    const store = await freshStore(backend);
    try {
      server = await startTestServer(backend);
      for (const packets of sequence) expect((await pushKeys(server.url, armorPackets(packets))).status).toBe(200);

      const written: KeyChange[] = [];
      const service = new KeyService(new KeyRepository(store.db.db), new AuditRepository(store.db.db), {
        limits: keyLimits(store.config),
        onWritten: (change) => written.push(change),
      });
      // Two batches: the second holds new keys and keys the first stored (merged and written together).
      const half = 10;
      const results = [
        ...(await service.submitKeys(sequence.slice(0, half), { source: 'import' })),
        ...(await service.submitKeys(sequence.slice(half), { source: 'import' })),
      ];
      expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
      const statuses = results.map((r) => (r.status === 'fulfilled' ? r.value.status : 'rejected'));
      expect(statuses.slice(-2)).toEqual(['updated', 'unchanged']);
      expect(statuses.filter((s) => s === 'inserted')).toHaveLength(sequence.length - 2);
      // Told of every key written, once.
      expect(written).toHaveLength(sequence.length - 1);

      const batch = await dump(store.db.db);
      const pushed = await dump(server.database.db);
      expect(batch.keys.length).toBe(sequence.length - 2);
      expect(batch).toEqual(pushed);
      // The certification by the key before it was kept, the one by the key after it too, once that key was
      // stored (both ways).
      const stored = new Map(batch.keys.map((k) => [k.fingerprint, k]));
      expect(stored.get(keys[1]!.fingerprint)!.signature_count).toBe(stored.get(keys[0]!.fingerprint)!.signature_count + 2);
      expect(stored.get(keys[2]!.fingerprint)!.signature_count).toBe(stored.get(keys[0]!.fingerprint)!.signature_count + 2);
      expect(await auditRows(store.db.db)).toEqual(await auditRows(server.database.db));
    } finally {
      await server?.close();
      await store.close();
    }
  }, 120_000);

  it('gives each key of a mixed batch what submitKey gives it: new, stored, repeated, refused; one audit row per key', async () => {
    const [n1, n2, s1, s2, other] = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => makeKey([{ name: `Mixed ${i}`, email: `mixed${i}@example.org` }, { name: `Other ${i}` }])),
    );
    const secretPackets: Packet[] = [{ tag: Tag.secretKey, body: n2!.privateKey.keyPacket.write() }, ...n2!.packets.slice(1)];
    // A user ID signed only by another key: no user ID with a valid self-signature.
    const unbound: Packet[] = [other!.packets[0]!, ...withoutUserId(n1!, `Other 0`).slice(1, 3)];
    const batch: Packet[][] = [
      withoutUserId(n1!, 'Other 0'), // new
      s1!.packets, // stored without a user ID: updated
      n1!.packets, // the new key again, with a user ID more: updated
      unbound, // refused: no user ID
      s2!.packets, // stored as is: unchanged
      secretPackets, // refused: secret key
      n2!.packets, // new
      [n1!.packets[1]!], // refused: not a key (no fingerprint)
      withoutUserId(n1!, 'Other 0'), // again: unchanged
    ];
    const setUp = async (store: Store) => {
      const service = importKeyService(store.db.db, store.config);
      await service.submitKey(withoutUserId(s1!, 'Other 2'), { source: 'import' });
      await service.submitKey(s2!.packets, { source: 'import' });
      return service;
    };
    const batchStore = await freshStore(backend);
    const singleStore = await freshStore(backend);
    try {
      const batchResults = await (await setUp(batchStore)).submitKeys(batch, { source: 'import' });
      const singleResults = await oneByOne(await setUp(singleStore), batch);
      expect(batchResults.map(settledOf)).toEqual(singleResults.map(settledOf));
      expect(batchResults.map((r) => (r.status === 'fulfilled' ? r.value.status : (r.reason as { code: string }).code))).toEqual([
        'inserted',
        'updated',
        'updated',
        'no_user_id',
        'unchanged',
        'secret_key',
        'inserted',
        'not_a_public_key',
        'unchanged',
      ]);
      const audit = await auditRows(batchStore.db.db);
      // Two rows for the keys stored first, then one per key of the batch, in its order.
      expect(audit).toHaveLength(2 + batch.length);
      expect(audit.slice(2).map((r) => r.outcome)).toEqual([
        'inserted',
        'updated',
        'updated',
        'refused',
        'unchanged',
        'refused',
        'inserted',
        'refused',
        'unchanged',
      ]);
      expect(audit.slice(2).map((r) => r.fingerprint)).toEqual([n1, s1, n1, other, s2, n2, n2, null, n1].map((k) => k?.fingerprint ?? null));
      expect(audit).toEqual(await auditRows(singleStore.db.db));
      expect(await dump(batchStore.db.db)).toEqual(await dump(singleStore.db.db));
    } finally {
      await batchStore.close();
      await singleStore.close();
    }
  }, 120_000);

  it('stores each key once when concurrent batches bring the same new keys in opposite orders', async () => {
    const store = await freshStore(backend);
    try {
      const service = importKeyService(store.db.db, store.config);
      const some = keys.map((k) => k.packets);
      const [forward, backward] = await Promise.all([
        service.submitKeys(some, { source: 'import' }),
        service.submitKeys([...some].reverse(), { source: 'import' }),
      ]);
      const status = (r: PromiseSettledResult<KeyOutcome>) => (r.status === 'fulfilled' ? r.value.status : `error: ${String(r.reason)}`);
      for (const [i, key] of keys.entries()) {
        const pair = [status(forward[i]!), status(backward[keys.length - 1 - i]!)].sort();
        expect(pair, key.fingerprint).toEqual(['inserted', 'unchanged']);
      }
      const stored = await dump(store.db.db);
      expect(stored.keys.map((k) => k.fingerprint)).toEqual(keys.map((k) => k.fingerprint).sort());
      expect(stored.stats.inserted).toBe(keys.length);
      expect(await auditRows(store.db.db)).toHaveLength(2 * keys.length);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('inserts and updates more rows at once than one statement can take (bind-parameter limits)', async () => {
    const store = await freshStore(backend);
    try {
      const repository = new KeyRepository(store.db.db);
      // A keys row takes 16 parameters, an identifier row 13, a user-ID row 10 or 11: 4,500 keys with 2 user IDs and a
      // subkey each need more than 65,535 per table (PostgreSQL's limit; the embedded database takes 32,767).
      const record = (i: number, uids: number): KeyRecord => {
        const fingerprint = randomBytes(20).toString('hex').toUpperCase();
        const facts = {
          keyId: fingerprint.slice(-16),
          algorithm: 22,
          bits: 255,
          created: 1_600_000_000 + i,
          expires: null,
          revoked: false,
          capabilities: 'cs',
          revocation: null,
        };
        return {
          ...facts,
          fingerprint,
          version: 4,
          userAttributes: 0,
          signatures: 3,
          userIds: Array.from({ length: uids }, (_, n) => ({
            text: `Key ${i} uid ${n} <k${i}.${n}@example.org>`,
            email: `k${i}.${n}@example.org`,
            identity: `k${i}.${n}@example.org`,
            wkdHash: null,
            words: ['key', String(i), 'uid', String(n)],
            created: facts.created,
            expires: null,
            revoked: false,
            primary: n === 0,
          })),
          subkeys: [{ ...facts, fingerprint: randomBytes(20).toString('hex').toUpperCase(), keyId: randomBytes(8).toString('hex').toUpperCase() }],
          signatureFacts: { userIds: Array.from({ length: uids }, () => []), subkeys: [[]] },
        };
      };
      const items = Array.from({ length: 4500 }, (_, i) => ({ record: record(i, 2), packets: randomBytes(64) }));
      expect(await repository.insertMany(items)).toEqual(items.map(() => true));
      expect(await repository.insertMany(items.slice(0, 10))).toEqual(items.slice(0, 10).map(() => false));
      const count = async (table: 'keys' | 'key_identifiers' | 'user_ids') =>
        Number(
          (
            await store.db.db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      expect([await count('keys'), await count('key_identifiers'), await count('user_ids')]).toEqual([4500, 9000, 9000]);

      const stored = await repository.findForMergeMany(items.map((i) => i.record.fingerprint));
      expect(stored.size).toBe(4500);
      const updates = items.map((item, i) => ({
        stored: stored.get(item.record.fingerprint)!,
        record: { ...item.record, userIds: record(i, 3).userIds },
        packets: randomBytes(80),
      }));
      // One is stale (its revision has moved on): not written.
      updates[7] = { ...updates[7]!, stored: { ...updates[7]!.stored, revision: updates[7]!.stored.revision + 5 } };
      const updated = await repository.updateMany(updates);
      expect(updated.filter((u) => !u)).toHaveLength(1);
      expect(updated[7]).toBe(false);
      expect([await count('keys'), await count('key_identifiers'), await count('user_ids')]).toEqual([4500, 9000, 4499 * 3 + 2]);
      expect((await dump(store.db.db)).stats).toEqual({ inserted: 4500, updated: 4499 });
    } finally {
      await store.close();
    }
  }, 120_000);
});
