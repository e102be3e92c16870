// Certificate renewal under load: `keystore serve` (two workers on PostgreSQL, else one process) answers a steady
// stream of HTTPS requests over new connections (HTTP/1.1 and HTTP/2) while its certificate is replaced the way
// certbot does it (symlinks in a live/ folder swapped to new files: the watcher), replaced in place and announced
// with SIGHUP, and replaced by a pair that does not match (refused). No request may fail, new connections must get
// each new certificate once it is logged as loaded, and a connection opened before keeps working.
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import http2 from 'node:http2';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest } from '../helpers/https.js';
import { createTestDatabase, type TestDatabase } from '../helpers/server.js';
import { startServerProcess, type ServerProcess } from '../helpers/serverProcess.js';
import { TestCa, type IssuedCertificate } from '../helpers/tls.js';
import { e2eBackend, tempDir } from './helpers/run.js';

const workers = e2eBackend === 'postgresql' ? 2 : 1;
const LOAD_LIMIT_MS = 60_000;

interface Outcome {
  startedAt: number;
  certificate: string | undefined;
  error: string | undefined;
}

async function fingerprintOf(issued: IssuedCertificate): Promise<string> {
  return new X509Certificate(await readFile(issued.leafFile)).fingerprint256;
}

/** Points `link` at `target` in one step, as certbot swaps the symlinks of its live/ folder. */
async function swapSymlink(target: string, link: string): Promise<void> {
  const temporary = `${link}.new`;
  await rm(temporary, { force: true });
  await symlink(target, temporary);
  await rename(temporary, link);
}

