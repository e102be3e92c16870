// Every client over HTTPS served by keystore itself (TLS_CERT_FILE/TLS_KEY_FILE), with a certificate from a test CA
// made here with openssl, as an internal CA would issue it: gpg (hkps://, dirmngr's hkp-cacert), sq (the CA in
// SSL_CERT_FILE), curl (--cacert, HTTP/2 and HTTP/1.1) and the Singularity-protocol client with a token.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/cli/token.js';
import { fetchTrusting } from '../helpers/https.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { TestCa } from '../helpers/tls.js';
import { GpgHome } from './helpers/gpg.js';
import { e2eBackend, run, runOk, tempDir } from './helpers/run.js';
import { SingularityClient } from './helpers/singularityClient.js';
import * as openpgp from 'openpgp';

const MARK = '\n--curl-status--';

describe(`clients over HTTPS against the server on ${e2eBackend}`, () => {
  let ca: TestCa;
  let server: TestServer;
  let dir: string;
  const homes: GpgHome[] = [];
  /** The gpg key every part pushes and fetches. */
  let fingerprint: string;
  let keyFile: string;

  async function home(options: { hkps?: boolean; caFile?: string } = { caFile: ca.caFile }, port = server.httpsPort!): Promise<GpgHome> {
    const h = await GpgHome.create(port, options);
    homes.push(h);
    return h;
  }

  beforeAll(async () => {
    ca = await TestCa.create();
    const issued = await ca.issue('server');
    server = await startTestServer(e2eBackend, { TLS_CERT_FILE: issued.certFile, TLS_KEY_FILE: issued.keyFile, HTTPS_PORT: '0' });
    dir = await tempDir('e2e-https-');
    const owner = await home();
    fingerprint = (await owner.generateKey('Https Owner <https.owner@example.org>')).fingerprint;
    keyFile = join(dir, 'key.asc');
    await writeFile(keyFile, (await owner.gpgOk(['--export', '--armor', fingerprint])).stdout);
  });
  afterAll(async () => {
    await Promise.all(homes.splice(0).map((h) => h.close()));
    await server?.close();
    await ca?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gpg --keyserver hkps://: sends, receives and searches; the same key is served on hkp:// too', { timeout: 120_000 }, async () => {
    const sent = await homes[0]!.gpg(['--send-keys', fingerprint]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stderr).toMatch(/sending key .* to hkps:\/\/localhost\.:/);

    const receiver = await home();
    const received = await receiver.gpg(['--recv-keys', `0x${fingerprint}`]);
    expect(received.code, received.stderr).toBe(0);
    expect(received.stderr).toMatch(/imported: 1/);
    expect((await receiver.listKey(fingerprint))?.uids).toEqual(['Https Owner <https.owner@example.org>']);

    const searched = await receiver.gpg(['--with-colons', '--search-keys', 'https.owner@example.org']);
    expect(searched.stdout, searched.stderr).toContain(`pub:${fingerprint}:`);

    const plain = await home({}, server.port);
    const overHkp = await plain.gpg(['--recv-keys', `0x${fingerprint}`]);
    expect(overHkp.stderr).toMatch(/imported: 1/);
  });

  it('gpg refuses the server when it does not trust the CA', { timeout: 60_000 }, async () => {
    const untrusting = await home({ hkps: true });
    const received = await untrusting.gpg(['--recv-keys', `0x${fingerprint}`]);
    expect(received.code).not.toBe(0);
    expect(await untrusting.listKey(fingerprint)).toBeUndefined();
  });

  it("sq keyserver -s hkps://: sends and gets, trusting the CA through SSL_CERT_FILE (OpenSSL's variable)", async () => {
    const keyserver = (args: string[], env: Record<string, string>) =>
      run('sq', ['keyserver', '-s', `hkps://localhost:${server.httpsPort}`, ...args], { env, timeoutMs: 30_000 });
    const trusting = { SSL_CERT_FILE: ca.caFile };
    const sent = await keyserver(['send', keyFile], trusting);
    expect(sent.code, sent.stderr).toBe(0);
    const got = await keyserver(['get', fingerprint], trusting);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
    const inspected = await runOk('sq', ['inspect'], { input: got.stdout });
    expect(inspected.stdout).toContain(fingerprint);
    // The system's CAs do not include the test CA: without SSL_CERT_FILE sq must refuse.
    const untrusted = await keyserver(['get', fingerprint], { SSL_CERT_FILE: join(dir, 'no-such-ca.pem') });
    expect(untrusted.code).not.toBe(0);
  });

  /** curl -s with the status, HTTP version and headers after a marker. */
  async function curl(args: string[]) {
    const { stdout, code, stderr } = await run('curl', ['-s', '-D', '-', '--max-time', '20', '-w', `${MARK}%{http_code} %{http_version}`, ...args], {
      timeoutMs: 30_000,
    });
    const at = stdout.lastIndexOf(MARK);
    const [status, version] = stdout.slice(at + MARK.length).split(' ');
    const text = stdout.slice(0, at);
    const split = text.indexOf('\r\n\r\n');
    return { code, stderr, status: Number(status), version, headers: text.slice(0, split).toLowerCase(), body: text.slice(split + 4) };
  }

  it('curl --cacert: adds, gets and searches over HTTP/2 and HTTP/1.1, with Strict-Transport-Security', async () => {
    const base = `https://localhost:${server.httpsPort}`;
    const added = await curl(['--cacert', ca.caFile, '--data-urlencode', `keytext@${keyFile}`, `${base}/pks/add`]);
    expect(added.status, added.stderr).toBe(200);
    expect(added.version).toBe('2');
    expect(added.body).toMatch(/^0 key\(s\) added, 0 updated, 1 unchanged\n$|^1 key\(s\) added/);
    for (const http of [[], ['--http1.1']]) {
      const got = await curl(['--cacert', ca.caFile, ...http, `${base}/pks/lookup?op=get&options=mr&search=0x${fingerprint}`]);
      expect(got.status).toBe(200);
      expect(got.version).toBe(http.length ? '1.1' : '2');
      expect(got.headers).toContain('strict-transport-security: max-age=31536000');
      expect((await openpgp.readKey({ armoredKey: got.body })).getFingerprint().toUpperCase()).toBe(fingerprint);
      const index = await curl(['--cacert', ca.caFile, ...http, `${base}/pks/lookup?op=index&options=mr&search=https.owner@example.org`]);
      expect(index.body).toMatch(new RegExp(`^info:1:1\\npub:${fingerprint}:`));
    }
    // HSTS belongs to HTTPS answers only.
    const plain = await curl([`${server.url}/pks/lookup?op=get&options=mr&search=0x${fingerprint}`]);
    expect(plain.status).toBe(200);
    expect(plain.headers).not.toContain('strict-transport-security');
    // Without the CA curl refuses the certificate (exit 60).
    const untrusted = await curl([`${base}/pks/health`]);
    expect(untrusted.code).toBe(60);
  });
});

