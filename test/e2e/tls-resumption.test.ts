// TLS session resumption across cluster workers: `keystore serve` with two workers on PostgreSQL shares one
// session-ticket key (made by the primary), so a client that resumes (TLS 1.3 tickets, a new connection per
// request) resumes on whichever worker its connection reaches — also after a certificate reload, where node
// would give each worker new random keys. Each worker's own key would make every connection that reaches
// another worker than the one that made the session a full handshake.
import { copyFile, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/server.js';
import { startServerProcess, type ServerProcess } from '../helpers/serverProcess.js';
import { TestCa } from '../helpers/tls.js';
import { tempDir } from './helpers/run.js';

const WORKERS = 2;

describe.skipIf(!process.env['TEST_DATABASE_URL'])('TLS session resumption with two workers', () => {
  let ca: TestCa;
  let dir: string;
  let database: TestDatabase;
  let proc: ServerProcess;
  let caPem: Buffer;
  let base: string;
  let certFile: string;
  let keyFile: string;

  beforeAll(async () => {
    ca = await TestCa.create();
    caPem = await readFile(ca.caFile);
    const pair = await ca.issue('resumption');
    dir = await tempDir('e2e-resume-');
    // Copies, rewritten in place for the reload.
    certFile = join(dir, 'fullchain.pem');
    keyFile = join(dir, 'privkey.pem');
    await copyFile(pair.certFile, certFile);
    await copyFile(pair.keyFile, keyFile);
    database = await createTestDatabase('postgresql');
    proc = await startServerProcess({
      DATABASE_URL: database.url!,
      WORKERS: String(WORKERS),
      TLS_CERT_FILE: certFile,
      TLS_KEY_FILE: keyFile,
      HTTPS_PORT: '0',
      RATE_LIMIT: 'off',
    });
    const started = await proc.waitForLog((l) => l['msg'] === `all ${WORKERS} workers listening`, 60_000);
    base = `https://localhost:${new URL(String(started['httpsUrl'])).port}`;
  }, 120_000);
  afterAll(async () => {
    await proc?.stop();
    await database?.drop();
    await ca?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Bursts of parallel new connections through one session-caching agent (as node's, curl's and browsers' clients). */
  async function resumingBursts(label: string): Promise<{ id: string; resumed: boolean; status: number }[]> {
    const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 10 });
    const fetchOne = (id: string) =>
      new Promise<{ id: string; resumed: boolean; status: number }>((resolve, reject) => {
        const request = https.request(
          `${base}/version`,
          { headers: { connection: 'close', 'x-request-id': id }, ca: caPem, agent, timeout: 10_000 },
          (response) => {
            response.resume();
            response.on('end', () => resolve({ id, resumed: (response.socket as TLSSocket).isSessionReused(), status: response.statusCode! }));
          },
        );
        request.on('timeout', () => request.destroy(new Error('timeout')));
        request.on('error', reject);
        request.end();
      });
    const first = await fetchOne(`${label}-first`);
    expect(first.resumed).toBe(false);
    const answers = [];
    // Parallel connections, so that the kernel hands some to each worker.
    for (let burst = 0; burst < 6; burst++) {
      answers.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => fetchOne(`${label}-${burst}-${i}`)))));
    }
    agent.destroy();
    return answers;
  }

  async function expectResumedOnEveryWorker(answers: { id: string; resumed: boolean; status: number }[]): Promise<void> {
    expect(answers.every((a) => a.status === 200)).toBe(true);
    // Each worker writes its log lines in blocks: wait for all of them.
    for (const a of answers) await proc.waitForLog((l) => l['requestId'] === a.id, 10_000);
    const workerOf = new Map(proc.logs.filter((l) => typeof l['requestId'] === 'string').map((l) => [l['requestId'], l['worker']]));
    // Both workers served some of them (else the test would not show anything) ...
    expect(new Set(answers.map((a) => workerOf.get(a.id))).size).toBe(WORKERS);
    // ... and every connection resumed, whichever worker had made the session.
    expect(answers.filter((a) => !a.resumed).map((a) => `${a.id} on worker ${workerOf.get(a.id)}`)).toEqual([]);
  }

  it('resumes sessions made by one worker on the other', async () => {
    await expectResumedOnEveryWorker(await resumingBursts('resume'));
  }, 60_000);

  it('still does after a certificate reload (SIGHUP)', async () => {
    const renewed = await ca.issue('renewed');
    await copyFile(renewed.certFile, certFile);
    await copyFile(renewed.keyFile, keyFile);
    const reloads = () => proc.logs.filter((l) => l['reason'] === 'SIGHUP' && String(l['msg']).startsWith('TLS certificate reloaded')).length;
    proc.child.kill('SIGHUP');
    const deadline = Date.now() + 20_000;
    while (reloads() < WORKERS) {
      if (Date.now() > deadline) throw new Error('the workers did not log the reload');
      await new Promise((r) => setTimeout(r, 50));
    }
    await expectResumedOnEveryWorker(await resumingBursts('reloaded'));
  }, 60_000);
});
