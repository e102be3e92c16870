// VKS v1 (/vks/v1/, as keys.openpgp.org) on every store: lookups, upload, request-verify, errors as Hagrid's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePackets } from '../../src/openpgp/packets.js';
import { armoredPackets, fetchText, pushKeys } from '../helpers/hkp.js';
import { makeKey, packetSet, type TestKey } from '../helpers/keys.js';
import { backends, capturingLogger, startTestServer, type TestServer } from '../helpers/server.js';
import { makeV6Key } from '../helpers/v6.js';

function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetchText(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe.each(backends)('VKS v1 on %s', (backend) => {
  let server: TestServer;
  let vera: TestKey;
  let six: TestKey;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = await startTestServer(backend, {}, capturingLogger(logLines));
    vera = await makeKey([{ name: 'Vera', email: 'vera@vks.example' }]);
    six = await makeV6Key([{ name: 'Six', email: 'six@vks.example' }]);
    expect((await pushKeys(server.url, vera.armored)).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('uploads a key (armored or base64) and answers its token, fingerprint and addresses published', async () => {
    const armored = await postJson(`${server.url}/vks/v1/upload`, { keytext: six.armored });
    expect(armored.status).toBe(200);
    expect(armored.json).toEqual({ token: six.fingerprint, key_fpr: six.fingerprint, status: { 'six@vks.example': 'published' } });
    const base64 = await postJson(`${server.url}/vks/v1/upload`, { keytext: Buffer.from(writePackets(vera.packets)).toString('base64') });
    expect(base64.json).toEqual({ token: vera.fingerprint, key_fpr: vera.fingerprint, status: { 'vera@vks.example': 'published' } });
  });

  it('serves one armored key by fingerprint, key ID (primary or subkey) and e-mail, v6 included', async () => {
    const subkey = vera.publicKey.getSubkeys()[0]!;
    const cases: [string, TestKey][] = [
      [`by-fingerprint/${vera.fingerprint}`, vera],
      [`by-fingerprint/${subkey.getFingerprint().toUpperCase()}`, vera],
      [`by-keyid/${vera.fingerprint.slice(-16)}`, vera],
      [`by-keyid/${subkey.getKeyID().toHex().toUpperCase()}`, vera],
      ['by-email/vera%40vks.example', vera],
      ['by-email/VERA@vks.example', vera],
      [`by-fingerprint/${six.fingerprint}`, six],
      [`by-keyid/${six.fingerprint.slice(0, 16)}`, six],
      ['by-email/six@vks.example', six],
    ];
    for (const [path, key] of cases) {
      const res = await fetchText(`${server.url}/vks/v1/${path}`);
      expect(res.status, path).toBe(200);
      expect(res.type).toBe('application/pgp-keys');
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(packetSet(armoredPackets(res.text))).toEqual(packetSet(key.packets));
    }
  });

  it('answers plain-text 400 and 404 for lookups, as Hagrid', async () => {
    const cases: [string, number][] = [
      [`by-fingerprint/${vera.fingerprint.toLowerCase()}`, 400],
      [`by-fingerprint/0x${vera.fingerprint}`, 400],
      [`by-fingerprint/${vera.fingerprint.slice(2)}`, 400],
      [`by-keyid/${vera.fingerprint.slice(-16).toLowerCase()}`, 400],
      ['by-keyid/ABC', 400],
      ['by-email/not-an-address', 400],
      ['by-email/a%20b@c', 400],
      [`by-fingerprint/${'A'.repeat(40)}`, 404],
      [`by-keyid/${'A'.repeat(16)}`, 404],
      ['by-email/nobody@vks.example', 404],
    ];
    for (const [path, status] of cases) {
      const res = await fetchText(`${server.url}/vks/v1/${path}`);
      expect(res.status, path).toBe(status);
      expect(res.type, path).toBe('text/plain; charset=utf-8');
      expect(res.text.length, path).toBeGreaterThan(3);
      expect(res.text.startsWith('{'), path).toBe(false);
    }
  });

  it('answers request-verify with the status and what keystore does instead of mailing', async () => {
    const res = await postJson(`${server.url}/vks/v1/request-verify`, { token: vera.fingerprint, addresses: ['vera@vks.example'] });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token: vera.fingerprint, key_fpr: vera.fingerprint, status: { 'vera@vks.example': 'published' } });
    expect(res.json.note).toMatch(/no verification e-mail/);
    expect((await postJson(`${server.url}/vks/v1/request-verify`, { token: 'A'.repeat(40), addresses: [] })).status).toBe(404);
  });

  it('refuses bad uploads with 4xx and a JSON error', async () => {
    const other = await makeKey([{ email: 'other@vks.example' }]);
    const cases: [unknown, string | undefined, number][] = [
      ['{not json', undefined, 400],
      [{}, undefined, 400],
      [{ keytext: 42 }, undefined, 400],
      [{ keytext: '!!! not base64 !!!' }, undefined, 400],
      [{ keytext: 'AAAA' }, undefined, 400],
      [{ keytext: vera.armored + '\n' + other.armored }, undefined, 400],
      [{ keytext: Buffer.from(writePackets([other.packets[0]!])).toString('base64') }, undefined, 422],
      [{ keytext: vera.armored }, 'text/plain', 415],
      [{ token: 'x' }, undefined, 400],
    ];
    for (const [body, type, status] of cases) {
      const path = body && typeof body === 'object' && 'token' in body ? 'request-verify' : 'upload';
      const res = await postJson(`${server.url}/vks/v1/${path}`, body, type ? { 'content-type': type } : {});
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(status);
      expect(res.json, JSON.stringify(body).slice(0, 60)).toEqual({ error: expect.any(String) });
    }
    // Nothing of the refused two-key upload was stored.
    expect((await fetchText(`${server.url}/vks/v1/by-email/other@vks.example`)).status).toBe(404);
  });

  it('logs address lookups by their route, never the address', async () => {
    expect((await fetchText(`${server.url}/vks/v1/by-email/vera@vks.example`)).status).toBe(200);
    expect((await fetchText(`${server.url}/pks/v2/index/vera@vks.example`)).status).toBe(200);
    const requests = logLines.filter((l) => l['msg'] === 'request');
    expect(requests.map((l) => l['path'])).toEqual(expect.arrayContaining(['/vks/v1/by-email/:email', '/pks/v2/index/:identity']));
    expect(JSON.stringify(logLines)).not.toContain('vera@vks.example');
  });
});