describe(`the Singularity-protocol client over HTTPS with a token (PUSH_POLICY=token) on ${e2eBackend}`, () => {
  let ca: TestCa;
  let server: TestServer;
  let client: SingularityClient;
  let token: string;
  let base: string;

  beforeAll(async () => {
    ca = await TestCa.create();
    const issued = await ca.issue('server');
    server = await startTestServer(e2eBackend, {
      TLS_CERT_FILE: issued.certFile,
      TLS_KEY_FILE: issued.keyFile,
      HTTPS_PORT: '0',
      PUSH_POLICY: 'token',
    });
    base = `https://localhost:${server.httpsPort}`;
    client = new SingularityClient(base, fetchTrusting(await readFile(ca.caFile)));
    token = (await createToken(server.database.db, { email: 'sing.tls@example.org' })).secret;
  });
  afterAll(async () => {
    await server?.close();
    await ca?.remove();
  });

  it('remote login reads https URLs from the configuration document; push, pull, search and status work there', async () => {
    const services = await client.remoteLogin(token);
    expect(services.get('keyserver')).toBe(base);
    expect(services.get('token')).toBe(base);
    const remote = new SingularityClient(services.get('keyserver')!, fetchTrusting(await readFile(ca.caFile)));
    const { privateKey } = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ name: 'Sing Tls', email: 'sing.tls@example.org' }],
      format: 'object',
    });
    const key = privateKey.toPublic();
    const fingerprint = key.getFingerprint().toUpperCase();
    expect((await remote.push(key.armor(), token)).status).toBe(200);
    expect((await remote.pull(fingerprint.toLowerCase())).getFingerprint().toUpperCase()).toBe(fingerprint);
    const found = await remote.search('sing.tls@example.org');
    expect(found.count).toBe(1);
    expect(found.body).toContain(`pub:${fingerprint}:`);
    expect(await remote.remoteStatus()).toBe('test');
    await expect(remote.keyserverLogin(token)).resolves.toBeUndefined();
  });

  it('refuses a push without the token over HTTPS too (401), and a wrong token at remote login', async () => {
    const { privateKey } = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ name: 'Sing Tls', email: 'sing.tls@example.org' }],
      format: 'object',
    });
    await expect(client.push(privateKey.toPublic().armor())).rejects.toMatchObject({ status: 401 });
    await expect(client.remoteLogin('ks_wrong')).rejects.toThrow('Invalid Credentials');
  });

  it('a client that does not trust the CA cannot connect', async () => {
    await expect(new SingularityClient(base).remoteStatus()).rejects.toThrow();
  });
});
