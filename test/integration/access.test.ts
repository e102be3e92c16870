// Who may push and look up (PUSH_POLICY, LOOKUP_POLICY, tokens), Singularity's login handshakes, and the
// append-only audit log of pushes, against the real server on every backend.
import { sql } from 'kysely';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, revokeToken } from '../../src/cli/token.js';
import { listAudit } from '../../src/cli/audit.js';
import { fetchText, lookup } from '../helpers/hkp.js';
import { armorPackets, fromPrivate, makeKey, withUserIds, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

async function push(baseUrl: string, keytext: string, authorization?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (authorization !== undefined) headers['authorization'] = authorization;
  const res = await fetch(`${baseUrl}/pks/add?options=mr`, { method: 'POST', headers, body: new URLSearchParams({ keytext }).toString() });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text), headers: res.headers };
}

async function get(baseUrl: string, path: string, authorization?: string) {
  return fetchText(`${baseUrl}${path}`, authorization === undefined ? {} : { headers: { authorization } });
}

const bearer = (secret: string) => `Bearer ${secret}`;
const basic = (user: string, password = '') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function revoked(key: TestKey): Promise<TestKey> {
  const { privateKey } = await openpgp.revokeKey({ key: key.privateKey, format: 'object' });
  return fromPrivate(privateKey as openpgp.PrivateKey);
}

