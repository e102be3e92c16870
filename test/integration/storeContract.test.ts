// The store's contracts (src/store/keyStore.ts), held directly against PGlite and PostgreSQL, without HTTP or
// services: what is written is found by every kind of query, an update is a compare-and-swap on the revision,
// a write is announced, and audit rows go with the key's write or not at all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey, parseUploadedCert } from '../../src/openpgp/index.js';
import { AuditRepository, type AuditEntry } from '../../src/store/auditRepository.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { KeyQueries } from '../../src/store/keyQueries.js';
import { KeyRepository } from '../../src/store/keyRepository.js';
import type { KeyReader, KeyStore } from '../../src/store/keyStore.js';
import { openMigratedDatabase } from '../../src/store/migrate.js';
import type { KeyChangeNews, KeyQuery, KeyRecord } from '../../src/vocabulary.js';
import { makeKey, withUserIds, type TestKey } from '../helpers/keys.js';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/server.js';

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

describe.each(backends)('the key store on %s', (backend) => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let store: KeyStore;
  let reader: KeyReader;
  let audit: AuditRepository;
  // PGlite in a data directory (not in memory): only then does it deliver change notifications.
  const dataDir = backend === 'pglite' ? mkdtempSync(path.join(tmpdir(), 'keystore-contract-')) : 'memory://';

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    handle = await openMigratedDatabase({ url: database.url, dataDir, poolSize: 2 });
    // A writer name of its own, so the handle's listener hears this store's writes.
    store = new KeyRepository(handle.db);
    reader = new KeyQueries(handle.db);
    audit = new AuditRepository(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
    if (dataDir !== 'memory://') rmSync(dataDir, { recursive: true, force: true });
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
      expect(found.map((f) => f.fingerprint), query.kind).toEqual([record.fingerprint]);
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

  it('announces each write with the key\'s fingerprints and identities', async () => {
    const heard: KeyChangeNews[] = [];
    let listening = false;
    const listener = handle.listenForKeyChanges!({ change: (news) => heard.push(news), listening: (on) => { listening = on; } });
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
});
