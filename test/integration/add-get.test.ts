// POST /pks/add and GET /pks/lookup?op=get against the real app on every store.
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tag } from '../../src/openpgp/packets.js';
import { armoredPackets, lookup, pushKeys } from '../helpers/hkp.js';
import { armorPackets, makeKey, packetSet, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(backends)('add and get on %s', (backend) => {
  let server: TestServer;
  let alice: TestKey;

  beforeAll(async () => {
    server = await startTestServer(backend);
    alice = await makeKey([{ name: 'Alice Example', email: 'Alice@Example.org' }]);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('adds a new key, then reports it unchanged when pushed again', async () => {
    const first = await pushKeys(server.url, alice.armored);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ inserted: [alice.fingerprint], updated: [], unchanged: [], rejected: [] });
    const again = await pushKeys(server.url, alice.armored, { mr: false });
    expect(again.status).toBe(200);
    expect(again.text).toBe('0 key(s) added, 0 updated, 1 unchanged\n');
  });

  it('serves the key by fingerprint, long and short key ID, subkey ID, with or without 0x, any case', async () => {
    const subkeyFpr = alice.publicKey.getSubkeys()[0]!.getFingerprint().toUpperCase();
    const searches = [
      `0x${alice.fingerprint}`,
      alice.fingerprint.toLowerCase(),
      `0x${alice.fingerprint.slice(-16)}`,
      alice.fingerprint.slice(-16).toLowerCase(),
      `0x${alice.fingerprint.slice(-8)}`,
      `0x${subkeyFpr}`,
      `0x${subkeyFpr.slice(-16)}`,
      alice.fingerprint.match(/.{4}/g)!.join(' '),
    ];
    for (const search of searches) {
      const res = await lookup(server.url, { op: 'get', options: 'mr', search });
      expect(res.status, search).toBe(200);
      expect(res.type).toBe('application/pgp-keys');
      expect(res.text.endsWith('-----END PGP PUBLIC KEY BLOCK-----\n')).toBe(true);
      expect(packetSet(armoredPackets(res.text))).toEqual(packetSet(alice.packets));
    }
  });

  it('serves the key without options=mr (Singularity pull) and by e-mail with exact=on', async () => {
    const pull = await lookup(server.url, { exact: 'on', op: 'get', search: `0x${alice.fingerprint.toLowerCase()}` });
    expect(pull.status).toBe(200);
    expect(pull.text.startsWith('-----BEGIN PGP PUBLIC KEY BLOCK-----')).toBe(true);
    for (const search of ['alice@example.org', '<ALICE@example.org>']) {
      const res = await lookup(server.url, { op: 'get', options: 'mr', search, exact: 'on' });
      expect(res.status, search).toBe(200);
      expect(packetSet(armoredPackets(res.text))).toEqual(packetSet(alice.packets));
    }
  });

  it('answers 404 with a JSON error for a key that does not exist', async () => {
    const res = await lookup(server.url, { op: 'get', options: 'mr', search: '0x' + 'AB'.repeat(20) });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: { code: 404, reason: 'not_found', message: expect.any(String) } });
  });

  it('answers 400 for a malformed search, 501 for an unknown op, and sets CORS', async () => {
    const bad = await lookup(server.url, { op: 'get', search: '0x12345' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe(400);
    const missing = await lookup(server.url, { op: 'get' });
    expect(missing.status).toBe(400);
    const unknown = await lookup(server.url, { op: 'frobnicate', search: 'x' });
    expect(unknown.status).toBe(501);
    expect(unknown.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('returns all matches in one armor block', async () => {
    const a = await makeKey([{ name: 'Shared', email: 'shared@example.org' }]);
    const b = await makeKey([{ name: 'Shared Too', email: 'shared@example.org' }]);
    expect((await pushKeys(server.url, a.armored + '\n' + b.armored)).json.inserted).toHaveLength(2);
    const res = await lookup(server.url, { op: 'get', options: 'mr', search: 'shared@example.org' });
    expect(res.status).toBe(200);
    expect(res.text.match(/BEGIN PGP PUBLIC KEY BLOCK/g)).toHaveLength(1);
    const primaries = armoredPackets(res.text).filter((p) => p.tag === Tag.publicKey);
    expect(primaries).toHaveLength(2);
  });

  it('accepts binary key data and multipart/form-data', async () => {
    const key = await makeKey([{ email: 'binary@example.org' }]);
    const binary = await pushKeys(server.url, key.publicKey.write());
    expect(binary.json.inserted).toEqual([key.fingerprint]);
    const other = await makeKey([{ email: 'multipart@example.org' }]);
    const form = new FormData();
    form.set('keytext', other.armored);
    const res = await fetch(`${server.url}/pks/add`, { method: 'POST', body: form, headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect((await res.json()).inserted).toEqual([other.fingerprint]);
  });

  it('refuses secret keys with a message saying so, and stores nothing', async () => {
    const secret = await makeKey([{ email: 'secret@example.org' }]);
    const res = await pushKeys(server.url, secret.privateKey.armor());
    expect(res.status).toBe(422);
    expect(res.json.error.message).toMatch(/secret key/);
    expect(res.text).not.toContain('PRIVATE KEY');
    const get = await lookup(server.url, { op: 'get', search: `0x${secret.fingerprint}` });
    expect(get.status).toBe(404);
  });

  it('answers 400 for a missing keytext or data that holds no key, 413 for a body over the limit', async () => {
    const empty = await fetch(`${server.url}/pks/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'other=1',
    });
    expect(empty.status).toBe(400);
    const junk = await pushKeys(server.url, 'hello, this is not a key');
    expect(junk.status).toBe(400);
    expect(junk.json.error.code).toBe(400);
    const huge = await fetch(`${server.url}/pks/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'keytext=' + 'A'.repeat(9 * 1024 * 1024),
    });
    expect(huge.status).toBe(413);
  });

  it('refuses a key with no user ID', async () => {
    const key = await makeKey([{ email: 'nouid@example.org' }]);
    const withoutUserIds = key.packets.filter((p, i, all) => {
      // drop the user ID and the signatures that follow it (up to the subkey)
      const uidAt = all.findIndex((q) => q.tag === Tag.userId);
      const subAt = all.findIndex((q) => q.tag === Tag.publicSubkey);
      return !(i >= uidAt && i < subAt);
    });
    const res = await pushKeys(server.url, armorPackets(withoutUserIds));
    expect(res.status).toBe(422);
    expect(res.json.error.message).toMatch(/user ID/);
    expect(res.json.rejected[0].fingerprint).toBe(key.fingerprint);
  });

  it('serves the /version and /pks/health documents', async () => {
    const version = await (await fetch(`${server.url}/version`)).json();
    expect(version).toEqual({ data: { version: 'test' } });
    const health = await fetch(`${server.url}/pks/health`);
    expect(health.status).toBe(200);
  });

  it('never serves a v6 key on the legacy path but keeps it stored', async () => {
    const { privateKey } = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ email: 'v6@example.org' }],
      format: 'object',
      config: { v6Keys: true },
    });
    const pub = privateKey.toPublic();
    const res = await pushKeys(server.url, pub.armor());
    expect(res.status).toBe(200);
    expect(res.json.inserted).toEqual([pub.getFingerprint().toUpperCase()]);
    const get = await lookup(server.url, { op: 'get', search: `0x${pub.getFingerprint()}` });
    expect(get.status).toBe(404);
  });
});