describe.each(backends)('access control on %s', (backend) => {
  describe('PUSH_POLICY=open (the default)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(backend);
    });
    afterAll(async () => {
      await server?.close();
    });

    it('accepts pushes without a token, with an unknown one, and with a token of another e-mail', async () => {
      const anonymous = await makeKey([{ name: 'Open', email: 'open@example.org' }]);
      expect((await push(server.url, anonymous.armored)).json.inserted).toEqual([anonymous.fingerprint]);
      const withUnknown = await makeKey([{ email: 'open.unknown@example.org' }]);
      expect((await push(server.url, withUnknown.armored, bearer('ks_not-a-token'))).status).toBe(200);
      const token = await createToken(server.database.db, { email: 'someone.else@example.org' });
      const withOther = await makeKey([{ email: 'open.other@example.org' }]);
      expect((await push(server.url, withOther.armored, bearer(token.secret))).json.inserted).toEqual([withOther.fingerprint]);
      // The audit log names the valid token even when none is required.
      const rows = await listAudit(server.database.db, { fingerprint: withOther.fingerprint });
      expect(rows.map((r) => [r.outcome, r.tokenId])).toEqual([['inserted', token.id]]);
      expect((await listAudit(server.database.db, { fingerprint: anonymous.fingerprint }))[0]!.tokenId).toBeNull();
    });

    it('audits an upload in one go: a row per key, one row for all the parts that named no key', async () => {
      const before = (await listAudit(server.database.db)).length;
      const key = await makeKey([{ name: 'Batch', email: 'batch@example.org' }]);
      const notAKey = openpgp.armor(openpgp.enums.armor.signature, new Uint8Array([1, 2, 3]));
      const res = await push(server.url, [notAKey, notAKey, key.armored, notAKey].join('\n'));
      expect(res.json.inserted).toEqual([key.fingerprint]);
      expect(res.json.rejected).toHaveLength(3);
      const rows = (await listAudit(server.database.db)).slice(before);
      expect(rows.map((r) => [r.outcome, r.fingerprint])).toEqual([
        ['inserted', key.fingerprint],
        ['refused', null],
      ]);
      expect(rows[1]!.detail).toEqual({
        reason: '3 parts of the upload held no usable key',
        reasons: [{ reason: expect.stringMatching(/^armored .*signature is not a public key$/), count: 3 }],
      });
    });

    it('serves lookups without reading credentials', async () => {
      const res = await get(server.url, '/pks/lookup?op=index&options=mr&search=open@example.org', bearer('ks_garbage'));
      expect(res.status).toBe(200);
    });
  });

  describe('PUSH_POLICY=token', () => {
    let server: TestServer;
    let alice: { id: string; secret: string };
    let carol: { id: string; secret: string };
    let dave: { id: string; secret: string };

    beforeAll(async () => {
      server = await startTestServer(backend, { PUSH_POLICY: 'token' });
      alice = await createToken(server.database.db, { email: 'alice@example.org' });
      carol = await createToken(server.database.db, { email: 'Carol <CAROL@example.org>' });
      dave = await createToken(server.database.db, { email: 'dave@example.org' });
    });
    afterAll(async () => {
      await server?.close();
    });

    it('answers 401 with a JSON error and WWW-Authenticate for no header, a bare Bearer, an unknown or a revoked token', async () => {
      const key = await makeKey([{ name: 'Alice', email: 'alice@example.org' }]);
      const gone = await createToken(server.database.db, { email: 'alice@example.org' });
      await revokeToken(server.database.db, gone.id);
      const cases: [string, string | undefined, RegExp][] = [
        ['no header', undefined, /no token was given/],
        ['bare Bearer', 'Bearer', /no token was given/],
        ['unknown token', bearer(`ks_${'A'.repeat(43)}`), /unknown or revoked/],
        ['revoked token', bearer(gone.secret), /unknown or revoked/],
        ['unknown scheme', `Digest ${alice.secret}`, /Authorization header/],
      ];
      for (const [label, authorization, why] of cases) {
        const res = await push(server.url, key.armored, authorization);
        expect(res.status, label).toBe(401);
        expect(res.headers.get('www-authenticate'), label).toMatch(/^Bearer/);
        expect(res.json.error.code, label).toBe(401);
        expect(res.json.error.message, label).toMatch(/^a valid access token is required to push keys: /);
        expect(res.json.error.message, label).toMatch(why);
      }
      expect((await lookup(server.url, { op: 'get', search: `0x${key.fingerprint}` })).status).toBe(404);
    });

    it("accepts a key carrying the token's e-mail with Bearer, BEARER and Basic (token as user name or password)", async () => {
      const forms = [bearer(alice.secret), `BEARER ${alice.secret}`, basic(alice.secret), basic('alice', alice.secret)];
      for (const authorization of forms) {
        const key = await makeKey([{ name: 'Alice', email: 'Alice@Example.org' }]);
        const res = await push(server.url, key.armored, authorization);
        expect(res.status, authorization.split(' ')[0]).toBe(200);
        expect(res.json.inserted).toEqual([key.fingerprint]);
      }
    });

    it("refuses a new key without the token's e-mail with 403 and exactly the Sylabs message; the audit log shows it", async () => {
      const key = await makeKey([{ name: 'Bob', email: 'bob@example.org' }]);
      const res = await push(server.url, key.armored, bearer(alice.secret));
      expect(res.status).toBe(403);
      expect(res.json.error).toEqual({
        code: 403,
        reason: 'key_not_owned',
        message: `key ${key.fingerprint} does not contain identity with email 'alice@example.org'`,
      });
      expect((await lookup(server.url, { op: 'get', search: `0x${key.fingerprint}` })).status).toBe(404);
      const rows = await listAudit(server.database.db, { fingerprint: key.fingerprint });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        outcome: 'refused',
        tokenId: alice.id,
        remoteAddress: '127.0.0.1',
        source: 'http',
        detail: { reason: `key ${key.fingerprint} does not contain identity with email 'alice@example.org'` },
      });
    });

    it('in a push of several keys, stores the owned ones and lists the others as rejected (200)', async () => {
      const owned = await makeKey([{ email: 'alice@example.org' }]);
      const foreign = await makeKey([{ email: 'mallory@example.org' }]);
      const res = await push(server.url, armorPackets([...owned.packets, ...foreign.packets]), bearer(alice.secret));
      expect(res.status).toBe(200);
      expect(res.json.inserted).toEqual([owned.fingerprint]);
      expect(res.json.rejected).toEqual([
        { fingerprint: foreign.fingerprint, reason: `key ${foreign.fingerprint} does not contain identity with email 'alice@example.org'` },
      ]);
    });

    it('accepts updates from a token of any e-mail on the stored key, refuses a token whose e-mail is not on it', async () => {
      const key = await makeKey([
        { name: 'Alice', email: 'alice@example.org' },
        { name: 'Carol', email: 'carol@example.org' },
      ]);
      expect((await push(server.url, key.armored, bearer(alice.secret))).json.inserted).toEqual([key.fingerprint]);
      // Dave's token may not add a user ID with Dave's address to a key that does not carry it yet.
      const withDave = await withUserIds(key, [
        { name: 'Alice', email: 'alice@example.org' },
        { name: 'Carol', email: 'carol@example.org' },
        { name: 'Dave', email: 'dave@example.org' },
      ]);
      const refused = await push(server.url, withDave.armored, bearer(dave.secret));
      expect(refused.status).toBe(403);
      expect(refused.json.error.message).toBe(`key ${key.fingerprint} does not contain identity with email 'dave@example.org'`);
      expect((await lookup(server.url, { op: 'get', search: 'dave@example.org', exact: 'on' })).status).toBe(404);
      // Carol's token may, and then Dave's may too; a revocation by Carol's token goes in as well.
      expect((await push(server.url, withDave.armored, bearer(carol.secret))).json.updated).toEqual([key.fingerprint]);
      expect((await lookup(server.url, { op: 'get', search: 'dave@example.org', exact: 'on' })).status).toBe(200);
      const revocation = await revoked(key);
      expect((await push(server.url, revocation.armored, bearer(carol.secret))).json.updated).toEqual([key.fingerprint]);
      const index = await lookup(server.url, { op: 'index', options: 'mr', search: `0x${key.fingerprint}` });
      expect(index.text).toMatch(new RegExp(`^pub:${key.fingerprint}:.*:r$`, 'm'));
      expect((await push(server.url, key.armored, bearer(dave.secret))).json.unchanged).toEqual([key.fingerprint]);

      const rows = await listAudit(server.database.db, { fingerprint: key.fingerprint });
      expect(rows.map((r) => [r.outcome, r.tokenId])).toEqual([
        ['inserted', alice.id],
        ['refused', dave.id],
        ['updated', carol.id],
        ['updated', carol.id],
        ['unchanged', dave.id],
      ]);
      expect(rows.every((r) => r.remoteAddress === '127.0.0.1' && r.source === 'http')).toBe(true);
      expect(rows[0]!.detail).toEqual({ added: { userIds: 2, subkeys: 1, signatures: expect.any(Number) } });
      expect(rows[2]!.detail).toMatchObject({ added: { userIds: 1, subkeys: 0 } });
      expect(rows[3]!.detail).toEqual({ added: { userIds: 0, subkeys: 0, signatures: 1 } });
      expect(rows[4]!.detail).toEqual({ added: { userIds: 0, subkeys: 0, signatures: 0 } });
    });

    it('refuses a re-push of a stored key as it is with a token whose e-mail is not on it (403), takes it unchanged with one that is', async () => {
      const key = await makeKey([{ name: 'Alice', email: 'alice@example.org' }]);
      expect((await push(server.url, key.armored, bearer(alice.secret))).json.inserted).toEqual([key.fingerprint]);
      const refused = await push(server.url, key.armored, bearer(dave.secret));
      expect(refused.status).toBe(403);
      expect(refused.json.error.message).toBe(`key ${key.fingerprint} does not contain identity with email 'dave@example.org'`);
      expect((await push(server.url, key.armored, bearer(alice.secret))).json.unchanged).toEqual([key.fingerprint]);
      const rows = await listAudit(server.database.db, { fingerprint: key.fingerprint });
      expect(rows.map((r) => [r.outcome, r.tokenId])).toEqual([
        ['inserted', alice.id],
        ['refused', dave.id],
        ['unchanged', alice.id],
      ]);
    });

    it("does not count a user ID with the token's e-mail that the key's owner did not sign", async () => {
      // Eve's key carries Alice's address only in a user ID self-signed by another key: it is not bound to Eve's key.
      const other = await makeKey([{ name: 'Alice', email: 'alice@example.org' }]);
      const key = await makeKey([{ name: 'Eve', email: 'eve@example.org' }]);
      const forged = [...key.packets, ...other.packets.slice(1, 3)];
      const res = await push(server.url, armorPackets(forged), bearer(alice.secret));
      expect(res.status).toBe(403);
      expect(res.json.error.message).toBe(`key ${key.fingerprint} does not contain identity with email 'alice@example.org'`);
    });

    it('records dropped components of an accepted push', async () => {
      const key = await makeKey([{ name: 'Alice', email: 'alice@example.org' }]);
      const stranger = await makeKey([{ name: 'Stranger', email: 'stranger@example.org' }]);
      const res = await push(server.url, armorPackets([...key.packets, ...stranger.packets.slice(1, 3)]), bearer(alice.secret));
      expect(res.json.inserted).toEqual([key.fingerprint]);
      const [row] = await listAudit(server.database.db, { fingerprint: key.fingerprint });
      expect(row!.detail['dropped']).toEqual([{ component: expect.stringContaining('Stranger'), reason: expect.stringMatching(/self-signature/) }]);
    });

    it('keeps audit rows append-only: the database refuses UPDATE, DELETE and TRUNCATE', async () => {
      const db = server.database.db;
      const before = await listAudit(db);
      expect(before.length).toBeGreaterThan(0);
      await expect(sql`delete from push_audit`.execute(db)).rejects.toThrow(/append-only/);
      await expect(sql`update push_audit set outcome = 'inserted' where outcome = 'refused'`.execute(db)).rejects.toThrow(/append-only/);
      await expect(sql`truncate push_audit`.execute(db)).rejects.toThrow(/append-only/);
      expect(await listAudit(db)).toEqual(before);
    });

    it('answers GET / with 200 for no credential or a valid one, 401 for an invalid one (keyserver login)', async () => {
      for (const authorization of [undefined, 'Bearer', bearer(alice.secret), basic(alice.secret)]) {
        const res = await get(server.url, '/', authorization);
        expect(res.status, authorization).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      }
      for (const authorization of [bearer('ks_wrong'), basic('ks_wrong'), 'Negotiate abc']) {
        const res = await get(server.url, '/', authorization);
        expect(res.status, authorization).toBe(401);
        expect(res.json.error.code).toBe(401);
      }
    });

    it('serves the remote configuration document naming this server as keystore and token service', async () => {
      const res = await get(server.url, '/assets/config/config.prod.json');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json).toEqual({ keystoreAPI: { uri: server.url }, tokenAPI: { uri: server.url } });
    });

    it('answers GET /v1/token-status 200 for a valid token, 404 ("Invalid Credentials" in Singularity) otherwise', async () => {
      const ok = await get(server.url, '/v1/token-status', bearer(carol.secret));
      expect(ok.status).toBe(200);
      expect(ok.json).toEqual({
        data: { status: 'valid', source: 'local', tokenId: carol.id, identity: 'carol@example.org', email: 'carol@example.org' },
      });
      const gone = await createToken(server.database.db, { email: 'gone@example.org' });
      await revokeToken(server.database.db, gone.id);
      for (const authorization of [undefined, 'Bearer', bearer('ks_wrong'), bearer(gone.secret)]) {
        const res = await get(server.url, '/v1/token-status', authorization);
        expect(res.status, authorization).toBe(404);
        expect(res.json.error.message, authorization).toMatch(/^access token not valid: /);
      }
    });

    it('leaves lookups, /version and /pks/health open', async () => {
      expect((await get(server.url, '/pks/lookup?op=index&options=mr&search=alice@example.org')).status).toBe(200);
      expect((await get(server.url, '/version')).status).toBe(200);
      expect((await get(server.url, '/pks/health')).status).toBe(200);
    });
  });

  describe('LOOKUP_POLICY=token', () => {
    let server: TestServer;
    let key: TestKey;
    let token: { id: string; secret: string };

    beforeAll(async () => {
      server = await startTestServer(backend, { LOOKUP_POLICY: 'token', PUBLIC_URL: 'https://keys.example.org/' });
      token = await createToken(server.database.db, { email: 'reader@example.org' });
      key = await makeKey([{ name: 'Private', email: 'private@example.org' }]);
      expect((await push(server.url, key.armored)).status).toBe(200);
    });
    afterAll(async () => {
      await server?.close();
    });

    it('answers every lookup 401 without a valid token, 200 with one', async () => {
      for (const op of ['get', 'index', 'vindex', 'stats']) {
        const path = `/pks/lookup?op=${op}&options=mr&search=0x${key.fingerprint}`;
        const denied = await get(server.url, path);
        expect(denied.status, op).toBe(401);
        expect(denied.json.error.message).toMatch(/^a valid access token is required to look up keys: /);
        expect((await get(server.url, path, bearer('ks_wrong'))).status, op).toBe(401);
        expect((await get(server.url, path, bearer(token.secret))).status, op).toBe(200);
      }
      const fetched = await get(server.url, `/pks/lookup?op=get&search=0x${key.fingerprint}`, basic(token.secret));
      expect(fetched.text).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    });

    it('leaves /version, /pks/health and the remote configuration open; the document names PUBLIC_URL', async () => {
      expect((await get(server.url, '/version')).status).toBe(200);
      expect((await get(server.url, '/pks/health')).status).toBe(200);
      const config = await get(server.url, '/assets/config/config.prod.json');
      expect(config.json).toEqual({ keystoreAPI: { uri: 'https://keys.example.org' }, tokenAPI: { uri: 'https://keys.example.org' } });
    });
  });
});
