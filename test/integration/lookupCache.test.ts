// The lookup cache never serves an answer a committed write made stale: on one server, and across servers
// sharing one PostgreSQL database (NOTIFY/LISTEN), also after the listening connection was lost.
import * as openpgp from 'openpgp';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { lookup, pushKeys } from '../helpers/hkp.js';
import { fromPrivate, makeKey, withUserIds } from '../helpers/keys.js';
import { backends, createTestDatabase, startTestServer, type TestDatabase, type TestServer } from '../helpers/server.js';

async function mrIndex(url: string, search: string) {
  return lookup(url, { op: 'index', options: 'mr', search });
}

/** Polls until `check` holds (another server hears of a write within milliseconds; allow 5 s). */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(backends)('lookup cache (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves a key pushed after its search answered 404', async () => {
    const key = await makeKey([{ name: 'Cache Late', email: 'late@cache.example' }]);
    const searches = [`0x${key.fingerprint}`, `0x${key.fingerprint.slice(-16)}`, `0x${key.fingerprint.slice(-8)}`, 'late@cache.example'];
    for (const search of searches) {
      expect((await lookup(server.url, { op: 'get', options: 'mr', search })).status, search).toBe(404);
      expect((await mrIndex(server.url, search)).status, search).toBe(404);
    }
    expect((await mrIndex(server.url, 'cache late')).status).toBe(404);
    await pushKeys(server.url, key.armored);
    for (const search of searches) {
      expect((await lookup(server.url, { op: 'get', options: 'mr', search })).status, search).toBe(200);
      expect((await mrIndex(server.url, search)).status, search).toBe(200);
    }
    expect((await mrIndex(server.url, 'cache late')).status).toBe(200);
  });

  it('serves a new user ID and a revocation at once after they are pushed', async () => {
    const key = await makeKey([{ name: 'Cache Grow', email: 'grow@cache.example' }]);
    await pushKeys(server.url, key.armored);
    const subkeyId = key.publicKey.getSubkeys()[0]!.getKeyID().toHex().toUpperCase();
    const before = await lookup(server.url, { op: 'get', options: 'mr', search: `0x${subkeyId}` });
    const indexBefore = await mrIndex(server.url, 'grow@cache.example');
    expect(indexBefore.text).not.toContain('second%40cache.example');
    expect((await mrIndex(server.url, 'second@cache.example')).status).toBe(404);

    const grown = await withUserIds(key, [
      { name: 'Cache Grow', email: 'grow@cache.example' },
      { name: 'Cache Grow', email: 'second@cache.example' },
    ]);
    expect((await pushKeys(server.url, grown.armored)).json.updated).toEqual([key.fingerprint]);
    const after = await lookup(server.url, { op: 'get', options: 'mr', search: `0x${subkeyId}` });
    expect(after.text).not.toBe(before.text);
    expect(after.text.length).toBeGreaterThan(before.text.length);
    expect((await mrIndex(server.url, 'grow@cache.example')).text).toContain('second@cache.example');
    expect((await mrIndex(server.url, 'second@cache.example')).status).toBe(200);

    const { privateKey } = await openpgp.revokeKey({ key: grown.privateKey, format: 'object' });
    await pushKeys(server.url, fromPrivate(privateKey as openpgp.PrivateKey).armored);
    const pub = (await mrIndex(server.url, `0x${key.fingerprint}`)).text.split('\n').find((l) => l.startsWith('pub:'))!;
    expect(pub.split(':')[6]).toContain('r');
  });
});

describe.skipIf(!process.env['TEST_DATABASE_URL'])('lookup cache across servers sharing PostgreSQL', () => {
  let database: TestDatabase;
  let a: RunningServer;
  let b: RunningServer;
  const start = () =>
    startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', RATE_LIMIT: 'off', DATABASE_URL: database.url! }), pino({ level: 'silent' }), 'test');

  beforeAll(async () => {
    database = await createTestDatabase('postgresql');
    a = await start();
    b = await start();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  it('drops what another server cached when a key is written through this one', async () => {
    const key = await makeKey([{ name: 'Cache Shared', email: 'shared@cache.example' }]);
    // B must be listening before it caches anything.
    await eventually(async () => {
      await lookup(b.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` });
      return (await lookup(b.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` })).status === 404;
    });
    expect((await mrIndex(b.url, 'shared@cache.example')).status).toBe(404);
    await pushKeys(a.url, key.armored);
    await eventually(async () => (await lookup(b.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` })).status === 200);
    await eventually(async () => (await mrIndex(b.url, 'shared@cache.example')).status === 200);
    await eventually(async () => (await mrIndex(b.url, 'cache shared')).status === 200);
  });

  it('serves nothing stale after its listening connection was cut', async () => {
    const key = await makeKey([{ name: 'Cache Cut', email: 'cut@cache.example' }]);
    await pushKeys(a.url, key.armored);
    await eventually(async () => (await mrIndex(b.url, 'cut@cache.example')).status === 200);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const cut = await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen %'`,
      );
      expect(cut.rowCount).toBe(2);
    } finally {
      await admin.end();
    }
    const grown = await withUserIds(key, [
      { name: 'Cache Cut', email: 'cut@cache.example' },
      { name: 'Cache Cut', email: 'cut2@cache.example' },
    ]);
    await pushKeys(a.url, grown.armored);
    await eventually(async () => (await mrIndex(b.url, 'cut@cache.example')).text.includes('cut2@cache.example'));
  });
});
