// The command line beside a running server, on both backends: what `keystore token` and `keystore import` write
// while `keystore serve` runs is served at once and still there after a restart; on the embedded database the
// commands go through the server (its socket in DATA_DIR), and a second server on the folder is refused.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armoredPackets, lookup } from '../helpers/hkp.js';
import { keystore } from '../helpers/commandLine.js';
import { makeKey, packetSet, type TestKey } from '../helpers/keys.js';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/server.js';
import { startServerProcess, type ServerProcess } from '../helpers/serverProcess.js';
import { tempDir } from '../e2e/helpers/run.js';

async function pushWithToken(url: string, key: TestKey, token?: string) {
  const res = await fetch(`${url}/pks/add?options=mr`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: new URLSearchParams({ keytext: key.armored }).toString(),
  });
  return { status: res.status, json: (await res.json()) as unknown };
}

/** Whether the server serves the key whole: the same packets as pushed, and found by its e-mail. */
async function servedWhole(url: string, key: TestKey, email: string): Promise<boolean> {
  const got = await lookup(url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` });
  if (got.status !== 200) return false;
  expect(packetSet(armoredPackets(got.text))).toEqual(packetSet(key.packets));
  const index = await lookup(url, { op: 'index', options: 'mr', search: email });
  return index.status === 200 && index.text.includes(key.fingerprint);
}

describe.each(backends)('the command line beside keystore serve on %s', (backend) => {
  let dir: string;
  let database: TestDatabase;
  let env: Record<string, string>;
  let server: ServerProcess;
  const start = () => startServerProcess({ ...env, PUSH_POLICY: 'token', RATE_LIMIT: 'off' });

  beforeAll(async () => {
    dir = await tempDir('keystore-beside-');
    database = await createTestDatabase(backend);
    env = database.url ? { DATABASE_URL: database.url, DATA_DIR: join(dir, 'unused') } : { DATABASE_URL: '', DATA_DIR: join(dir, 'data') };
    server = await start();
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a token made beside the server lets a push in at once, and still does after a restart', async () => {
    const email = `token-${backend}@example.org`;
    const key = await makeKey([{ name: 'Token Beside', email }]);
    expect((await pushWithToken(server.url, key)).status).toBe(401);
    const created = await keystore(['token', 'create', '--email', email], env);
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trimEnd().split('\n').at(-1)!;
    expect(await pushWithToken(server.url, key, token)).toEqual({ status: 200, json: expect.objectContaining({ inserted: [key.fingerprint] }) });

    await server.stop();
    expect(await server.exited).toBe(0);
    server = await start();
    expect(await servedWhole(server.url, key, email)).toBe(true);
    const later = await makeKey([{ name: 'Token Beside Later', email }]);
    expect(await pushWithToken(server.url, later, token)).toEqual({ status: 200, json: expect.objectContaining({ inserted: [later.fingerprint] }) });
    const listed = await keystore(['token', 'list'], env);
    expect(listed.stdout).toMatch(new RegExp(`^\\d+ +${email.replace(/\./g, '\\.')} .* active$`, 'm'));
  }, 240_000);

  it('keys imported beside the server are served at once (no stale cached 404), and after a restart', async () => {
    const keys = await Promise.all([0, 1, 2].map((i) => makeKey([{ name: `Imported ${i}`, email: `import-${i}-${backend}@example.org` }])));
    // Asked for before the import: the answers (404) are cached by the server and must not outlive the import.
    for (const key of keys) expect((await lookup(server.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` })).status).toBe(404);
    expect((await lookup(server.url, { op: 'index', options: 'mr', search: `import-0-${backend}@example.org` })).status).toBe(404);
    const file = join(dir, 'keys.asc');
    await writeFile(file, keys.map((k) => k.armored).join('\n'));
    const imported = await keystore(['import', '--json', file], env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ inserted: 3, rejected: 0 });
    for (const [i, key] of keys.entries()) expect(await servedWhole(server.url, key, `import-${i}-${backend}@example.org`)).toBe(true);

    await server.stop();
    server = await start();
    for (const [i, key] of keys.entries()) expect(await servedWhole(server.url, key, `import-${i}-${backend}@example.org`)).toBe(true);
    const again = await keystore(['import', '--json', file], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ inserted: 0, unchanged: 3 });
  }, 240_000);

  it('migrate, stats, audit and export work beside the server, several at once', async () => {
    const out = join(dir, 'export');
    const [migrated, stats, audit, exported] = await Promise.all([
      keystore(['migrate'], env),
      keystore(['stats', '--json'], env),
      keystore(['audit', '--json'], env),
      keystore(['export', out], env),
    ]);
    for (const result of [migrated, stats, audit, exported]) expect(result.code, result.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/database is up to date/);
    expect(JSON.parse(stats.stdout)).toMatchObject({ totalKeys: 5 });
    expect(
      audit.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { outcome: string }).outcome),
    ).toContain('inserted');
    expect(exported.stdout).toMatch(/^exported 5 keys /);
    expect((await fetch(`${server.url}/pks/health`)).status).toBe(200);
  }, 240_000);

  it.skipIf(backend !== 'pglite')(
    'refuses a second server on the folder at once, with one message naming it',
    async () => {
      const started = Date.now();
      const second = await keystore(['serve'], { ...env, PORT: '0', HOST: '127.0.0.1' });
      expect(second.code).toBe(1);
      expect(second.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(
            `^keystore: ${env['DATA_DIR']!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by keystore serve \\(pid ${server.child.pid}, .*a second server cannot open it\\. Stop that server first`,
          ),
        ),
      ]);
      expect(Date.now() - started).toBeLessThan(30_000);
      // The first server goes on, its database untouched.
      expect((await fetch(`${server.url}/pks/health`)).status).toBe(200);
      const stats = await keystore(['stats', '--json'], env);
      expect(stats.code, stats.stderr).toBe(0);
      expect(JSON.parse(stats.stdout)).toMatchObject({ totalKeys: 5 });
    },
    240_000,
  );
});
