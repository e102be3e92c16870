// The store's contracts (src/store/keyStore.ts), held directly against PGlite, PostgreSQL and the memory store
// that service tests use (test/helpers/memoryStore.ts), without HTTP or services: what is written is found by
// every kind of query, in order and by page, an update is a compare-and-swap on the revision, a write is
// announced, audit rows go with the key's write or not at all, and certifications wait aside for their issuer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey, parseUploadedCert } from '../../src/openpgp/index.js';
import { AuditRepository, type AuditEntry } from '../../src/store/auditRepository.js';
import type { KeyChangeListener, KeyChangeSubscriber } from '../../src/store/keyChanges.js';
import { KeyQueries } from '../../src/store/keyQueries.js';
import { KeyRepository } from '../../src/store/keyRepository.js';
import type { KeyReader, KeyStore, PendingWrite } from '../../src/store/keyStore.js';
import { openMigratedDatabase } from '../../src/store/migrate.js';
import type { PendingAdmitter } from '../../src/store/pendingCertifications.js';
import type { KeyChangeNews, KeyQuery, KeyRecord } from '../../src/vocabulary.js';
import { makeKey, withUserIds, type TestKey } from '../helpers/keys.js';
import { MemoryKeyStore } from '../helpers/memoryStore.js';
import { backends, createTestDatabase, type Backend } from '../helpers/server.js';

const page = { offset: 0, limit: 10, versions: [4, 6] };

async function recordOf(key: TestKey): Promise<KeyRecord> {
  return deriveKey((await parseUploadedCert(key.packets)).cert);
}

function auditOf(fingerprint: string, outcome: AuditEntry['outcome']): AuditEntry {
  return { source: 'import', remoteAddress: null, tokenId: null, identity: null, fingerprint, outcome, detail: {} };
}

async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A store under test: its writes, its reads, its audit log and its change announcements. */
interface StoreUnderTest {
  store: KeyStore;
  reader: KeyReader;
  audit: Pick<AuditRepository, 'list'>;
  listen: (subscriber: KeyChangeSubscriber) => KeyChangeListener;
  close(): Promise<void>;
}

