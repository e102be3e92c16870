// Sequoia sq 0.27 (`sq keyserver -p insecure -s hkp://...`) against the real server: send, then get by
// fingerprint, long key ID, subkey ID and e-mail.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { e2eBackend, run, runOk, serverAnswer, tempDir } from './helpers/run.js';

describe(`sq against the server on ${e2eBackend}`, () => {
  let server: TestServer;
  let dir: string;
  let certFile: string;
  let fingerprint: string;
  let subkeys: string[];
  const email = 'sq.user@example.org';
  const userId = `Sq User <${email}>`;

  function sq(args: string[]) {
    return run('sq', args, { timeoutMs: 30_000 });
  }
  function keyserver(args: string[]) {
    return sq(['keyserver', '-p', 'insecure', '-s', `hkp://127.0.0.1:${server.port}`, ...args]);
  }
  /** Fingerprints that `sq inspect` reports for a certificate: the primary first, then the subkeys. */
  async function inspect(armored: string) {
    const file = join(dir, `inspect-${Math.random().toString(36).slice(2)}.asc`);
    await writeFile(file, armored);
    const out = (await runOk('sq', ['inspect', file])).stdout;
    return {
      text: out,
      fingerprints: [...out.matchAll(/Fingerprint: ([0-9A-F]{40})/g)].map((m) => m[1]!),
      subkeys: [...out.matchAll(/Subkey: ([0-9A-F]{40})/g)].map((m) => m[1]!),
    };
  }

  beforeAll(async () => {
    server = await startTestServer(e2eBackend);
    dir = await tempDir('e2e-sq-');
    const keyFile = join(dir, 'key.pgp');
    certFile = join(dir, 'cert.asc');
    await runOk('sq', ['key', 'generate', '--userid', userId, '--cipher-suite', 'cv25519', '--export', keyFile]);
    await runOk('sq', ['key', 'extract-cert', '--output', certFile, keyFile]);
    const inspected = await inspect(await readFile(certFile, 'utf8'));
    fingerprint = inspected.fingerprints[0]!;
    subkeys = inspected.subkeys;
    expect(fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(subkeys.length).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends a certificate made by sq', async () => {
    const sent = await keyserver(['send', certFile]);
    if (sent.code !== 0) {
      const replay = await serverAnswer(server.url, '/pks/add', { keytext: await readFile(certFile, 'utf8') });
      expect.fail(`sq keyserver send exited ${sent.code}: ${sent.stderr}\nthe server answers the same push with: ${replay}`);
    }
    // The server has it now: op=get by fingerprint answers 200.
    const res = await fetch(`${server.url}/pks/lookup?op=get&options=mr&search=0x${fingerprint}`);
    expect(res.status).toBe(200);
    // Sending it again is a success too.
    const again = await keyserver(['send', certFile]);
    expect(again.code, again.stderr).toBe(0);
  });

  async function expectGet(query: string) {
    const got = await keyserver(['get', query]);
    if (got.code !== 0) {
      const search = query.includes('@') ? encodeURIComponent(query) : `0x${query}`;
      const replay = await serverAnswer(server.url, `/pks/lookup?op=get&options=mr&search=${search}`);
      expect.fail(`sq keyserver get ${query} exited ${got.code}: ${got.stderr}\nthe server answers the same request with: ${replay}`);
    }
    expect(got.stdout).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(got.stdout.trimEnd().endsWith('-----END PGP PUBLIC KEY BLOCK-----')).toBe(true);
    const inspected = await inspect(got.stdout);
    expect(inspected.fingerprints[0], query).toBe(fingerprint);
    expect(inspected.subkeys.sort()).toEqual([...subkeys].sort());
    expect(inspected.text).toContain(`UserID: ${userId}`);
  }

  it('gets the certificate by fingerprint', async () => {
    await expectGet(fingerprint);
  });

  it('gets the certificate by long key ID', async () => {
    await expectGet(fingerprint.slice(-16));
  });

  it('gets the certificate by a subkey fingerprint', async () => {
    await expectGet(subkeys[0]!);
  });

  it('gets the certificate by e-mail', async () => {
    await expectGet(email);
  });

  it('writes the certificate to a file with --output, binary with -B', async () => {
    const out = join(dir, 'got.pgp');
    const got = await keyserver(['get', '--binary', '--output', out, fingerprint]);
    if (got.code !== 0) {
      const replay = await serverAnswer(server.url, `/pks/lookup?op=get&options=mr&search=0x${fingerprint}`);
      expect.fail(`sq keyserver get -B exited ${got.code}: ${got.stderr}\nthe server answers the same request with: ${replay}`);
    }
    const inspected = (await runOk('sq', ['inspect', out])).stdout;
    expect(inspected).toContain(`Fingerprint: ${fingerprint}`);
    expect(inspected).toMatch(/OpenPGP Certificate/);
  });

  it('reports a certificate that does not exist as not found', async () => {
    const got = await keyserver(['get', 'ABCDEF0123456789ABCDEF0123456789ABCDEF01']);
    expect(got.code).not.toBe(0);
    expect(got.stderr).toMatch(/not found/i);
  });
});
