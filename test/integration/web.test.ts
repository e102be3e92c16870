// The web interface over plain HTTP (no JavaScript), on every backend: each page, its headers, downloads,
// uploads from the form, errors as pages for browsers, and valid HTML.
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/cli/token.js';
import { refreshFacts } from '../../src/services/factRefresh.js';
import { IdentifierFactsRepository } from '../../src/store/identifierFacts.js';
import { armoredPackets, fetchText, pushKeys } from '../helpers/hkp.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';
import { expectValidHtml } from '../helpers/validHtml.js';

const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const EVIL = '<script>alert(1)</script>';
const grouped = (fpr: string) => fpr.match(/.{4}/g)!.join(' ');

function expectPageHeaders(headers: Headers): void {
  const csp = headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('x-frame-options')).toBe('DENY');
  expect(headers.get('referrer-policy')).toBe('no-referrer');
}

/** Every src/href a page loads from (stylesheets, scripts, icons) is on this server. */
function expectNothingFromOutside(page: string): void {
  const loaded = [...page.matchAll(/<(?:link|script|img)\b[^>]*\s(?:href|src)="([^"]*)"/g)].map((m) => m[1]!);
  expect(loaded.length).toBeGreaterThan(0);
  for (const url of loaded) expect(url, url).toMatch(/^\/static\//);
  expect(page).not.toMatch(/@import|url\(http/);
}

function uploadForm(fields: Record<string, string | Blob>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
}

describe.each(backends)('web interface on %s', (backend) => {
  let server: TestServer;
  let alice: TestKey;
  let bob: TestKey;
  let evil: TestKey;
  const page = (path: string, init: RequestInit = {}) =>
    fetchText(`${server.url}${path}`, { ...init, headers: { ...BROWSER, ...(init.headers ?? {}) } });

  beforeAll(async () => {
    server = await startTestServer(backend, { SITE_NAME: 'Lab <Keys>', SITE_CONTACT: 'Ask it@lab.example' });
    alice = await makeKey([{ name: 'Alice Web', email: 'alice@web.example' }]);
    bob = await makeKey([{ name: 'Bob Certifier', email: 'bob@web.example' }]);
    evil = await makeKey([{ name: EVIL, email: 'evil@web.example' }]);
    await pushKeys(server.url, bob.armored);
    await pushKeys(server.url, alice.armored);
    // Certified by bob afterwards: an update, for the chart.
    const signed = await alice.publicKey.signAllUsers([bob.privateKey]);
    expect((await pushKeys(server.url, signed.armor())).status).toBe(200);
    await pushKeys(server.url, evil.armored);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves the front page with search, upload and commands for the request host, and the site settings', async () => {
    const res = await page('/');
    expect(res.status).toBe(200);
    expectPageHeaders(res.headers);
    expect(res.text).toContain('<title>Lab &lt;Keys&gt;</title>');
    expect(res.text).toContain('Ask it@lab.example');
    expect(res.text).toMatch(/<form method="post" action="\/upload" enctype="multipart\/form-data">/);
    const host = new URL(server.url).host;
    expect(res.text).toContain(`singularity keyserver add --order 1 keystore http://${host}`);
    expect(res.text).toContain(`keyserver hkp://${host}`);
    expectNothingFromOutside(res.text);
    await expectValidHtml(res.text, 'front page');
  });

  it('serves its stylesheet, script and icon itself, cacheable by content hash', async () => {
    const front = (await page('/')).text;
    for (const [path, type] of [
      [/href="(\/static\/keystore\.css\?v=\w+)"/, 'text/css'],
      [/src="(\/static\/keystore\.js\?v=\w+)"/, 'text/javascript'],
      [/href="(\/static\/favicon\.svg\?v=\w+)"/, 'image/svg+xml'],
    ] as const) {
      const url = (path.exec(front) ?? (await page(`/keys/${alice.fingerprint}`)).text.match(path))?.[1];
      expect(url, String(path)).toBeDefined();
      const res = await fetchText(`${server.url}${url}`);
      expect(res.status).toBe(200);
      expect(res.type).toContain(type);
      expect(res.headers.get('cache-control')).toContain('immutable');
      const again = await fetch(`${server.url}${url}`, { headers: { 'if-none-match': res.headers.get('etag')! } });
      expect(again.status).toBe(304);
    }
    expect((await fetchText(`${server.url}/static/nothing.css`)).status).toBe(404);
  });

  it('serves a page per key with fingerprint, facts, user IDs, signatures naming the issuer, subkeys and downloads', async () => {
    const res = await page(`/keys/${alice.fingerprint}`);
    expect(res.status).toBe(200);
    expectPageHeaders(res.headers);
    expect(res.text).toContain('<h1>Alice Web &lt;alice@web.example&gt;</h1>');
    expect(res.text).toContain(grouped(alice.fingerprint));
    expect(res.text).toContain(`data-copy="${alice.fingerprint}"`);
    expect(res.text).toContain('Ed25519 255');
    expect(res.text).toContain('certify, sign');
    expect(res.text).toContain('<span class="status valid">valid</span>');
    expect(res.text).toContain(`certification by <a href="/keys/${bob.fingerprint}">Bob Certifier &lt;bob@web.example&gt;</a>`);
    expect(res.text).toContain('positive certification by this key');
    const sub = alice.publicKey.getSubkeys()[0]!.getFingerprint().toUpperCase();
    expect(res.text).toContain(grouped(sub));
    expect(res.text).toMatch(/X25519 255[\s\S]*encrypt/);
    expect(res.text).toContain(`apptainer key pull --url ${server.url} ${alice.fingerprint}`);
    expectNothingFromOutside(res.text);
    await expectValidHtml(res.text, 'key page');
    // Lower case and 0x are accepted; a subkey's fingerprint leads to its key.
    expect((await page(`/keys/0x${alice.fingerprint.toLowerCase()}`)).text).toContain(grouped(alice.fingerprint));
    const viaSub = await fetch(`${server.url}/keys/${sub}`, { headers: BROWSER, redirect: 'manual' });
    expect(viaSub.status).toBe(302);
    expect(viaSub.headers.get('location')).toBe(`/keys/${alice.fingerprint}`);
  });

  it('shows facts of keys stored before they were derived once keystore refresh-facts has run', async () => {
    // As a key stored by an older version: no capabilities or revocation reasons recorded.
    await server.database.db.updateTable('key_identifiers').set({ capabilities: null }).execute();
    expect((await page(`/keys/${alice.fingerprint}`)).text).toContain('<dd class="caps">not recorded</dd>');
    const result = await refreshFacts(new IdentifierFactsRepository(server.database.db));
    expect(result).toEqual({ keys: 3, failed: 0 });
    const refreshed = (await page(`/keys/${alice.fingerprint}`)).text;
    expect(refreshed).toContain('<dd class="caps">certify, sign</dd>');
    expect(refreshed).toContain('<dd class="caps">encrypt</dd>');
  });

  it('escapes a user ID with markup everywhere it is shown', async () => {
    for (const path of [`/keys/${evil.fingerprint}`, '/keys', '/pks/lookup?op=vindex&search=evil%40web.example']) {
      const res = await page(path);
      expect(res.status, path).toBe(200);
      expect(res.text, path).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(res.text.toLowerCase(), path).not.toContain('<script>alert');
    }
  });

  it('downloads a key armored (.asc) and binary (.pgp), the packets as stored', async () => {
    const asc = await fetchText(`${server.url}/keys/${evil.fingerprint}.asc`);
    expect(asc.status).toBe(200);
    expect(asc.type).toBe('application/pgp-keys');
    expect(asc.headers.get('content-disposition')).toBe(`attachment; filename="${evil.fingerprint}.asc"`);
    const pgp = await fetch(`${server.url}/keys/${evil.fingerprint}.pgp`);
    expect(pgp.headers.get('content-type')).toBe('application/octet-stream');
    const binary = new Uint8Array(await pgp.arrayBuffer());
    const fromAsc = armoredPackets(asc.text);
    expect(fromAsc.length).toBeGreaterThan(2);
    const key = await openpgp.readKey({ binaryKey: binary });
    expect(key.getFingerprint().toUpperCase()).toBe(evil.fingerprint);
    expect((await openpgp.readKey({ armoredKey: asc.text })).getFingerprint().toUpperCase()).toBe(evil.fingerprint);
  });

  it('lists the keys newest first, a page at a time', async () => {
    const first = await page('/keys');
    expect(first.status).toBe(200);
    const order = [evil, alice, bob].map((k) => first.text.indexOf(grouped(k.fingerprint)));
    expect(order.every((i) => i > 0)).toBe(true);
    // Insertion order counts (alice's later update does not move her up): evil, alice, bob.
    expect(order).toEqual([...order].sort((a, b) => a - b));
    await expectValidHtml(first.text, 'listing');
    expect((await page('/keys?page=2')).status).toBe(404);
    const bad = await page('/keys?page=zero');
    expect(bad.status).toBe(400);
    expect(bad.type).toMatch(/^text\/html/);
  });

  it('pages through more keys than fit on one page', async () => {
    const more = await Promise.all(Array.from({ length: 25 }, (_, i) => makeKey([{ name: `Paged ${i}`, email: `paged${i}@web.example` }])));
    for (const key of more) expect((await pushKeys(server.url, key.armored)).status).toBe(200);
    const one = await page('/keys');
    expect(one.text).toContain('rel="next" href="/keys?page=2"');
    expect(one.text).toContain(grouped(more[24]!.fingerprint));
    const two = await page('/keys?page=2');
    expect(two.status).toBe(200);
    expect(two.text).toContain('rel="prev" href="/keys"');
    expect(two.text).not.toContain('rel="next"');
    expect(two.text).toContain(grouped(bob.fingerprint));
    await expectValidHtml(two.text, 'listing page 2');
  });

  it('shows statistics with the chart of the last 30 days, at /stats and for op=stats', async () => {
    for (const path of ['/stats', '/pks/lookup?op=stats']) {
      const res = await page(path);
      expect(res.status, path).toBe(200);
      expectPageHeaders(res.headers);
      expect(res.text).toContain('<svg class="chart"');
      expect(res.text.match(/<rect /g)).toHaveLength(60);
      const today = new Date().toISOString().slice(0, 10);
      expect(res.text).toMatch(new RegExp(`<title>${today}: [1-9]\\d* added, [1-9]\\d* updated</title>`));
      await expectValidHtml(res.text, path);
    }
  });

  it('answers errors with a page for a browser, and JSON for other clients', async () => {
    const missing = await page(`/keys/${'A'.repeat(40)}`);
    expect(missing.status).toBe(404);
    expect(missing.type).toMatch(/^text\/html/);
    expectPageHeaders(missing.headers);
    expect(missing.text).toContain(`no key with fingerprint ${'A'.repeat(40)} is stored here`);
    await expectValidHtml(missing.text, 'error page');
    const malformed = await page(`/keys/${encodeURIComponent(EVIL)}`);
    expect(malformed.status).toBe(400);
    expect(malformed.text).not.toContain('<script>alert');
    const nowhere = await page('/nowhere/<b>');
    expect(nowhere.status).toBe(404);
    expect(nowhere.text).toContain('no such resource');
    expect(nowhere.text).not.toContain('<b>');
    const lookupMiss = await page('/pks/lookup?op=index&search=nobody%40nowhere.example');
    expect(lookupMiss.status).toBe(404);
    expect(lookupMiss.type).toMatch(/^text\/html/);
    // curl, gpg and Singularity get JSON errors as before; so does a browser asking for mr.
    expect((await fetchText(`${server.url}/keys/${'A'.repeat(40)}`)).json).toEqual({
      error: { code: 404, reason: 'not_found', message: expect.any(String) },
    });
    expect((await page('/pks/lookup?op=index&options=mr&search=nobody%40nowhere.example')).type).toMatch(/^application\/json/);
  });

  it('publishes a key from the form, pasted or as a file, and says what became of it', async () => {
    const pasted = await makeKey([{ name: 'Pasted Person', email: 'pasted@web.example' }]);
    const res = await page('/upload', { method: 'POST', body: uploadForm({ keytext: pasted.armored, keyfile: new Blob([]) }) });
    expect(res.status).toBe(200);
    expectPageHeaders(res.headers);
    expect(res.text).toContain('added: new in the directory');
    expect(res.text).toContain(`href="/keys/${pasted.fingerprint}"`);
    await expectValidHtml(res.text, 'upload result');
    const again = await page('/upload', { method: 'POST', body: uploadForm({ keyfile: new Blob([new Uint8Array(pasted.publicKey.write())]) }) });
    expect(again.status).toBe(200);
    expect(again.text).toContain('unchanged: the directory had all of it already');
    expect((await page(`/keys/${pasted.fingerprint}`)).status).toBe(200);
  });

  it('shows why an upload was refused', async () => {
    const secret = await makeKey([{ name: 'Secret Person', email: 'secret@web.example' }]);
    const refused = await page('/upload', { method: 'POST', body: uploadForm({ keytext: secret.privateKey.armor() }) });
    expect(refused.status).toBe(422);
    expect(refused.type).toMatch(/^text\/html/);
    expect(refused.text).toContain('Nothing was published');
    expect(refused.text).toContain('secret key material is refused');
    await expectValidHtml(refused.text, 'refused upload');
    const junk = await page('/upload', { method: 'POST', body: uploadForm({ keytext: 'not a key' }) });
    expect(junk.status).toBe(400);
    expect(junk.type).toMatch(/^text\/html/);
    expect(junk.text).toContain('no OpenPGP key found');
    const empty = await page('/upload', { method: 'POST', body: uploadForm({ keytext: ' ' }) });
    expect(empty.status).toBe(400);
    expect(empty.text).toContain('paste an armored key or choose a key file');
    const both = await page('/upload', {
      method: 'POST',
      body: uploadForm({ keytext: secret.armored, keyfile: new Blob([new Uint8Array(secret.publicKey.write())]) }),
    });
    expect(both.status).toBe(400);
    expect(both.text).toContain('not both');
  });
});

describe.each(backends)('web upload with PUSH_POLICY=token on %s', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(backend, { PUSH_POLICY: 'token' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('asks for a token on the form and publishes only with a valid one for the key', async () => {
    const front = await fetchText(`${server.url}/`, { headers: BROWSER });
    expect(front.text).toContain('name="token"');
    const key = await makeKey([{ name: 'Token Person', email: 'token.person@web.example' }]);
    const post = (fields: Record<string, string>) =>
      fetchText(`${server.url}/upload`, { method: 'POST', headers: BROWSER, body: uploadForm(fields) });
    const without = await post({ keytext: key.armored });
    expect(without.status).toBe(401);
    expect(without.type).toMatch(/^text\/html/);
    expect(without.text).toContain('no token was given');
    expect((await post({ keytext: key.armored, token: 'ks_unknown' })).text).toContain('unknown or revoked');
    const other = await createToken(server.database.db, { email: 'someone.else@web.example' });
    const notOwned = await post({ keytext: key.armored, token: other.secret });
    expect(notOwned.status).toBe(403);
    expect(notOwned.text).toContain('does not contain identity with email');
    const own = await createToken(server.database.db, { email: 'token.person@web.example' });
    const ok = await post({ keytext: key.armored, token: own.secret });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('added: new in the directory');
  });
});
