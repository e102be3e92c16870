// Web Key Directory on every store: direct and advanced forms, policy files, the user-ID subset, which key an
// address gets; and, with PUSH_POLICY=token, addresses vouched for by a token (WKD, VKS by-email and upload).
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, revokeToken } from '../../src/cli/token.js';
import { wkdHashOfLocalPart } from '../../src/formats/wkdHash.js';
import { Tag, readPackets } from '../../src/openpgp/packets.js';
import { fetchText, pushKeys } from '../helpers/hkp.js';
import { rawRequest } from '../helpers/http.js';
import { fromPrivate, makeKey, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';
import { makeV6Key } from '../helpers/v6.js';

const DIRECT = '/.well-known/openpgpkey/hu/';

function direct(server: TestServer, local: string, domain: string, withL = true) {
  return rawRequest(server.url, `${DIRECT}${wkdHashOfLocalPart(local)}${withL ? `?l=${encodeURIComponent(local)}` : ''}`, { host: domain });
}

function advanced(server: TestServer, local: string, domain: string, host = `openpgpkey.${domain}`) {
  return rawRequest(server.url, `/.well-known/openpgpkey/${domain}/hu/${wkdHashOfLocalPart(local)}?l=${encodeURIComponent(local)}`, { host });
}

function userIdsOf(bytes: Buffer): string[] {
  return readPackets(bytes)
    .filter((p) => p.tag === Tag.userId)
    .map((p) => new TextDecoder().decode(p.body));
}

function fingerprintOf(bytes: Buffer): Promise<string> {
  return openpgp.readKey({ binaryKey: bytes }).then((k) => k.getFingerprint().toUpperCase());
}

describe.each(backends)('Web Key Directory on %s', (backend) => {
  let server: TestServer;
  let alice: TestKey;

  beforeAll(async () => {
    server = await startTestServer(backend, { WKD_DOMAINS: 'wkd.example, Second.Example' });
    const certifier = await makeKey([{ name: 'Certifier', email: 'certifier@elsewhere.example' }]);
    const own = await makeKey([
      { name: 'Alice', email: 'Alice.Smith@wkd.example' },
      { name: 'Alice', email: 'alice@elsewhere.example' },
    ]);
    // A third-party certification on every user ID, which the store keeps (its issuer is stored) and WKD leaves out.
    const certified = await own.publicKey.signAllUsers([certifier.privateKey]);
    alice = { ...own, publicKey: certified, armored: certified.armor(), packets: readPackets(certified.write()) };
    expect((await pushKeys(server.url, certifier.armored)).status).toBe(200);
    expect((await pushKeys(server.url, alice.armored)).json.inserted).toEqual([alice.fingerprint]);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves the key with only the address's user ID and its self-signatures, on the direct form, with or without l", async () => {
    for (const withL of [true, false]) {
      const res = await direct(server, 'Alice.Smith', 'wkd.example', withL);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(userIdsOf(res.body)).toEqual(['Alice <Alice.Smith@wkd.example>']);
      const packets = readPackets(res.body);
      // primary, user ID + its one self-signature (the certification left out), subkey + binding.
      expect(packets.map((p) => p.tag)).toEqual([Tag.publicKey, Tag.userId, Tag.signature, Tag.publicSubkey, Tag.signature]);
      const key = await openpgp.readKey({ binaryKey: res.body });
      expect(key.getFingerprint().toUpperCase()).toBe(alice.fingerprint);
      expect((await key.getPrimaryUser()).user.userID?.email).toBe('Alice.Smith@wkd.example');
      expect(await key.getEncryptionKey()).toBeDefined();
    }
    // The legacy and v2 paths still serve the whole key, certification included.
    const whole = await rawRequest(server.url, `/pks/v2/certs/by-vfingerprint/04${alice.fingerprint}`);
    expect(readPackets(whole.body).filter((p) => p.tag === Tag.signature)).toHaveLength(5);
  });

  it('serves the advanced form on openpgpkey.<domain> only, and policy files on both forms', async () => {
    const res = await advanced(server, 'alice.smith', 'wkd.example');
    expect(res.status).toBe(200);
    expect(await fingerprintOf(res.body)).toBe(alice.fingerprint);
    expect((await advanced(server, 'alice.smith', 'wkd.example', 'wkd.example')).status).toBe(404);
    for (const [path, host] of [
      ['/.well-known/openpgpkey/policy', 'wkd.example'],
      ['/.well-known/openpgpkey/policy', 'second.example:443'],
      ['/.well-known/openpgpkey/wkd.example/policy', 'openpgpkey.wkd.example'],
    ]) {
      const policy = await rawRequest(server.url, path!, { host: host! });
      expect(policy.status, `${host}${path}`).toBe(200);
      expect(policy.headers['access-control-allow-origin']).toBe('*');
    }
  });

  it('answers 404 for anything else', async () => {
    const hash = wkdHashOfLocalPart('alice.smith');
    const cases: [string, string][] = [
      [`${DIRECT}${hash}`, 'unknown.example'],
      [`${DIRECT}${hash}`, '127.0.0.1'],
      [`${DIRECT}${hash}`, 'second.example'],
      [`${DIRECT}${hash}?l=bob`, 'wkd.example'],
      [`${DIRECT}${hash.toUpperCase()}`, 'wkd.example'],
      [`${DIRECT}${hash.slice(1)}`, 'wkd.example'],
      [`${DIRECT}${wkdHashOfLocalPart('nobody')}?l=nobody`, 'wkd.example'],
      [`${DIRECT}${wkdHashOfLocalPart('alice')}?l=alice`, 'elsewhere.example'],
      ['/.well-known/openpgpkey/policy', 'unknown.example'],
      [`/.well-known/openpgpkey/unknown.example/hu/${hash}`, 'openpgpkey.unknown.example'],
      ['/.well-known/openpgpkey/unknown.example/policy', 'openpgpkey.unknown.example'],
      ['/.well-known/openpgpkey/submission-address', 'wkd.example'],
    ];
    for (const [path, host] of cases) {
      const res = await rawRequest(server.url, path, { host });
      expect(res.status, `${host}${path}`).toBe(404);
    }
  });

  it('gives an address the newest valid key: not a revoked or expired one; v6 keys too', async () => {
    const older = await makeKey([{ email: 'shared@second.example' }], new Date('2021-01-01T00:00:00Z'));
    const newer = await makeKey([{ email: 'shared@second.example' }], new Date('2024-01-01T00:00:00Z'));
    const { privateKey } = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ email: 'shared@second.example' }],
      format: 'object',
      date: new Date('2025-01-01T00:00:00Z'),
      keyExpirationTime: 3600,
    });
    const expired = fromPrivate(privateKey);
    for (const k of [older, newer, expired]) expect((await pushKeys(server.url, k.armored)).status).toBe(200);
    expect(await fingerprintOf((await direct(server, 'shared', 'second.example')).body)).toBe(newer.fingerprint);
    const { publicKey: revoked } = await openpgp.revokeKey({ key: newer.privateKey, format: 'object' });
    expect((await pushKeys(server.url, revoked.armor())).json.updated).toEqual([newer.fingerprint]);
    expect(await fingerprintOf((await direct(server, 'shared', 'second.example')).body)).toBe(older.fingerprint);
    const six = await makeV6Key([{ email: 'six@second.example' }]);
    expect((await pushKeys(server.url, six.armored)).status).toBe(200);
    const v6 = await direct(server, 'six', 'second.example');
    expect(v6.status).toBe(200);
    expect(await fingerprintOf(v6.body)).toBe(six.fingerprint);
  });

  it('needs a token for lookups with LOOKUP_POLICY=token, like /pks/lookup', async () => {
    const closed = await startTestServer(backend, { WKD_DOMAINS: 'wkd.example', LOOKUP_POLICY: 'token' });
    try {
      const res = await direct(closed, 'alice', 'wkd.example');
      expect(res.status).toBe(401);
      expect((await fetchText(`${closed.url}/vks/v1/by-email/a@wkd.example`)).status).toBe(401);
      expect((await fetchText(`${closed.url}/pks/v2/index/a@wkd.example`)).status).toBe(401);
      // The policy file says only that a directory is there.
      expect((await rawRequest(closed.url, '/.well-known/openpgpkey/policy', { host: 'wkd.example' })).status).toBe(200);
    } finally {
      await closed.close();
    }
  });
});

