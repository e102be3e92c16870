// keystore token create|list|revoke and keystore audit: the command functions in-process on every backend,
// and one run of the real command line against an embedded database in a temporary folder.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAuditRow, listAudit } from '../../src/cli/audit.js';
import { createToken, formatNewToken, formatTokenList, listTokens, revokeToken } from '../../src/cli/token.js';
import { AppError } from '../../src/errors.js';
import { AccessService } from '../../src/services/accessService.js';
import { AuditRepository } from '../../src/store/auditRepository.js';
import { TokenRepository } from '../../src/store/tokenRepository.js';
import { run, tempDir } from '../e2e/helpers/run.js';
import { makeKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

// 256 random base64url characters after the prefix: within SingularityCE's 200 to 4096 for `--tokenfile`.
const TOKEN = /^ks_[A-Za-z0-9_-]{256}$/;

describe.each(backends)('token and audit commands on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates a token for a normalised address; the secret is printed last and only its SHA-256 is stored', async () => {
    const token = await createToken(server.database.db, { email: '  Erin <Erin@Example.ORG> ' });
    expect(token.secret).toMatch(TOKEN);
    expect(token.identity).toBe('erin@example.org');
    const lines = formatNewToken(token);
    expect(lines.at(-1)).toBe(token.secret);
    expect(lines.slice(0, -1).join('\n')).not.toContain(token.secret);
    const stored = await server.database.db.selectFrom('access_tokens').selectAll().where('id', '=', token.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(token.secret);
    expect(stored.secret_sha256).toBe(createHash('sha256').update(token.secret).digest('hex'));
    const other = await createToken(server.database.db, { email: 'erin@example.org' });
    expect(other.secret).not.toBe(token.secret);
  });

  it('refuses an address that is not one', async () => {
    await expect(createToken(server.database.db, { email: 'not an address' })).rejects.toThrow(/not an e-mail address/);
    await expect(createToken(server.database.db, { email: 'aaa12345xy' })).rejects.toThrow(/not an e-mail address/);
  });

  it('creates a token for an account name in normal form (trimmed, lower case), refuses what cannot be an identity', async () => {
    const token = await createToken(server.database.db, { identity: '  AAA12345xy ' });
    expect(token.identity).toBe('aaa12345xy');
    expect(token.secret).toMatch(TOKEN);
    expect((await createToken(server.database.db, { identity: 'Mixed@Example.ORG' })).identity).toBe('mixed@example.org');
    for (const bad of ['', '   ', 'two words', '<aaa12345xy>', 'x'.repeat(255)]) {
      await expect(createToken(server.database.db, { identity: bad }), bad).rejects.toThrow(/not an identity/);
    }
    const access = new AccessService(new TokenRepository(server.database.db));
    expect(await access.authenticate(token.secret)).toEqual({ token: { id: token.id, identity: 'aaa12345xy', source: 'local' } });
  });

  it('still accepts a token issued before tokens grew (ks_ and 43 characters), by its hash', async () => {
    const old = `ks_${'Q'.repeat(43)}`;
    const row = await new TokenRepository(server.database.db).insert(createHash('sha256').update(old).digest('hex'), 'old@example.org');
    const access = new AccessService(new TokenRepository(server.database.db));
    expect(await access.authenticate(old)).toEqual({ token: { id: row.id, identity: 'old@example.org', source: 'local' } });
  });

  it('lists tokens without secrets, revokes one by id (idempotently), and a revoked token no longer authenticates', async () => {
    const token = await createToken(server.database.db, { email: 'frank@example.org' });
    const access = new AccessService(new TokenRepository(server.database.db));
    expect(await access.authenticate(token.secret)).toEqual({ token: { id: token.id, identity: 'frank@example.org', source: 'local' } });
    const listed = formatTokenList(await listTokens(server.database.db));
    expect(listed[0]).toMatch(/^ID +IDENTITY +CREATED +LAST USED +STATUS$/);
    const line = listed.find((l) => l.startsWith(`${token.id} `));
    expect(line).toMatch(/frank@example\.org .* active$/);
    expect(line).not.toMatch(/ never /); // authenticate() noted the use
    expect(listed.join('\n')).not.toContain(token.secret);

    const revoked = await revokeToken(server.database.db, token.id);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect((await revokeToken(server.database.db, token.id)).revokedAt).toEqual(revoked.revokedAt);
    expect(await access.authenticate(token.secret)).toEqual({ problem: 'the token given is unknown or revoked' });
    expect(formatTokenList(await listTokens(server.database.db)).find((l) => l.startsWith(`${token.id} `))).toMatch(/revoked \d{4}-/);
  });

  it('answers an unknown or malformed token id with an error naming it', async () => {
    await expect(revokeToken(server.database.db, '999999')).rejects.toMatchObject({ status: 404, message: 'no token with id 999999' });
    const malformed = await revokeToken(server.database.db, '1; drop table keys').catch((e: unknown) => e);
    expect(malformed).toBeInstanceOf(AppError);
    expect((malformed as AppError).message).toMatch(/not a token id/);
  });

  it('lists audit rows by key and time, one line each', async () => {
    const key = await makeKey([{ name: 'Audited', email: 'audited@example.org' }]);
    const start = new Date(Date.now() - 1000);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/pks/add`, { method: 'POST', body: new URLSearchParams({ keytext: key.armored }) });
      expect(res.status).toBe(200);
    }
    const rows = await listAudit(server.database.db, { fingerprint: key.fingerprint });
    expect(rows.map((r) => r.outcome)).toEqual(['inserted', 'unchanged']);
    expect(await listAudit(server.database.db, { fingerprint: key.fingerprint, since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect((await listAudit(server.database.db, { since: start })).length).toBeGreaterThanOrEqual(2);
    expect((await listAudit(server.database.db, { fingerprint: key.fingerprint, limit: 1 })).map((r) => r.outcome)).toEqual(['unchanged']);
    const line = formatAuditRow(rows[0]!);
    expect(line).toContain(key.fingerprint);
    expect(line).toMatch(/inserted .* from 127\.0\.0\.1 no token .*added 1 user IDs, 1 subkeys/);
  });

  it('stores audit details holding a NUL (which jsonb refuses) as U+FFFD, and a literal backslash-u0000 as it is', async () => {
    const fingerprint = 'E'.repeat(40);
    await new AuditRepository(server.database.db).record([
      {
        source: 'import',
        remoteAddress: null,
        tokenId: null,
        identity: null,
        fingerprint,
        outcome: 'refused',
        detail: { reason: 'user ID "a\u0000b"', literal: 'C:\\u0000' },
      },
    ]);
    const [row] = await listAudit(server.database.db, { fingerprint });
    expect(row!.detail).toEqual({ reason: 'user ID "a\ufffdb"', literal: 'C:\\u0000' });
  });
});

describe('the keystore command line (subprocess, embedded database)', () => {
  let dataDir: string;
  const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
  const keystore = (args: string[]) =>
    run('npx', ['tsx', main, ...args], { env: { DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'silent' }, timeoutMs: 60_000 });

  beforeAll(async () => {
    dataDir = await tempDir('keystore-token-cli-');
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('token create prints the token alone on its last line; token list never prints it', async () => {
    const created = await keystore(['token', 'create', '--email', 'a@b']);
    expect(created.code, created.stderr).toBe(0);
    const lines = created.stdout.trimEnd().split('\n');
    const secret = lines.at(-1)!;
    expect(secret).toMatch(TOKEN);
    expect(lines.slice(0, -1).join('\n')).not.toContain(secret);
    const listed = await keystore(['token', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^1 +a@b +.* active$/m);
    expect(listed.stdout + listed.stderr).not.toContain(secret);
    const named = await keystore(['token', 'create', '--identity', 'AAA12345xy']);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toMatch(/^token 2 created for aaa12345xy;/m);
  }, 180_000);
});
