// Crash safety on both backends: kill -9 of the server during a stream of pushes loses no push it answered 200, and
// leaves no key half-stored; kill -9 of `keystore import` midway (beside the server) leaves the server serving and
// a re-run completes, finding unchanged what was stored.
import { rm } from 'node:fs/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armoredPackets, lookup, pushKeys } from '../helpers/hkp.js';
import { keystore, spawnKeystore } from '../helpers/commandLine.js';
import { makeKey, packetSet, type TestKey } from '../helpers/keys.js';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/server.js';
import { startServerProcess, type ServerProcess } from '../helpers/serverProcess.js';
import { tempDir } from '../e2e/helpers/run.js';

const PUSHES = 200;
const KILL_AFTER = 80; // acknowledged pushes before the kill
const IMPORTED = 120;

function makeKeys(n: number, label: string): Promise<TestKey[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => makeKey([{ name: `${label} ${i}`, email: `${label}-${i}@example.org` }])));
}

/** 'whole' when served with the packets pushed; 'missing' when not stored. Throws on a key stored otherwise. */
async function stored(url: string, key: TestKey): Promise<'whole' | 'missing'> {
  const got = await lookup(url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` });
  if (got.status === 404) return 'missing';
  expect(got.status).toBe(200);
  expect(packetSet(armoredPackets(got.text)), key.fingerprint).toEqual(packetSet(key.packets));
  return 'whole';
}

async function totalKeys(url: string): Promise<number> {
  const res = await lookup(url, { op: 'stats', options: 'mr' });
  return (res.json as { totalKeys: number }).totalKeys;
}

describe.each(backends)('kill -9 on %s', (backend) => {
  let dir: string;
  let database: TestDatabase;
  let env: Record<string, string>;
  let server: ServerProcess | undefined;
  let pushed: TestKey[];
  let imported: TestKey[];
  const start = () => startServerProcess({ ...env, RATE_LIMIT: 'off' });

  beforeAll(async () => {
    dir = await tempDir('keystore-crash-');
    database = await createTestDatabase(backend);
    env = database.url ? { DATABASE_URL: database.url, DATA_DIR: join(dir, 'unused') } : { DATABASE_URL: '', DATA_DIR: join(dir, 'data') };
    [pushed, imported] = await Promise.all([makeKeys(PUSHES, `crash-push-${backend}`), makeKeys(IMPORTED, `crash-import-${backend}`)]);
    server = await start();
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('of the server during a stream of pushes: every push answered 200 is stored whole after a restart', async () => {
    const running = server!;
    const acknowledged: TestKey[] = [];
    let next = 0;
    let killed = false;
    const pusher = async () => {
      while (next < pushed.length) {
        const key = pushed[next++]!;
        try {
          const res = await pushKeys(running.url, key.armored);
          if (res.status !== 200) throw new Error(`push answered ${res.status}: ${res.text}`);
          expect(res.json).toMatchObject({ inserted: [key.fingerprint] });
          acknowledged.push(key);
          if (acknowledged.length === KILL_AFTER) killed = running.child.kill('SIGKILL');
        } catch (e) {
          if (killed) return; // the server is gone: the stream ends
          throw e;
        }
      }
    };
    await Promise.all([pusher(), pusher(), pusher(), pusher()]);
    expect(await running.exited).toBeNull();
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(acknowledged.length).toBeLessThan(PUSHES); // killed midway

    // The killed server's lock is stale: the next start takes the folder.
    server = await start();
    const states = await Promise.all(pushed.map((key) => stored(server!.url, key)));
    const lost = acknowledged.filter((key) => states[pushed.indexOf(key)] !== 'whole');
    console.log(
      `${backend}: kill -9 after ${acknowledged.length} acknowledged pushes (of ${PUSHES} sent): ${lost.length} lost, ${states.filter((s) => s === 'whole').length} stored`,
    );
    expect(lost.map((k) => k.fingerprint)).toEqual([]);
  }, 240_000);

  it('of keystore import midway, beside the server: the server goes on, and a re-run completes', async () => {
    const url = server!.url;
    const before = await totalKeys(url);
    const importer = spawnKeystore(['import', '--json', '-'], env);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => importer.on('exit', (_code, signal) => resolve(signal)));
    importer.stdin!.on('error', () => {});
    let stderr = '';
    importer.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    // Keys arrive in small groups while the import stores them; it is killed once some are stored, with
    // more on their way (and the last ones never sent).
    const deadline = Date.now() + 60_000;
    let sent = 0;
    while ((await totalKeys(url)) - before < 10) {
      if (Date.now() > deadline) throw new Error(`the import stored nothing within 60 s\n${stderr}`);
      if (sent < IMPORTED - 20) {
        importer.stdin!.write(
          imported
            .slice(sent, sent + 5)
            .map((k) => k.armored)
            .join('\n'),
        );
        sent += 5;
      }
      await sleep(50);
    }
    importer.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect((await fetch(`${url}/pks/health`)).status).toBe(200);
    const states = await Promise.all(imported.map((key) => stored(url, key)));
    const storedBefore = states.filter((s) => s === 'whole').length;
    expect(storedBefore).toBeGreaterThan(0);
    expect(storedBefore).toBeLessThan(IMPORTED);
    // The server's database is not held by the killed import: a push goes through.
    const fresh = await makeKey([{ name: 'After The Kill', email: `after-kill-${backend}@example.org` }]);
    expect((await pushKeys(url, fresh.armored)).json).toMatchObject({ inserted: [fresh.fingerprint] });

    const file = join(dir, 'import.asc');
    await writeFile(file, imported.map((k) => k.armored).join('\n'));
    const rerun = await keystore(['import', '--json', file], env);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ keys: IMPORTED, inserted: IMPORTED - storedBefore, unchanged: storedBefore, rejected: 0 });
    console.log(
      `${backend}: import killed after ${storedBefore} of ${IMPORTED} keys stored; the re-run inserted the other ${IMPORTED - storedBefore}`,
    );
    expect(await Promise.all(imported.map((key) => stored(url, key)))).toEqual(imported.map(() => 'whole'));
  }, 240_000);
});

describe.skipIf(!backends.includes('pglite'))('kill -9 of keystore import holding the embedded database itself', () => {
  it('leaves a stale lock and a database that recovers: a re-run completes, every key stored whole', async () => {
    const dir = await tempDir('keystore-crash-alone-');
    try {
      const env = { DATABASE_URL: '', DATA_DIR: join(dir, 'data') };
      const keys = await makeKeys(40, 'crash-alone');
      const importer = spawnKeystore(['import', '--json', '-'], env);
      const exited = new Promise<NodeJS.Signals | null>((resolve) => importer.on('exit', (_code, signal) => resolve(signal)));
      importer.stdin!.on('error', () => {});
      let stderr = '';
      importer.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      // The import says it runs once it holds the folder; keys then arrive while it stores them.
      const deadline = Date.now() + 60_000;
      while (!stderr.includes('importing')) {
        if (Date.now() > deadline) throw new Error(`the import did not start within 60 s\n${stderr}`);
        await sleep(100);
      }
      for (let sent = 0; sent < 30; sent += 5) {
        importer.stdin!.write(
          keys
            .slice(sent, sent + 5)
            .map((k) => k.armored)
            .join('\n'),
        );
        await sleep(150);
      }
      importer.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      const file = join(dir, 'keys.asc');
      await writeFile(file, keys.map((k) => k.armored).join('\n'));
      const rerun = await keystore(['import', '--json', file], env);
      expect(rerun.code, rerun.stderr).toBe(0);
      const summary = JSON.parse(rerun.stdout) as { inserted: number; unchanged: number };
      expect(summary.inserted + summary.unchanged).toBe(keys.length);
      console.log(`pglite alone: import killed; the re-run found ${summary.unchanged} of ${keys.length} keys stored, inserted ${summary.inserted}`);
      const server = await startServerProcess({ ...env, RATE_LIMIT: 'off' });
      try {
        expect(await Promise.all(keys.map((key) => stored(server.url, key)))).toEqual(keys.map(() => 'whole'));
      } finally {
        await server.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