describe.each(backends)('addresses vouched for by tokens (PUSH_POLICY=token) on %s', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(backend, { WKD_DOMAINS: 'corp.example', PUSH_POLICY: 'token' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const upload = (keytext: string, secret?: string) =>
    fetchText(`${server.url}/vks/v1/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
      body: JSON.stringify({ keytext }),
    });

  it('serves an address only for keys pushed with a token of it; request-verify with one publishes it', async () => {
    const ann = await createToken(server.database.db, { email: 'ann@corp.example' });
    const ben = await createToken(server.database.db, { email: 'ben@corp.example' });
    const shared = await makeKey([
      { name: 'Ann', email: 'ann@corp.example' },
      { name: 'Ben', email: 'Ben@corp.example' },
    ]);

    const anonymous = await upload(shared.armored);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toEqual({ error: expect.stringMatching(/token/) });
    const v2 = await fetchText(`${server.url}/pks/v2/certs`, {
      method: 'POST',
      headers: { 'content-type': 'application/pgp-keys' },
      body: shared.armored,
    });
    expect(v2.status).toBe(401);
    expect(v2.headers.get('access-control-allow-origin')).toBe('*');

    const uploaded = await upload(shared.armored, ann.secret);
    expect(uploaded.status).toBe(200);
    expect(uploaded.json).toEqual({
      token: shared.fingerprint,
      key_fpr: shared.fingerprint,
      status: { 'ann@corp.example': 'published', 'ben@corp.example': 'unpublished' },
    });
    expect((await direct(server, 'ann', 'corp.example')).status).toBe(200);
    expect((await direct(server, 'ben', 'corp.example')).status).toBe(404);
    expect((await fetchText(`${server.url}/vks/v1/by-email/ann@corp.example`)).status).toBe(200);
    expect((await fetchText(`${server.url}/vks/v1/by-email/ben@corp.example`)).status).toBe(404);

    const withoutToken = await fetchText(`${server.url}/vks/v1/request-verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: uploaded.json.token, addresses: ['ben@corp.example'] }),
    });
    expect(withoutToken.status).toBe(401);
    const verified = await fetchText(`${server.url}/vks/v1/request-verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ben.secret}` },
      body: JSON.stringify({ token: uploaded.json.token, addresses: ['ben@corp.example'] }),
    });
    expect(verified.status).toBe(200);
    expect(verified.json.status).toEqual({ 'ann@corp.example': 'published', 'ben@corp.example': 'published' });
    const ben200 = await direct(server, 'Ben', 'corp.example');
    expect(ben200.status).toBe(200);
    expect(userIdsOf(ben200.body)).toEqual(['Ben <Ben@corp.example>']);

    // A revoked token no longer vouches for its address.
    await revokeToken(server.database.db, ann.id);
    expect((await direct(server, 'ann', 'corp.example')).status).toBe(404);
    expect((await direct(server, 'ben', 'corp.example')).status).toBe(200);
  });
});
