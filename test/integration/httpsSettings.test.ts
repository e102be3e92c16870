// Bad HTTPS settings stop the server at start with one message naming the variable (TLS_CERT_FILE, TLS_KEY_FILE),
// before any database is opened; a certificate near its end starts with a warning. Certificates from a test CA
// made with openssl (test/helpers/tls.ts).
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { loadCertificatePair } from '../../src/tls/certificates.js';
import { capturingLogger, startTestServer } from '../helpers/server.js';
import { TestCa, type IssuedCertificate } from '../helpers/tls.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('HTTPS settings checked at start', () => {
  let ca: TestCa;
  let good: IssuedCertificate;
  let other: IssuedCertificate;
  let dir: string;

  beforeAll(async () => {
    ca = await TestCa.create();
    good = await ca.issue('good');
    other = await ca.issue('other');
    dir = join(ca.dir, 'cases');
    await mkdir(dir);
  });
  afterAll(async () => {
    await ca?.remove();
  });

  async function file(name: string, content: string | Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  /** The ConfigError that starting with these files throws. */
  async function refusal(certFile: string, keyFile: string): Promise<string> {
    const error = await startTestServer('pglite', { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, HTTPS_PORT: '0' }).then(
      async (server) => {
        await server.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }

  it('refuses a missing file, a folder, and a file with no PEM certificate, naming TLS_CERT_FILE', async () => {
    const missing = join(dir, 'missing.pem');
    expect(await refusal(missing, good.keyFile)).toBe(`invalid TLS_CERT_FILE=${JSON.stringify(missing)}: no such file`);
    expect(await refusal(dir, good.keyFile)).toBe(`invalid TLS_CERT_FILE=${JSON.stringify(dir)}: is a directory, not a file`);
    // The key file given as the certificate, and random bytes.
    expect(await refusal(good.keyFile, good.keyFile)).toMatch(/^invalid TLS_CERT_FILE=".*": holds no PEM certificate/);
    const garbage = await file('garbage.pem', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)));
    expect(await refusal(garbage, good.keyFile)).toMatch(/^invalid TLS_CERT_FILE=".*garbage.pem": holds no PEM certificate/);
    const broken = await file('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(await refusal(broken, good.keyFile)).toMatch(/^invalid TLS_CERT_FILE=".*": certificate 1 of 1 is not a readable X.509 certificate$/);
  });

  it('refuses a missing or unreadable key, and a key of another certificate, naming TLS_KEY_FILE', async () => {
    const missing = join(dir, 'missing.key');
    expect(await refusal(good.certFile, missing)).toBe(`invalid TLS_KEY_FILE=${JSON.stringify(missing)}: no such file`);
    expect(await refusal(good.certFile, good.certFile)).toMatch(/^invalid TLS_KEY_FILE=".*": holds no readable private key/);
    const encrypted = join(dir, 'encrypted.key');
    await promisify(execFile)('openssl', ['pkcs8', '-topk8', '-in', good.keyFile, '-passout', 'pass:secret', '-out', encrypted]);
    expect(await readFile(encrypted, 'utf8')).toContain('ENCRYPTED PRIVATE KEY');
    expect(await refusal(good.certFile, encrypted)).toMatch(
      /^invalid TLS_KEY_FILE=".*encrypted.key": holds no readable private key .*not encrypted with a passphrase/,
    );
    expect(await refusal(good.certFile, other.keyFile)).toMatch(
      /^invalid TLS_KEY_FILE=".*other-2.key": the key does not belong to the first certificate of TLS_CERT_FILE \(CN=localhost\)/,
    );
  });

  it("refuses a chain written before the server's certificate", async () => {
    const reversed = await file('reversed.pem', Buffer.concat([await readFile(ca.caFile), await readFile(good.leafFile)]));
    expect(await refusal(reversed, good.keyFile)).toMatch(
      /^invalid TLS_KEY_FILE=".*good-1.key": the key belongs to certificate 2 of 2 in TLS_CERT_FILE, not the first: that file must hold the server's certificate first, then its chain$/,
    );
  });

  it('refuses an expired certificate, naming when it expired', async () => {
    const expired = await ca.issue('expired', { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2024-03-01T00:00:00Z') });
    expect(await refusal(expired.certFile, expired.keyFile)).toBe(
      `invalid TLS_CERT_FILE=${JSON.stringify(expired.certFile)}: the certificate (CN=localhost) expired on 2024-03-01T00:00:00.000Z`,
    );
    // The same check with the clock moved past the end of a good certificate.
    const later = new Date(Date.now() + 60 * 86_400_000);
    await expect(loadCertificatePair(good, later)).rejects.toThrow(/^invalid TLS_CERT_FILE=".*": the certificate \(CN=localhost\) expired on /);
  });

  it('starts with a certificate expiring within 14 days, with a warning line; not before 14 days', async () => {
    const soon = await ca.issue('soon', { notAfter: new Date(Date.now() + 3 * 86_400_000) });
    const lines: Record<string, unknown>[] = [];
    const server = await startTestServer(
      'pglite',
      { TLS_CERT_FILE: soon.certFile, TLS_KEY_FILE: soon.keyFile, HTTPS_PORT: '0' },
      capturingLogger(lines),
    );
    try {
      expect(server.httpsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const warnings = lines.filter((l) => l['level'] === 40);
      expect(warnings.map((l) => l['msg'])).toEqual([
        expect.stringMatching(/^the certificate in TLS_CERT_FILE expires in (2\.9|3\.0) days, on .*: renew it$/),
      ]);
    } finally {
      await server.close();
    }
    expect((await loadCertificatePair(good)).warnings).toEqual([]);
    const future = await ca.issue('future', { notBefore: new Date(Date.now() + 86_400_000) });
    expect((await loadCertificatePair(future)).warnings).toEqual([
      expect.stringMatching(/is not valid before .*: clients will refuse it until then$/),
    ]);
  });

  /** `keystore serve` as a process: its exit code and standard error. */
  function serve(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
        cwd: ROOT,
        env: { ...process.env, PORT: '0', HTTPS_PORT: '0', HOST: '127.0.0.1', DATA_DIR: 'memory://', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr, stdout });
      });
    });
  }

  it('keystore serve exits 2 with one line naming the variable, alone and as a cluster primary', { timeout: 120_000 }, async () => {
    const single = await serve({ TLS_CERT_FILE: good.certFile, TLS_KEY_FILE: other.keyFile });
    expect(single.code).toBe(2);
    expect(single.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^keystore: invalid TLS_KEY_FILE=".*other-2.key": the key does not belong/),
    ]);
    // The primary checks the files before forking (it never connects to this database).
    const primary = await serve({
      TLS_CERT_FILE: join(dir, 'absent.pem'),
      TLS_KEY_FILE: good.keyFile,
      WORKERS: '2',
      DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
    });
    expect(primary.code).toBe(2);
    expect(primary.stderr.trim().split('\n')).toEqual([`keystore: invalid TLS_CERT_FILE=${JSON.stringify(join(dir, 'absent.pem'))}: no such file`]);
    expect(primary.stdout).not.toContain('starting 2 workers');
    const port = await serve({ PORT: 'off' });
    expect(port.code).toBe(2);
    expect(port.stderr.trim()).toBe('keystore: invalid PORT="off": off serves nothing without HTTPS (set TLS_CERT_FILE and TLS_KEY_FILE)');
  });
});
