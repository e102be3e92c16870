// The real curl binary against the real server: add, get, index (machine-readable and HTML), stats, health.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { e2eBackend, runOk, tempDir } from './helpers/run.js';

const MARK = '\n--curl-status--';

interface CurlResult {
  status: number;
  contentType: string;
  body: string;
}

/** curl -s, with the status code and content type appended after a marker by -w. */
async function curl(args: string[]): Promise<CurlResult> {
  const { stdout } = await runOk('curl', ['-s', '--max-time', '20', '-w', `${MARK}%{http_code} %{content_type}`, ...args], { timeoutMs: 30_000 });
  const at = stdout.lastIndexOf(MARK);
  expect(at, stdout).toBeGreaterThanOrEqual(0);
  const [status, ...type] = stdout.slice(at + MARK.length).split(' ');
  return { status: Number(status), contentType: type.join(' '), body: stdout.slice(0, at) };
}

describe(`curl against the server on ${e2eBackend}`, () => {
  let server: TestServer;
  let dir: string;
  let keyFile: string;
  let fingerprint: string;
  const userId = 'Curl User <curl.user@example.org>';

  beforeAll(async () => {
    server = await startTestServer(e2eBackend);
    dir = await tempDir('e2e-curl-');
    const { privateKey } = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ name: 'Curl User', email: 'curl.user@example.org' }],
      format: 'object',
    });
    fingerprint = privateKey.getFingerprint().toUpperCase();
    keyFile = join(dir, 'key.asc');
    await writeFile(keyFile, privateKey.toPublic().armor());
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('adds a key with --data-urlencode keytext@FILE', async () => {
    const added = await curl(['--data-urlencode', `keytext@${keyFile}`, `${server.url}/pks/add`]);
    expect(added.status, added.body).toBe(200);
    expect(added.body).toBe('1 key(s) added, 0 updated, 0 unchanged\n');
    expect(added.contentType).toMatch(/^text\/plain/);
    const again = await curl(['--data-urlencode', `keytext@${keyFile}`, `${server.url}/pks/add?options=mr`]);
    expect(again.status, again.body).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ inserted: [], updated: [], unchanged: [fingerprint] });
  });

  it('refuses an add without keytext with a readable JSON error', async () => {
    const res = await curl(['--data', 'other=1', `${server.url}/pks/add`]);
    expect(res.status).toBe(400);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 400, reason: 'no_key_data', message: expect.any(String) } });
  });

  it('gets the key by fingerprint (op=get, options=mr)', async () => {
    const res = await curl([`${server.url}/pks/lookup?op=get&options=mr&search=0x${fingerprint}`]);
    expect(res.status, res.body).toBe(200);
    expect(res.contentType).toMatch(/^application\/pgp-keys/);
    expect(res.body.startsWith('-----BEGIN PGP PUBLIC KEY BLOCK-----\n')).toBe(true);
    expect(res.body.endsWith('-----END PGP PUBLIC KEY BLOCK-----\n')).toBe(true);
    const key = await openpgp.readKey({ armoredKey: res.body });
    expect(key.getFingerprint().toUpperCase()).toBe(fingerprint);
    expect(key.getUserIDs()).toEqual([userId]);
  });

  it('answers 404 with a JSON error for a key that does not exist', async () => {
    const res = await curl([`${server.url}/pks/lookup?op=get&options=mr&search=0x${'0123456789ABCDEF'.repeat(2)}01234567`]);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 404, reason: 'not_found', message: expect.any(String) } });
  });

  it('lists the key with op=index&options=mr', async () => {
    const res = await curl([`${server.url}/pks/lookup?op=index&options=mr&fingerprint=on&search=curl.user%40example.org`]);
    expect(res.status, res.body).toBe(200);
    expect(res.contentType).toMatch(/^text\/plain/);
    const lines = res.body.split('\n').filter((l) => l !== '');
    expect(lines[0]).toBe('info:1:1');
    const pub = lines[1]!.split(':');
    expect(pub).toHaveLength(7);
    expect(pub[0]).toBe('pub');
    expect(pub[1]).toBe(fingerprint);
    expect(pub[2]).toMatch(/^\d+$/);
    expect(pub[4]).toMatch(/^\d+$/);
    expect(pub[5]).toBe('');
    expect(pub[6]).toBe('');
    const uid = lines[2]!.split(':');
    expect(uid[0]).toBe('uid');
    expect(decodeURIComponent(uid[1]!)).toBe(userId);
    expect(uid[2]).toMatch(/^\d+$/);
  });

  it('serves an HTML index page to a browser (Accept: text/html, no mr)', async () => {
    const res = await curl([
      '-H',
      'Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
      `${server.url}/pks/lookup?op=index&fingerprint=on&search=curl.user%40example.org`,
    ]);
    expect(res.status, res.body).toBe(200);
    expect(res.contentType).toMatch(/^text\/html/);
    expect(res.body.toLowerCase()).toContain('<!doctype html>');
    expect(res.body.replace(/\s|&nbsp;/g, '').toUpperCase()).toContain(fingerprint);
    expect(res.body).toContain('Curl User &lt;curl.user@example.org&gt;');
    expect(res.body).not.toContain('<curl.user@example.org>');
  });

  it('answers plain curl (no mr, no Accept: text/html) with text, not HTML', async () => {
    const res = await curl([`${server.url}/pks/lookup?op=index&search=curl.user%40example.org`]);
    expect(res.status, res.body).toBe(200);
    expect(res.contentType).not.toMatch(/html/);
    expect(res.body.startsWith('<')).toBe(false);
  });

  it('serves statistics with op=stats&options=mr', async () => {
    const res = await curl([`${server.url}/pks/lookup?op=stats&options=mr`]);
    expect(res.status, res.body).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    const stats = JSON.parse(res.body) as Record<string, unknown>;
    expect(stats['totalKeys']).toBeGreaterThanOrEqual(1);
  });

  it('reports health on /pks/health', async () => {
    const res = await curl([`${server.url}/pks/health`]);
    expect(res.status, res.body).toBe(200);
  });

  it('answers 501 for an unknown op and sets CORS on /pks/', async () => {
    const res = await curl([`${server.url}/pks/lookup?op=frobnicate&search=x`]);
    expect(res.status).toBe(501);
    const headers = await curl(['-D', '-', '-o', '/dev/null', `${server.url}/pks/health`]);
    expect(headers.body.toLowerCase()).toContain('access-control-allow-origin: *');
  });
});
