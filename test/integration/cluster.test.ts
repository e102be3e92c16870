// keystore serve with WORKERS=2 on PostgreSQL: a primary and two workers sharing the port, /metrics summed over
// the workers, and SIGTERM stopping them all.
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushKeys } from '../helpers/hkp.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { sampleValue, scrape } from '../helpers/prometheus.js';
import { createTestDatabase, type TestDatabase } from '../helpers/server.js';
import { startServerProcess, type ServerProcess } from '../helpers/serverProcess.js';

/** The keystore processes whose parent is `pid` (Linux /proc), so tools such as tsx's esbuild do not count. */
function keystoreChildren(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('main.ts')) children.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return children.sort((a, b) => a - b);
}

function numbers(values: unknown[]): number[] {
  return values.map(Number).sort((a, b) => a - b);
}

function isRunning(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); // a zombie has ended
  } catch {
    return false;
  }
}

/** GET over a new connection that the request closes (`Connection: close`), as many HKP clients do. */
function getClosing(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (chunk: string) => (body += chunk))
        .on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

describe.skipIf(!process.env['TEST_DATABASE_URL'])('keystore serve with WORKERS=2 on PostgreSQL', () => {
  let database: TestDatabase;
  let proc: ServerProcess;
  let workerPids: number[];
  let key: TestKey;

  beforeAll(async () => {
    database = await createTestDatabase('postgresql');
    proc = await startServerProcess({ DATABASE_URL: database.url!, WORKERS: '2', RATE_LIMIT: 'off' });
    await proc.waitForLog((l) => l['msg'] === 'all 2 workers listening', 60_000);
    key = await makeKey([{ name: 'Cluster Example', email: 'cluster@example.org' }]);
  });
  afterAll(async () => {
    await proc?.stop();
    await database?.drop();
  });

  it('runs two worker processes under the primary, each logged once as listening', () => {
    workerPids = keystoreChildren(proc.child.pid!);
    expect(workerPids).toHaveLength(2);
    const listening = proc.logs.filter((l) => typeof l['workerPid'] === 'number' && String(l['msg']).includes('listening on'));
    expect(numbers(listening.map((l) => l['workerPid']))).toEqual(workerPids);
  });

  it('serves a pushed key over many new connections from both workers, and counts every lookup once in /metrics', async () => {
    expect((await pushKeys(proc.url, key.armored)).json).toMatchObject({ inserted: [key.fingerprint] });
    expect((await getClosing(`${proc.url}/pks/health`)).status).toBe(200);
    const url = `${proc.url}/pks/lookup?op=get&options=mr&search=0x${key.fingerprint}`;
    const servedBy = () => new Set(proc.logs.filter((l) => l['msg'] === 'request' && l['path'] === '/pks/lookup').map((l) => l['pid']));
    let sent = 0;
    // Batches of 8 at once until both workers have answered (the kernel picks the worker): usually the first batch.
    while (sent < 400 && (sent < 40 || servedBy().size < 2)) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => getClosing(url)));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.body).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
      }
      sent += answers.length;
    }
    await proc.waitForLog(() => proc.logs.filter((l) => l['msg'] === 'request' && l['path'] === '/pks/lookup').length === sent);
    expect(numbers([...servedBy()])).toEqual(workerPids);

    // Each scrape is answered by one worker or the other; every one gives the sum over both.
    for (let i = 0; i < 4; i++) {
      const samples = await scrape(proc.url);
      expect(sampleValue(samples, 'keystore_http_requests_total', { route: 'lookup:get', method: 'GET', status: '200' })).toBe(sent);
      expect(sampleValue(samples, 'keystore_http_request_duration_seconds_count', { route: 'lookup:get', method: 'GET' })).toBe(sent);
      expect(sampleValue(samples, 'keystore_http_requests_total', { route: 'add', method: 'POST', status: '200' })).toBe(1);
      expect(sampleValue(samples, 'keystore_keys_total', { outcome: 'inserted' })).toBe(1);
      expect(sampleValue(samples, 'keystore_build_info')).toBe(1);
      // DB_POOL_SIZE (10) is the server's total: 5 per worker.
      expect(sampleValue(samples, 'keystore_db_pool_max_connections')).toBe(10);
    }
  });

  it('gives up at once, exiting 1, when the workers cannot listen (port in use): no fork loop', async () => {
    const second = startServerProcess({ DATABASE_URL: database.url!, WORKERS: '2', PORT: String(proc.port) });
    await expect(second).rejects.toThrow(/server exited \(1\)[\s\S]*EADDRINUSE[\s\S]*before listening: giving up/);
  });

  it('restarts a worker that dies', async () => {
    const [victim, survivor] = workerPids;
    process.kill(victim!, 'SIGKILL');
    const restarted = await proc.waitForLog(
      (l) => String(l['msg']).includes('listening on') && ![victim, survivor].includes(l['workerPid'] as number),
    );
    expect(proc.logs.find((l) => l['workerPid'] === victim && String(l['msg']).includes('killed by SIGKILL; restarting it in'))).toBeDefined();
    workerPids = numbers([survivor, restarted['workerPid']]);
    expect(keystoreChildren(proc.child.pid!)).toEqual(workerPids);
    for (let i = 0; i < 8; i++) expect((await getClosing(`${proc.url}/pks/health`)).status).toBe(200);
    const samples = await scrape(proc.url);
    expect(sampleValue(samples, 'keystore_db_pool_max_connections')).toBe(10);
  });

  it('stops the primary and both workers on SIGTERM, exiting 0', async () => {
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    for (const pid of workerPids) expect(isRunning(pid), `worker ${pid}`).toBe(false);
    const exits = proc.logs.filter((l) => typeof l['workerPid'] === 'number' && String(l['msg']).includes('exited with code 0'));
    expect(numbers(exits.map((l) => l['workerPid']))).toEqual(workerPids);
    expect(proc.logs.filter((l) => l['msg'] === 'stopped')).toHaveLength(2);
    expect(proc.logs.some((l) => l['msg'] === 'stopped: all workers have exited')).toBe(true);
  });
});
