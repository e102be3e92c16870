// HKP v2 (/pks/v2/) on every store: lookups of v4 and v6 keys, the index JSON, the prefix log, pushes, CORS,
// OPTIONS, HEAD and bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPackets, writePackets } from '../../src/openpgp/packets.js';
import { fetchText, lookup, pushKeys } from '../helpers/hkp.js';
import { makeKey, packetSet, withUserIds, type TestKey } from '../helpers/keys.js';
import { Tag } from '../../src/openpgp/packets.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';
import { makeV6Key } from '../helpers/v6.js';

async function getBytes(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

describe.each(backends)('HKP v2 on %s', (backend) => {
  let server: TestServer;
  let alice: TestKey;
  let six: TestKey;

  beforeAll(async () => {
    server = await startTestServer(backend);
    alice = await makeKey([
      { name: 'Alice Vee', email: 'alice@v2.example' },
      { name: 'Alice at work', email: 'alice@work.example' },
    ]);
    six = await makeV6Key([{ name: 'Sixtine', email: 'Sixtine@v2.example' }]);
    expect((await pushKeys(server.url, alice.armored)).status).toBe(200);
    expect((await pushKeys(server.url, six.armored)).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves v4 and v6 keys by versioned fingerprint (both forms, any case) and by subkey fingerprint', async () => {
    const sixFpr = six.fingerprint;
    expect(sixFpr).toHaveLength(64);
    const cases: [string, TestKey][] = [
      [`04/${alice.fingerprint}`, alice],
      [`04/${alice.fingerprint.toLowerCase()}`, alice],
      [`04${alice.fingerprint}`, alice],
      [`06/${sixFpr.toLowerCase()}`, six],
      [`06${sixFpr}`, six],
      [`04/${alice.publicKey.getSubkeys()[0]!.getFingerprint()}`, alice],
      [`06/${six.publicKey.getSubkeys()[0]!.getFingerprint()}`, six],
    ];
    for (const [path, key] of cases) {
      const res = await getBytes(`${server.url}/pks/v2/certs/by-vfingerprint/${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/pgp');
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${key.fingerprint.toLowerCase()}.pgp"`);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(packetSet(readPackets(res.bytes))).toEqual(packetSet(key.packets));
    }
    // gallagher-10 clients ask for application/pgp-keys;armor=no.
    const old = await getBytes(`${server.url}/pks/v2/certs/by-vfingerprint/04${alice.fingerprint}`, {
      headers: { accept: 'application/pgp-keys;armor=no' },
    });
    expect(old.headers.get('content-type')).toBe('application/pgp-keys; armor=no');
  });

  it('serves v4 keys by key ID (primary or subkey), never v6 ones', async () => {
    for (const keyId of [alice.fingerprint.slice(-16), alice.publicKey.getSubkeys()[0]!.getKeyID().toHex()]) {
      const res = await getBytes(`${server.url}/pks/v2/certs/by-keyid/${keyId}`);
      expect(res.status, keyId).toBe(200);
      expect(packetSet(readPackets(res.bytes))).toEqual(packetSet(alice.packets));
    }
    const v6 = await fetchText(`${server.url}/pks/v2/certs/by-keyid/${six.fingerprint.slice(0, 16)}`);
    expect(v6.status).toBe(404);
    expect(v6.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('serves keys by identity: e-mail (any case, with or without <>) or the whole user ID', async () => {
    const cases: [string, TestKey][] = [
      ['alice@work.example', alice],
      ['<ALICE@v2.example>', alice],
      ['Alice Vee <alice@v2.example>', alice],
      ['sixtine@v2.example', six],
    ];
    for (const [identity, key] of cases) {
      const res = await getBytes(`${server.url}/pks/v2/certs/by-identity/${encodeURIComponent(identity)}`);
      expect(res.status, identity).toBe(200);
      expect(packetSet(readPackets(res.bytes))).toEqual(packetSet(key.packets));
    }
    expect((await fetchText(`${server.url}/pks/v2/certs/by-identity/Alice%20Vee`)).status).toBe(404);
    expect((await fetchText(`${server.url}/pks/v2/certs/by-identity/nobody@v2.example`)).status).toBe(404);
  });

  it("lists keys in the index as JSON with the draft's and Hockeypuck's fields", async () => {
    const res = await fetchText(`${server.url}/pks/v2/index/sixtine@v2.example`);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/json/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const [entry] = res.json as any[];
    const created = six.publicKey
      .getCreationTime()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    expect(entry).toMatchObject({
      version: 6,
      fingerprint: six.fingerprint.toLowerCase(),
      longKeyID: six.fingerprint.slice(0, 16).toLowerCase(),
      algorithm: { code: 27, name: 'Ed25519', bitLength: 255 },
      creation: created,
      revoked: false,
      userIDs: [{ uidString: 'Sixtine <Sixtine@v2.example>', keywords: 'Sixtine <Sixtine@v2.example>', confidence: 0, isRevoked: false }],
    });
    expect(entry.expiration).toBeUndefined();
    expect(entry.subkeys).toEqual([
      expect.objectContaining({ version: 6, fingerprint: six.publicKey.getSubkeys()[0]!.getFingerprint(), isRevoked: false }),
    ]);
    const v4 = await fetchText(`${server.url}/pks/v2/index/${alice.fingerprint}`);
    expect(v4.json.map((k: any) => [k.version, k.fingerprint, k.userIDs.length])).toEqual([[4, alice.fingerprint.toLowerCase(), 2]]);
    expect((await fetchText(`${server.url}/pks/v2/index/nobody@v2.example`)).status).toBe(404);
  });

  it('lists the fingerprint prefixes of the keys changed on a day, CRLF-terminated', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const res = await fetchText(`${server.url}/pks/v2/prefixlog/${today}`);
    expect(res.status).toBe(200);
    expect(res.text.endsWith('\r\n')).toBe(true);
    const lines = res.text.split('\r\n').slice(0, -1);
    expect(lines).toEqual(expect.arrayContaining([alice.fingerprint.slice(0, 8).toLowerCase(), six.fingerprint.slice(0, 8).toLowerCase()]));
    expect(lines.every((l) => /^[0-9a-f]{8}$/.test(l))).toBe(true);
    const empty = await fetchText(`${server.url}/pks/v2/prefixlog/2001-01-01`);
    expect([empty.status, empty.text]).toEqual([200, '']);
  });

  it("takes pushes as binary or keytext and answers the draft's JSON, under the limits of /pks/add", async () => {
    const bob = await makeKey([{ name: 'Bob', email: 'bob@v2.example' }]);
    const first = await fetchText(`${server.url}/pks/v2/certs`, {
      method: 'POST',
      headers: { 'content-type': 'application/pgp' },
      body: new Uint8Array(writePackets(bob.packets)),
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('access-control-allow-origin')).toBe('*');
    expect(first.json).toEqual({ inserted: [{ version: 4, fingerprint: bob.fingerprint.toLowerCase() }], updated: [], ignored: [], invalid: [] });
    const again = await fetchText(`${server.url}/pks/v2/certs`, {
      method: 'POST',
      headers: { 'content-type': 'application/pgp-keys;armor=no' },
      body: new Uint8Array(writePackets(bob.packets)),
    });
    expect(again.json.ignored).toEqual([{ version: 4, fingerprint: bob.fingerprint.toLowerCase() }]);
    const carol = await makeV6Key([{ email: 'carol@v2.example' }]);
    const form = await fetchText(`${server.url}/pks/v2/certs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ keytext: carol.armored }).toString(),
    });
    expect(form.json.inserted).toEqual([{ version: 6, fingerprint: carol.fingerprint.toLowerCase() }]);
    expect((await getBytes(`${server.url}/pks/v2/certs/by-identity/carol@v2.example`)).status).toBe(200);
    // v6 keys stay off the legacy path.
    expect((await lookup(server.url, { op: 'get', options: 'mr', search: 'carol@v2.example' })).status).toBe(404);
  });

  it('validates and merges v6 keys like v4 ones: a new user ID merges in, a forged one is dropped', async () => {
    const more = await withUserIds(six, [
      { name: 'Sixtine', email: 'Sixtine@v2.example' },
      { name: 'Sixtine', email: 'sixtine@new.example' },
    ]);
    const merged = await fetchText(`${server.url}/pks/v2/certs`, {
      method: 'POST',
      headers: { 'content-type': 'application/pgp-keys' },
      body: more.armored,
    });
    expect(merged.json.updated).toEqual([{ version: 6, fingerprint: six.fingerprint.toLowerCase() }]);
    const served = readPackets((await getBytes(`${server.url}/pks/v2/certs/by-identity/sixtine@new.example`)).bytes);
    expect(
      served
        .filter((p) => p.tag === Tag.userId)
        .map((p) => new TextDecoder().decode(p.body))
        .sort(),
    ).toEqual(['Sixtine <Sixtine@v2.example>', 'Sixtine <sixtine@new.example>']);
    // A user ID carrying the signature of another user ID does not verify: dropped and said so, never stored.
    const at = six.packets.findIndex((p) => p.tag === Tag.userId);
    const forged = [six.packets[0]!, { tag: Tag.userId, body: new TextEncoder().encode('Mallory <mallory@v2.example>') }, six.packets[at + 1]!];
    expect(forged[2]!.tag).toBe(Tag.signature);
    const res = await fetchText(`${server.url}/pks/v2/certs`, {
      method: 'POST',
      headers: { 'content-type': 'application/pgp' },
      body: new Uint8Array(writePackets(forged)),
    });
    expect(res.status).toBe(200);
    expect(res.json.ignored).toEqual([{ version: 6, fingerprint: six.fingerprint.toLowerCase(), comment: expect.stringContaining('Mallory') }]);
    expect((await fetchText(`${server.url}/pks/v2/certs/by-identity/mallory@v2.example`)).status).toBe(404);
  });

  it('answers unusable pushes with 4xx, CORS and each key listed as invalid', async () => {
    const noUid = await makeKey([{ email: 'gone@v2.example' }]);
    const primaryOnly = writePackets([noUid.packets[0]!]);
    const refused = await fetchText(`${server.url}/pks/v2/certs`, {
      method: 'POST',
      headers: { 'content-type': 'application/pgp' },
      body: new Uint8Array(primaryOnly),
    });
    expect(refused.status).toBe(422);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    expect(refused.json.invalid).toEqual([
      expect.objectContaining({ version: 4, fingerprint: noUid.fingerprint.toLowerCase(), comment: expect.any(String) }),
    ]);
    expect(refused.json.error.code).toBe(422);
    for (const [type, body] of [
      ['application/pgp', 'junk'],
      ['application/x-www-form-urlencoded', 'other=1'],
      ['image/png', 'x'],
    ] as const) {
      const res = await fetchText(`${server.url}/pks/v2/certs`, { method: 'POST', headers: { 'content-type': type }, body });
      expect(res.status, type).toBeGreaterThanOrEqual(400);
      expect(res.status, type).toBeLessThan(500);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    }
  });

  it('answers OPTIONS with Allow and CORS, GET /pks/add with 405, HEAD as GET', async () => {
    for (const [path, methods] of [
      ['/pks/lookup', 'GET'],
      ['/pks/add', 'POST'],
      ['/pks/v2/certs', 'POST'],
      [`/pks/v2/certs/by-vfingerprint/04${alice.fingerprint}`, 'GET'],
      ['/vks/v1/upload', 'POST'],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://page.example', 'access-control-request-method': methods },
      });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('allow'), path).toContain(methods);
      expect(res.headers.get('access-control-allow-origin'), path).toBe('*');
      expect(res.headers.get('access-control-allow-methods'), path).toContain(methods);
      expect(res.headers.get('access-control-allow-headers'), path).toMatch(/content-type/i);
    }
    const add = await fetch(`${server.url}/pks/add`);
    expect(add.status).toBe(405);
    expect(add.headers.get('allow')).toContain('POST');
    const url = `${server.url}/pks/v2/certs/by-vfingerprint/06${six.fingerprint}`;
    const [head, get] = [await fetch(url, { method: 'HEAD' }), await fetch(url)];
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
    expect(head.headers.get('content-type')).toBe('application/pgp');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it('refuses malformed requests with 400 (CORS included), never 5xx', async () => {
    const paths = [
      `/pks/v2/certs/by-vfingerprint/05/${alice.fingerprint}`,
      `/pks/v2/certs/by-vfingerprint/04/${alice.fingerprint.slice(1)}`,
      `/pks/v2/certs/by-vfingerprint/06/${alice.fingerprint}`,
      `/pks/v2/certs/by-vfingerprint/04${'G'.repeat(40)}`,
      '/pks/v2/certs/by-vfingerprint/04',
      `/pks/v2/certs/by-keyid/${alice.fingerprint.slice(-15)}`,
      `/pks/v2/certs/by-keyid/0x${alice.fingerprint.slice(-16)}`,
      '/pks/v2/certs/by-identity/%01x',
      '/pks/v2/certs/by-identity/%20',
      `/pks/v2/certs/by-identity/${'a'.repeat(5000)}`,
      '/pks/v2/index/%01',
      '/pks/v2/index/0x123',
      '/pks/v2/prefixlog/2026-13-01',
      '/pks/v2/prefixlog/2026-02-29',
      '/pks/v2/prefixlog/yesterday',
      '/pks/v2/prefixlog/%ZZ',
    ];
    for (const path of paths) {
      const res = await fetchText(`${server.url}${path}`);
      expect(res.status, path).toBe(400);
      expect(res.headers.get('access-control-allow-origin'), path).toBe('*');
      expect(res.json?.error?.message, path).toEqual(expect.any(String));
    }
  });
});
