// Reads from a streaming-replication standby (DATABASE_READ_URL): a real primary and hot standby of the Debian
// PostgreSQL binaries on loopback, two keystore instances on them. Pushes are read back at once, also while the
// standby's replay is paused (so it lags for certain); cached answers never go stale because of the lag; a
// standby stopped leaves reads to the primary, and is used again when it returns.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { lookup, pushKeys } from '../helpers/hkp.js';
import { makeKey } from '../helpers/keys.js';
import { createPrivatePostgres, createPrivateStandby, postgresBinaries, type PrivatePostgres } from '../helpers/privatePostgres.js';

const bin = postgresBinaries();

async function query(url: string, text: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

const served = (server: RunningServer) => server.database.readReplicas!().served;
const standbyUp = (server: RunningServer) => server.database.readReplicas!().standbys.every((s) => s.up);
const absent = (n: number) => `0x${n.toString(16).toUpperCase().padStart(2, '0').repeat(20)}`;

describe.skipIf(!bin)('reads from a streaming standby', () => {
  let primary: PrivatePostgres;
  let standby: PrivatePostgres;
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    primary = await createPrivatePostgres(bin!);
    standby = await createPrivateStandby(bin!, primary);
    const start = () =>
      startServer(
        loadConfig({
          PORT: '0',
          HOST: '127.0.0.1',
          RATE_LIMIT: 'off',
          DATABASE_URL: primary.url,
          DATABASE_READ_URL: standby.url,
          DB_POOL_SIZE: '4',
        }),
        pino({ level: 'silent' }),
        'test',
      );
    // One after the other: the first migrates the schema.
    a = await start();
    b = await start();
  }, 120_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await standby?.destroy();
    await primary?.destroy();
  }, 60_000);

  it('serves lookups from the standby once it has replayed the schema', async () => {
    for (const [i, server] of [a, b].entries()) {
      await until('the standby is up', () => standbyUp(server));
      let before = served(server).standby;
      // Right after the start, reads may still wait for the standby to replay the migrations.
      await until('a read is served by the standby', async () => {
        expect((await lookup(server.url, { op: 'get', options: 'mr', search: absent(i + 1) })).status).toBe(404);
        return served(server).standby > before;
      });
      before = served(server).standby;
      expect((await lookup(server.url, { op: 'index', options: 'mr', search: `nobody-${i}@example.org` })).status).toBe(404);
      expect(served(server).standby).toBe(before + 1);
    }
  }, 60_000);

  it('reads a push back at once on the instance that wrote it and, as soon as it hears of it, on the other, while the standby lags', async () => {
    const key = await makeKey([{ name: 'Replica Reader', email: 'replica-reader@example.org' }]);
    const search = `0x${key.fingerprint}`;
    // Both cache "not found" from the standby first.
    for (const server of [a, b]) expect((await lookup(server.url, { op: 'get', options: 'mr', search })).status).toBe(404);
    await query(standby.url, 'select pg_wal_replay_pause()');
    try {
      expect((await pushKeys(a.url, key.armored)).status).toBe(200);
      const got = await lookup(a.url, { op: 'get', options: 'mr', search });
      expect(got.status).toBe(200);
      expect(got.text).toContain('BEGIN PGP PUBLIC KEY BLOCK');
      // B learns of the push by NOTIFY (milliseconds): from then on it reads from the primary, and never
      // caches a "not found" read from the paused standby.
      await until('the other instance finds the key', async () => (await lookup(b.url, { op: 'get', options: 'mr', search })).status === 200, 10_000);
      const primaryBefore = served(b).primary;
      expect((await lookup(b.url, { op: 'index', options: 'mr', search: 'replica-reader@example.org' })).status).toBe(200);
      expect(served(b).primary).toBe(primaryBefore + 1);
      for (let i = 0; i < 5; i++) {
        for (const server of [a, b]) expect((await lookup(server.url, { op: 'get', options: 'mr', search })).status).toBe(200);
      }
      // The standby really lags: it has not got the key.
      expect(await query(standby.url, `select 1 from keys where fingerprint = '${key.fingerprint}'`)).toHaveLength(0);
    } finally {
      await query(standby.url, 'select pg_wal_replay_resume()');
    }
    // Caught up, the standby serves again.
    for (const [i, server] of [a, b].entries()) {
      const before = served(server).standby;
      await until('the standby serves again after its replay', async () => {
        expect((await lookup(server.url, { op: 'index', options: 'mr', search: `fingerprint-${i}`.padEnd(12, 'x') })).status).toBe(404);
        return served(server).standby > before;
      });
    }
  }, 60_000);

  it('answers from the primary while the standby is stopped, and uses the standby again when it is back', async () => {
    const key = await makeKey([{ name: 'Standby Gone', email: 'standby-gone@example.org' }]);
    expect((await pushKeys(a.url, key.armored)).status).toBe(200);
    await standby.stop();
    try {
      for (const server of [a, b]) {
        const before = served(server).primary;
        const found = await lookup(server.url, { op: 'index', options: 'mr', search: 'standby-gone@example.org' });
        expect(found.status).toBe(200);
        expect(found.text).toContain(key.fingerprint);
        expect((await lookup(server.url, { op: 'get', options: 'mr', search: absent(9) })).status).toBe(404);
        expect(served(server).primary).toBeGreaterThanOrEqual(before + 2);
        await until('the stopped standby is left out', () => !standbyUp(server));
      }
    } finally {
      await standby.start();
    }
    for (const [i, server] of [a, b].entries()) {
      await until('the standby is up again', () => standbyUp(server));
      const before = served(server).standby;
      await until('the standby serves again', async () => {
        const found = await lookup(server.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint.slice(-16)}` });
        expect(found.status).toBe(200);
        // A different spelling each time, so the answer is not served from the cache.
        expect((await lookup(server.url, { op: 'get', options: 'mr', search: absent(20 + i) })).status).toBe(404);
        return served(server).standby > before;
      });
    }
    // Push on B, read at once on both.
    const third = await makeKey([{ name: 'Third', email: 'third@example.org' }]);
    expect((await pushKeys(b.url, third.armored)).status).toBe(200);
    expect((await lookup(b.url, { op: 'get', options: 'mr', search: `0x${third.fingerprint}` })).status).toBe(200);
    await until(
      'the other instance finds it',
      async () => (await lookup(a.url, { op: 'get', options: 'mr', search: `0x${third.fingerprint}` })).status === 200,
      10_000,
    );
  }, 90_000);
});
