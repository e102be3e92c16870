// LookupService on the memory store (test/helpers/memoryStore.ts, held to the store's contracts beside PGlite and
// PostgreSQL), filled by KeyService: what get, index, vindex and stats answer, without HTTP and without a database.
import { beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DEFAULT_LIMITS } from '../../src/openpgp/index.js';
import { KeyService } from '../../src/services/keyService.js';
import { LookupService } from '../../src/services/lookupService.js';
import { parseSearch } from '../../src/services/search.js';
import { makeKey, withUserIds, type TestKey } from '../helpers/keys.js';
import { MemoryKeyStore } from '../helpers/memoryStore.js';
import { makeV6Key } from '../helpers/v6.js';

describe('LookupService on the memory store', () => {
  const store = new MemoryKeyStore();
  const lookups = new LookupService(store, store, { maxResults: 2, version: 'test-version' });
  let older: TestKey;
  let newer: TestKey;
  let newest: TestKey;
  let certifier: TestKey;
  let v6: TestKey;

  beforeAll(async () => {
    const keys = new KeyService(store, store, { limits: DEFAULT_LIMITS });
    const push = async (armored: string) => void (await keys.submit(armored, { source: 'import' }));
    [older, newer, newest, certifier, v6] = await Promise.all([
      makeKey([{ name: 'Lookup Older', email: 'older@lookup.example' }], new Date('2020-01-01T00:00:00Z')),
      makeKey([{ name: 'Lookup Newer', email: 'newer@lookup.example' }], new Date('2021-01-01T00:00:00Z')),
      makeKey([{ name: 'Lookup Newest', email: 'newest@lookup.example' }], new Date('2022-01-01T00:00:00Z')),
      makeKey([{ name: 'Certifier', email: 'certifier@elsewhere.example' }]),
      makeV6Key([{ name: 'Lookup Six', email: 'six@lookup.example' }]),
    ]);
    // The certifier first, so that its certification of `newest` is kept.
    for (const key of [certifier, older, newer, v6]) await push(key.armored);
    await push((await newest.publicKey.signAllUsers([certifier.privateKey])).armor());
    await push((await withUserIds(older, [{ name: 'Lookup Older', email: 'older@lookup.example' }, { email: 'again@lookup.example' }])).armored);
  });

  it('gets a key by fingerprint, key ID and address, and answers 404 when none matches', async () => {
    for (const search of [`0x${newer.fingerprint}`, `0x${newer.fingerprint.slice(-16)}`, 'newer@lookup.example']) {
      const found = await lookups.get(parseSearch(search, false));
      expect(
        found.map((k) => k.fingerprint),
        search,
      ).toEqual([newer.fingerprint]);
      expect(found[0]!.version).toBe(4);
    }
    const missing = await lookups.get(parseSearch('nobody@lookup.example', false)).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AppError);
    expect(missing).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('serves v4 keys only (gpg 2.2 reads no v6 key)', async () => {
    expect(store.keys.has(v6.fingerprint)).toBe(true);
    await expect(lookups.get(parseSearch('six@lookup.example', false))).rejects.toMatchObject({ status: 404 });
  });

  it('lists matches newest first, maxResults a page, with the total and a token for the next page', async () => {
    const query = parseSearch('lookup', false);
    const first = await lookups.index(query, {}, false);
    expect(first.keys.map((k) => k.fingerprint)).toEqual([newest.fingerprint, newer.fingerprint]);
    expect(first.total).toBe(3);
    expect(first.nextPageToken).not.toBeNull();
    const second = await lookups.index(query, { pageToken: first.nextPageToken! }, false);
    expect(second.keys.map((k) => k.fingerprint)).toEqual([older.fingerprint]);
    expect(second.total).toBe(3);
    expect(second.nextPageToken).toBeNull();
    expect((await lookups.index(query, { pageSize: 1 }, false)).keys).toHaveLength(1);
    expect(second.keys[0]!.userIds.map((u) => u.text).sort()).toEqual(['<again@lookup.example>', 'Lookup Older <older@lookup.example>']);
  });

  it('names the issuers of signatures stored here (vindex)', async () => {
    const result = await lookups.index(parseSearch('newest@lookup.example', false), {}, true);
    const signatures = result.signatures!.get(newest.fingerprint)!.userIds[0]!;
    expect(signatures).toContainEqual(
      expect.objectContaining({
        issuerKeyId: certifier.fingerprint.slice(-16),
        issuerUserId: 'Certifier <certifier@elsewhere.example>',
      }),
    );
    expect(signatures).toContainEqual(
      expect.objectContaining({ issuerKeyId: newest.fingerprint.slice(-16), issuerUserId: 'Lookup Newest <newest@lookup.example>' }),
    );
  });

  it('counts the keys inserted and updated', async () => {
    const stats = await lookups.stats();
    expect(stats).toMatchObject({ version: 'test-version', totalKeys: 5, last24h: { inserted: 5, updated: 1 }, last7d: { inserted: 5, updated: 1 } });
    expect(stats.hourly.reduce((n, h) => n + h.inserted, 0)).toBe(5);
    expect(stats.daily.map((d) => d.day)).toEqual([new Date().toISOString().slice(0, 10)]);
  });
});