describe(`certificate renewal under load, ${workers} worker(s) on ${e2eBackend}`, () => {
  let ca: TestCa;
  let dir: string;
  let database: TestDatabase | undefined;
  let proc: ServerProcess;
  let caPem: Buffer;
  let base: string;
  const pairs: IssuedCertificate[] = [];

  beforeAll(async () => {
    ca = await TestCa.create();
    caPem = await readFile(ca.caFile);
    for (const label of ['first', 'renewed', 'mismatched', 'in-place']) pairs.push(await ca.issue(label));
    dir = await tempDir('e2e-renewal-');
    await mkdir(join(dir, 'archive'));
    await mkdir(join(dir, 'live'));
    await copyFile(pairs[0]!.certFile, join(dir, 'archive', 'fullchain1.pem'));
    await copyFile(pairs[0]!.keyFile, join(dir, 'archive', 'privkey1.pem'));
    await symlink('../archive/fullchain1.pem', join(dir, 'live', 'fullchain.pem'));
    await symlink('../archive/privkey1.pem', join(dir, 'live', 'privkey.pem'));
    database = e2eBackend === 'postgresql' ? await createTestDatabase('postgresql') : undefined;
    proc = await startServerProcess({
      ...(database ? { DATABASE_URL: database.url!, WORKERS: String(workers) } : { DATA_DIR: join(dir, 'data') }),
      TLS_CERT_FILE: join(dir, 'live', 'fullchain.pem'),
      TLS_KEY_FILE: join(dir, 'live', 'privkey.pem'),
      HTTPS_PORT: '0',
      RATE_LIMIT: 'off',
    });
    const started =
      workers > 1
        ? await proc.waitForLog((l) => l['msg'] === `all ${workers} workers listening`, 60_000)
        : proc.logs.find((l) => typeof l['httpsUrl'] === 'string')!;
    base = `https://localhost:${new URL(String(started['httpsUrl'])).port}`;
  });
  afterAll(async () => {
    await proc?.stop();
    await database?.drop();
    await ca?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Waits until `count` log lines (one per worker) match. */
  async function waitForLines(match: (line: Record<string, unknown>) => boolean, count = workers, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (proc.logs.filter(match).length < count) {
      if (Date.now() > deadline)
        throw new Error(`fewer than ${count} log lines matched within ${timeoutMs} ms: ${JSON.stringify(proc.logs.slice(-20))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const reloaded = (reason: string) => (l: Record<string, unknown>) =>
    l['reason'] === reason && String(l['msg']).startsWith('TLS certificate reloaded');

  it('keeps answering every request while the certificate is renewed three ways', { timeout: 120_000 }, async () => {
    const [first, renewed, mismatched, inPlace] = await Promise.all(pairs.map(fingerprintOf));
    const outcomes: Outcome[] = [];
    let stop = false;
    const loadStarted = Date.now();
    // Four clients, each a new connection per request: two over HTTP/1.1, two over HTTP/2.
    const client = async (n: number) => {
      for (let i = 0; !stop && Date.now() - loadStarted < LOAD_LIMIT_MS; i++) {
        const startedAt = Date.now();
        const path = i % 2 === 0 ? '/version' : '/pks/lookup?op=stats&options=mr';
        try {
          const answer = await httpsRequest(`${base}${path}`, { ca: caPem, http2: n % 2 === 1, headers: n % 2 === 1 ? {} : { connection: 'close' } });
          outcomes.push({ startedAt, certificate: answer.certificate, error: answer.status === 200 ? undefined : `status ${answer.status}` });
        } catch (e) {
          outcomes.push({ startedAt, certificate: undefined, error: e instanceof Error ? e.message : String(e) });
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(client));
    const seen = (certificate: string, after: number) => outcomes.some((o) => o.certificate === certificate && o.startedAt >= after);
    const until = async (condition: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    // A connection opened before any renewal, kept open (HTTP/2) to be used again at the end.
    const kept = http2.connect(base, { ca: caPem });
    kept.on('error', () => {});
    const keptAnswer = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const stream = kept.request({ ':path': path });
        let status = 0;
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('error', reject);
        stream.resume().on('end', () => resolve(status));
      });
    try {
      expect(await keptAnswer('/version')).toBe(200);
      await until(() => outcomes.filter((o) => o.certificate === first).length >= 20, 'requests with the first certificate');

      // 1. certbot: new files in archive/, then the live/ symlinks swapped one after the other (the pair briefly
      //    mismatches between the two swaps).
      await copyFile(pairs[1]!.certFile, join(dir, 'archive', 'fullchain2.pem'));
      await copyFile(pairs[1]!.keyFile, join(dir, 'archive', 'privkey2.pem'));
      await swapSymlink('../archive/fullchain2.pem', join(dir, 'live', 'fullchain.pem'));
      await swapSymlink('../archive/privkey2.pem', join(dir, 'live', 'privkey.pem'));
      await waitForLines(reloaded('file change'));
      const renewedAt = Date.now();
      await until(() => seen(renewed!, renewedAt), 'a request with the renewed certificate');

      // 2. A key that does not belong to the certificate: refused with a log line, the renewed pair stays.
      await copyFile(pairs[2]!.keyFile, join(dir, 'archive', 'privkey3.pem'));
      await swapSymlink('../archive/privkey3.pem', join(dir, 'live', 'privkey.pem'));
      await waitForLines((l) => String(l['msg']).startsWith('new TLS certificate refused') && String(l['err']).includes('TLS_KEY_FILE'));
      const refusedAt = Date.now();
      await until(() => outcomes.filter((o) => o.startedAt >= refusedAt && o.certificate === renewed).length >= 10, 'requests after the refusal');

      // 3. The files the symlinks point to rewritten in place (no change in the watched folder): SIGHUP.
      await copyFile(pairs[3]!.certFile, join(dir, 'archive', 'fullchain2.pem'));
      await copyFile(pairs[3]!.keyFile, join(dir, 'archive', 'privkey3.pem'));
      proc.child.kill('SIGHUP');
      await waitForLines(reloaded('SIGHUP'));
      const hupAt = Date.now();
      await until(
        () => outcomes.filter((o) => o.startedAt >= hupAt && o.certificate === inPlace).length >= 10,
        'requests with the certificate loaded on SIGHUP',
      );

      // The connection opened first still has the first certificate and is still answered.
      expect((kept.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(first);
      expect(await keptAnswer('/version')).toBe(200);

      stop = true;
      await load;
      const failed = outcomes.filter((o) => o.error !== undefined);
      expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
      expect(outcomes.length).toBeGreaterThan(50);
      expect(outcomes.some((o) => o.certificate === mismatched)).toBe(false);
      // Every connection made after a reload was logged got that certificate (or a later one).
      expect(outcomes.filter((o) => o.startedAt >= renewedAt && o.certificate === first)).toEqual([]);
      expect(outcomes.filter((o) => o.startedAt >= hupAt && o.certificate !== inPlace)).toEqual([]);
      expect(proc.child.exitCode).toBeNull();
      // With workers, every one of them answered HTTPS (each worker's request lines carry its id).
      const answeredBy = new Set(proc.logs.filter((l) => l['msg'] === 'request' && l['path'] === '/version').map((l) => l['worker']));
      expect(answeredBy.size).toBe(workers);
    } finally {
      stop = true;
      kept.close();
      await load;
    }
  });
});
