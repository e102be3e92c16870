// News of written keys (src/store/keyChanges.ts, KeyServiceOptions.onWritten): an instance hears every other
// instance's writes but not its own, which it handled when they returned; and a write that fails after it may
// have committed is reported as written all the same, so nothing cached hides it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { keyLimits } from '../../src/keyLimits.js';
import { KeyService } from '../../src/services/keyService.js';
import type { KeyChangeNews } from '../../src/vocabulary.js';
import { AuditRepository } from '../../src/store/auditRepository.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { KEY_CHANGES_CHANNEL, encodeKeyChange, type KeyChangeListener } from '../../src/store/keyChanges.js';
import { KeyRepository } from '../../src/store/keyRepository.js';
import { openMigratedDatabase } from '../../src/store/migrate.js';
import { makeKey, withUserIds, type TestKey } from '../helpers/keys.js';
import { backends, createTestDatabase, type Backend, type TestDatabase } from '../helpers/server.js';

const limits = keyLimits(loadConfig({ DATA_DIR: 'memory://' }));

async function openStore(database: TestDatabase): Promise<DatabaseHandle> {
  return openMigratedDatabase({ url: database.url, dataDir: 'memory://', poolSize: 2 });
}

/** Polls until `check` holds (a notification arrives within milliseconds; allow 5 s). */
async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const fingerprintsOf = (news: KeyChangeNews[]) => news.map((n) => (n === 'all' ? 'all' : n.fingerprints[0]));

describe.skipIf(!process.env['TEST_DATABASE_URL'])('key change notifications between instances (postgresql)', () => {
  let database: TestDatabase;
  let own: DatabaseHandle;
  let other: DatabaseHandle;
  let listener: KeyChangeListener;
  const heard: KeyChangeNews[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgresql');
    own = await openStore(database);
    other = await openStore(database);
    let listening = false;
    listener = own.listenForKeyChanges!({
      change: (news) => heard.push(news),
      listening: (on) => {
        listening = on;
      },
    });
    await eventually(() => listening);
  });
  afterAll(async () => {
    await listener?.close();
    await own?.close();
    await other?.close();
    await database?.drop();
  });

  it("hears the other instance's writes and writers that do not name themselves, never its own", async () => {
    const service = (handle: DatabaseHandle) =>
      new KeyService(new KeyRepository(handle.db, handle.writerId), new AuditRepository(handle.db), { limits });
    const [mine, theirs, last] = [
      await makeKey([{ email: 'mine@changes.example' }]),
      await makeKey([{ email: 'theirs@changes.example' }]),
      await makeKey(),
    ];
    await service(own).submit(mine.armored, { source: 'import' });
    await service(own).submit((await withUserIds(mine, [{ email: 'mine@changes.example' }, { email: 'more@changes.example' }])).armored, {
      source: 'import',
    });
    await service(other).submit(theirs.armored, { source: 'import' });
    // As an earlier version sends it: no writer named.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('select pg_notify($1, $2)', [KEY_CHANGES_CHANNEL, JSON.stringify({ f: [last.fingerprint], e: [] })]);
      await client.query('select pg_notify($1, $2)', [KEY_CHANGES_CHANNEL, '*']);
      // Its own name, from anywhere, is skipped; what comes after it still heard.
      await client.query('select pg_notify($1, $2)', [
        KEY_CHANGES_CHANNEL,
        encodeKeyChange({ fingerprints: [mine.fingerprint], identities: [] }, own.writerId),
      ]);
      await client.query('select pg_notify($1, $2)', [
        KEY_CHANGES_CHANNEL,
        encodeKeyChange({ fingerprints: ['F'.repeat(40)], identities: ['x@y'.repeat(3000)] }, other.writerId),
      ]);
    } finally {
      await client.end();
    }
    // Notifications arrive in commit order: once the last is heard, every earlier one has been.
    await eventually(() => heard.length >= 4);
    await new Promise((r) => setTimeout(r, 50));
    expect(fingerprintsOf(heard)).toEqual([theirs.fingerprint, last.fingerprint, 'all', 'all']);
    expect(heard[0]).toEqual({
      fingerprints: [theirs.fingerprint, ...theirs.publicKey.getSubkeys().map((s) => s.getFingerprint().toUpperCase())],
      identities: ['theirs@changes.example'],
    });
  });
});

/** A repository whose writes commit, then fail as when the connection is lost before the commit is confirmed. */
class CommitThenFail extends KeyRepository {
  override async insert(...args: Parameters<KeyRepository['insert']>): Promise<boolean> {
    await super.insert(...args);
    throw new Error('connection lost at commit');
  }

  override async update(...args: Parameters<KeyRepository['update']>): Promise<boolean> {
    await super.update(...args);
    throw new Error('connection lost at commit');
  }

  override async insertMany(...args: Parameters<KeyRepository['insertMany']>): Promise<boolean[]> {
    await super.insertMany(...args);
    throw new Error('connection lost at commit');
  }

  override async updateMany(...args: Parameters<KeyRepository['updateMany']>): Promise<boolean[]> {
    await super.updateMany(...args);
    throw new Error('connection lost at commit');
  }
}

describe.each(backends)('writes that may have committed (%s)', (backend: Backend) => {
  let database: TestDatabase;
  let store: DatabaseHandle;
  beforeAll(async () => {
    database = await createTestDatabase(backend);
    store = await openStore(database);
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('reports a key as written when its write fails, one key or a batch, new or stored', async () => {
    const written: string[] = [];
    const service = new KeyService(new CommitThenFail(store.db), new AuditRepository(store.db), {
      limits,
      onWritten: (change) => written.push(change.fingerprints[0]!),
    });
    const grown = async (key: TestKey) =>
      withUserIds(key, [{ email: `${key.fingerprint}@changes.example` }, { email: `more-${key.fingerprint}@changes.example` }]);
    const one = await makeKey([{ email: 'one@changes.example' }]);
    await expect(service.submit(one.armored, { source: 'import' })).rejects.toThrow();
    expect(written).toEqual([one.fingerprint]);
    await expect(service.submit((await grown(one)).armored, { source: 'import' })).rejects.toThrow();
    expect(written).toEqual([one.fingerprint, one.fingerprint]);

    written.length = 0;
    const batch = [await makeKey([{ email: 'a@changes.example' }]), await makeKey([{ email: 'b@changes.example' }])];
    // insertMany fails: then each key on its own, found stored (the failed write did commit), unchanged.
    const first = await service.submitKeys(
      batch.map((k) => k.packets),
      { source: 'import' },
    );
    expect(first.map((r) => r.status === 'fulfilled' && r.value.status)).toEqual(['unchanged', 'unchanged']);
    expect(written).toEqual(batch.map((k) => k.fingerprint));

    written.length = 0;
    // updateMany fails: then each key on its own, found written: unchanged.
    const second = await service.submitKeys(await Promise.all(batch.map(async (k) => (await grown(k)).packets)), { source: 'import' });
    expect(second.map((r) => r.status === 'fulfilled' && r.value.status)).toEqual(['unchanged', 'unchanged']);
    expect(written).toEqual(batch.map((k) => k.fingerprint));
  });
});