async function openStore(backend: Backend | 'memory'): Promise<StoreUnderTest> {
  if (backend === 'memory') {
    const memory = new MemoryKeyStore();
    return { store: memory, reader: memory, audit: memory, listen: (subscriber) => memory.listenForKeyChanges(subscriber), close: async () => {} };
  }
  // PGlite in a data directory (not in memory): only then does it deliver change notifications.
  const dataDir = backend === 'pglite' ? mkdtempSync(path.join(tmpdir(), 'keystore-contract-')) : 'memory://';
  const database = await createTestDatabase(backend);
  const handle = await openMigratedDatabase({ url: database.url, dataDir, poolSize: 2 });
  return {
    // A writer name of its own, so the handle's listener hears this store's writes.
    store: new KeyRepository(handle.db),
    reader: new KeyQueries(handle.db),
    audit: new AuditRepository(handle.db),
    listen: handle.listenForKeyChanges!,
    async close() {
      await handle.close();
      await database.drop();
      if (dataDir !== 'memory://') rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** What a write keeps aside (these awaiting certifications of `fingerprint`), admitting with `admit`. */
function pendingOf(
  admit: PendingAdmitter<KeyRecord>,
  maxPerKey: number,
  fingerprint?: string,
  issuer?: KeyRecord,
  signatures: number[] = [],
): PendingWrite {
  const awaiting = signatures.map((n) => ({
    userIdDigest: 'user-id',
    issuerKeyId: issuer!.keyId,
    issuerFingerprint: issuer!.fingerprint,
    signature: new Uint8Array([n]),
    created: n,
  }));
  return {
    bounds: { maxPerKey, maxTotal: 100 },
    admit,
    awaiting: new Map(fingerprint ? [[fingerprint, awaiting]] : []),
    kept: new Map(),
    admitted: [],
  };
}

describe.each(['memory' as const, ...backends])('the key store on %s', (backend) => {
  let subject: StoreUnderTest;
  let store: KeyStore;
  let reader: KeyReader;
  let audit: Pick<AuditRepository, 'list'>;

  beforeAll(async () => {
    subject = await openStore(backend);
    ({ store, reader, audit } = subject);
  });
  afterAll(async () => {
    await subject?.close();
  });

  it('finds an inserted key by fingerprint, key ID, identity and words, and inserts a fingerprint once', async () => {
    const key = await makeKey([{ name: 'Contract Person', email: 'Contract.Person@store.example' }]);
    const record = await recordOf(key);
    expect(await store.findForMerge(record.fingerprint)).toBeNull();
    expect(await store.insert(record, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(await store.insert(record, new Uint8Array([4]))).toBe(false);

    const queries: KeyQuery[] = [
      { kind: 'fingerprint', fingerprint: record.fingerprint },
      { kind: 'longId', keyId: record.keyId },
      { kind: 'shortId', keyId: record.keyId.slice(-8) },
      { kind: 'identity', identity: 'contract.person@store.example' },
      { kind: 'words', words: ['contract', 'person'], text: 'contract person' },
    ];
    for (const query of queries) {
      const found = await reader.packets(query, page);
      expect(
        found.map((f) => f.fingerprint),
        query.kind,
      ).toEqual([record.fingerprint]);
      expect([...found[0]!.packets]).toEqual([1, 2, 3]);
      expect(await reader.count(query, page.versions)).toBe(1);
    }
    const [row] = await reader.index({ kind: 'fingerprint', fingerprint: record.fingerprint }, page);
    expect(row!.userIds.map((u) => u.text)).toEqual(['Contract Person <Contract.Person@store.example>']);
    expect(await reader.packets({ kind: 'words', words: ['nobody'], text: 'nobody' }, page)).toEqual([]);
    expect((await store.findForMergeMany([record.fingerprint, 'F'.repeat(40)])).size).toBe(1);
  });

  it('updates a key only at the revision its merge read (compare-and-swap), with its audit row or none', async () => {
    const key = await makeKey([{ email: 'swap@store.example' }]);
    const record = await recordOf(key);
    expect(await store.insert(record, new Uint8Array([1]), [auditOf(record.fingerprint, 'inserted')])).toBe(true);
    const read = (await store.findForMerge(record.fingerprint))!;
    const more = await recordOf(await withUserIds(key, [{ email: 'swap@store.example' }, { email: 'more@store.example' }]));

    expect(await store.update(read, more, new Uint8Array([2]), [auditOf(record.fingerprint, 'updated')])).toBe(true);
    // A second writer that read the same revision loses, and writes neither the key nor its audit row.
    expect(await store.update(read, more, new Uint8Array([3]), [auditOf(record.fingerprint, 'updated')])).toBe(false);
    const now = (await store.findForMerge(record.fingerprint))!;
    expect(now.revision).not.toBe(read.revision);
    expect([...now.packets]).toEqual([2]);
    expect(await reader.count({ kind: 'identity', identity: 'more@store.example' }, page.versions)).toBe(1);
    expect((await audit.list({ fingerprint: record.fingerprint })).map((r) => r.outcome).sort()).toEqual(['inserted', 'updated']);

    // An insert that loses to a stored fingerprint leaves no audit row either.
    expect(await store.insert(record, new Uint8Array([9]), [auditOf(record.fingerprint, 'inserted')])).toBe(false);
    expect((await audit.list({ fingerprint: record.fingerprint })).length).toBe(2);
  });

  it("announces each write with the key's fingerprints and identities", async () => {
    const heard: KeyChangeNews[] = [];
    let listening = false;
    const listener = subject.listen({
      change: (news) => heard.push(news),
      listening: (on) => {
        listening = on;
      },
    });
    try {
      await eventually(() => listening);
      const record = await recordOf(await makeKey([{ email: 'News@store.example' }]));
      expect(await store.insert(record, new Uint8Array([1]))).toBe(true);
      await eventually(() => heard.some((n) => n !== 'all' && n.fingerprints.includes(record.fingerprint)));
      const news = heard.find((n) => n !== 'all' && n.fingerprints.includes(record.fingerprint));
      expect(news).toMatchObject({ identities: ['news@store.example'] });
    } finally {
      await listener.close();
    }
  });

  it("gives matches a page at a time, of the page's versions only: a user ID equal to the search first, then newest", async () => {
    const [exact, older, newer] = await Promise.all([
      makeKey([{ name: 'Pager' }], new Date('2020-01-01T00:00:00Z')),
      makeKey([{ name: 'Pager Older' }], new Date('2021-01-01T00:00:00Z')),
      makeKey([{ name: 'Pager Newer' }], new Date('2022-01-01T00:00:00Z')),
    ]);
    const records = await Promise.all([older, exact, newer].map(recordOf));
    expect(await store.insertMany(records.map((record, n) => ({ record, packets: new Uint8Array([n]) })))).toEqual([true, true, true]);
    const query: KeyQuery = { kind: 'words', words: ['pager'], text: 'Pager' };
    const order = [exact, newer, older].map((k) => k.fingerprint);
    expect((await reader.packets(query, page)).map((f) => f.fingerprint)).toEqual(order);
    expect((await reader.index(query, page)).map((r) => r.fingerprint)).toEqual(order);
    expect((await reader.packets(query, { ...page, offset: 1, limit: 1 })).map((f) => f.fingerprint)).toEqual([newer.fingerprint]);
    expect(await reader.index(query, { ...page, offset: 3 })).toEqual([]);
    expect(await reader.count(query, [4])).toBe(3);
    expect(await reader.packets(query, { ...page, versions: [6] })).toEqual([]);
    expect(await reader.count(query, [6])).toBe(0);
    const names = await reader.primaryUserIds([records[1]!.keyId, 'F'.repeat(16)]);
    expect([...names]).toEqual([[records[1]!.keyId, 'Pager']]);
  });

  it('inserts many once per fingerprint and updates many by compare-and-swap', async () => {
    const [a, b] = await Promise.all([makeKey([{ email: 'many-a@store.example' }]), makeKey([{ email: 'many-b@store.example' }])]);
    const [ra, rb] = await Promise.all([recordOf(a), recordOf(b)]);
    expect(
      await store.insertMany([
        { record: ra, packets: new Uint8Array([1]) },
        { record: rb, packets: new Uint8Array([2]) },
        { record: ra, packets: new Uint8Array([3]) },
      ]),
    ).toEqual([true, true, false]);
    expect(await store.insertMany([{ record: ra, packets: new Uint8Array([4]) }])).toEqual([false]);
    const read = await store.findForMergeMany([ra.fingerprint, rb.fingerprint]);
    const items = [ra, rb].map((record, n) => ({ stored: read.get(record.fingerprint)!, record, packets: new Uint8Array([5 + n]) }));
    expect(await store.updateMany(items)).toEqual([true, true]);
    expect(await store.updateMany(items)).toEqual([false, false]);
    expect([...(await store.findForMerge(ra.fingerprint))!.packets]).toEqual([5]);
    expect((await store.primaryKeysWithKeyIds([rb.keyId])).map((k) => [k.keyId, [...k.packets]])).toEqual([[rb.keyId, [6]]]);
    expect((await store.primaryKeysByKeyId([ra.keyId])).map((p) => [...p])).toEqual([[5]]);
  });

  it('keeps certifications aside within the bounds and admits them when a write stores their issuer', async () => {
    const [certified, issuer] = await Promise.all([
      recordOf(await makeKey([{ email: 'certified@store.example' }])),
      recordOf(await makeKey([{ email: 'issuer@store.example' }])),
    ]);
    const admissions: { fingerprint: string; certifications: number; issuers: number }[] = [];
    const admit: PendingAdmitter<KeyRecord> = async (key, pending, issuers) => {
      admissions.push({ fingerprint: key.fingerprint, certifications: pending.length, issuers: issuers.length });
      return { write: { record: certified, packets: new Uint8Array([7, admissions.length]) }, settled: pending.map((p) => p.id) };
    };
    // One per key: the second awaiting certification is not kept.
    const first = pendingOf(admit, 1, certified.fingerprint, issuer, [1, 2]);
    expect(await store.insert(certified, new Uint8Array([1]), [], first)).toBe(true);
    expect(first.kept.get(certified.fingerprint)).toEqual({ kept: 1, full: 'key' });
    expect(first.admitted).toEqual([]);
    const before = (await store.findForMerge(certified.fingerprint))!;

    const storingIssuer = pendingOf(admit, 1);
    expect(await store.insert(issuer, new Uint8Array([2]), [], storingIssuer)).toBe(true);
    expect(storingIssuer.admitted.map((r) => r.fingerprint)).toEqual([certified.fingerprint]);
    expect(admissions).toEqual([{ fingerprint: certified.fingerprint, certifications: 1, issuers: 1 }]);
    const after = (await store.findForMerge(certified.fingerprint))!;
    expect(after.revision).toBeGreaterThan(before.revision);
    expect([...after.packets]).toEqual([7, 1]);

    // Admitted, the certification left the room it took; one kept aside now, its issuer stored, is admitted at once.
    const again = pendingOf(admit, 1, certified.fingerprint, issuer, [3]);
    expect(await store.keepAside(after, certified.fingerprint, again)).toBe(true);
    expect(again.kept.get(certified.fingerprint)).toEqual({ kept: 1, full: null });
    expect(again.admitted.map((r) => r.fingerprint)).toEqual([certified.fingerprint]);
    expect([...(await store.findForMerge(certified.fingerprint))!.packets]).toEqual([7, 2]);
  });

  it('with deferred admission keeps aside only, and the sweep admits what waits for a stored issuer, each key once', async () => {
    const [certified, issuer, other] = (await Promise.all(
      ['swept', 'sweeper', 'unrelated'].map(async (n) => recordOf(await makeKey([{ email: `${n}@store.example` }]))),
    )) as [KeyRecord, KeyRecord, KeyRecord];
    let admissions = 0;
    const admit: PendingAdmitter<KeyRecord> = async (key, pending) => {
      admissions++;
      return { write: { record: certified, packets: new Uint8Array([9, pending.length]) }, settled: pending.map((p) => p.id) };
    };
    const deferred = (p: PendingWrite): PendingWrite => ({ ...p, deferAdmission: true });
    const keeping = deferred(pendingOf(admit, 5, certified.fingerprint, issuer, [1, 2]));
    expect(await store.insert(certified, new Uint8Array([1]), [], keeping)).toBe(true);
    expect(keeping.kept.get(certified.fingerprint)).toEqual({ kept: 2, full: null });
    // Storing the issuer admits nothing yet; nor does a sweep of a part the certified key is not in.
    const storingIssuer = deferred(pendingOf(admit, 5));
    expect(await store.insert(issuer, new Uint8Array([2]), [], storingIssuer)).toBe(true);
    expect(await store.insertMany([{ record: other, packets: new Uint8Array([3]) }], deferred(pendingOf(admit, 5)))).toEqual([true]);
    expect(storingIssuer.admitted).toEqual([]);
    expect(admissions).toBe(0);
    expect([...(await store.findForMerge(certified.fingerprint))!.packets]).toEqual([1]);

    const parts = await Promise.all([0, 1, 2].map((index) => store.admitAwaiting(admit, { index, of: 3 })));
    expect(parts.flat().map((r) => r.fingerprint)).toEqual([certified.fingerprint]);
    expect(admissions).toBe(1);
    expect([...(await store.findForMerge(certified.fingerprint))!.packets]).toEqual([9, 2]);
    // Settled: a second sweep finds nothing.
    expect(await store.admitAwaiting(admit)).toEqual([]);
    expect(admissions).toBe(1);
  });
});
