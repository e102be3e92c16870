// Running for years: /metrics, request ids, METRICS_PORT, graceful shutdown of the real process on SIGTERM,
// and the database stopped and started under a running server.
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UUID, lookup, pushKeys } from '../helpers/hkp.js';
import { makeKey } from '../helpers/keys.js';
import { createPrivatePostgres, postgresBinaries, type PrivatePostgres } from '../helpers/privatePostgres.js';
import { growth, sampleValue, scrape, type Sample } from '../helpers/prometheus.js';
import { backends, capturingLogger, startTestServer, type TestServer } from '../helpers/server.js';
import { isDatabaseUnavailable, openDatabase } from '../../src/store/database.js';
import { startServerProcess, type ServerProcess } from '../helpers/serverProcess.js';

const NO_SUCH_FINGERPRINT = '0x' + 'AB'.repeat(20);

describe.each(backends)('metrics and request ids on %s', (backend) => {
  let server: TestServer;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = await startTestServer(backend, {}, capturingLogger(logLines));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('counts requests by route name, method and status, never by raw URL, and times them', async () => {
    const before = await scrape(server.url);
    expect((await fetch(`${server.url}/version`)).status).toBe(200);
    expect((await lookup(server.url, { op: 'get', options: 'mr', search: NO_SUCH_FINGERPRINT })).status).toBe(404);
    expect((await lookup(server.url, { op: 'index', options: 'mr', search: 'nobody-here@example.org' })).status).toBe(404);
    expect((await lookup(server.url, { op: 'frobnicate', search: 'x' })).status).toBe(501);
    expect((await fetch(`${server.url}/secret-path-4711?search=alice`)).status).toBe(404);
    expect((await fetch(`${server.url}/pks/health`)).status).toBe(200);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).not.toContain('secret-path');
    expect(text).not.toContain('nobody-here');
    const after = await scrape(server.url);
    const requests = (labels: Record<string, string>) => growth(before, after, 'keystore_http_requests_total', labels);
    expect(requests({ route: 'version', method: 'GET', status: '200' })).toBe(1);
    expect(requests({ route: 'lookup:get', method: 'GET', status: '404' })).toBe(1);
    expect(requests({ route: 'lookup:index', method: 'GET', status: '404' })).toBe(1);
    expect(requests({ route: 'lookup:other', method: 'GET', status: '501' })).toBe(1);
    expect(requests({ route: 'other', method: 'GET', status: '404' })).toBe(1);
    expect(requests({ route: 'health', method: 'GET', status: '200' })).toBe(1);
    expect(requests({ route: 'metrics', method: 'GET', status: '200' })).toBe(2);
    expect(growth(before, after, 'keystore_http_request_duration_seconds_count', { route: 'lookup:get', method: 'GET' })).toBe(1);
    expect(
      sampleValue(after, 'keystore_http_request_duration_seconds_bucket', { route: 'lookup:get', method: 'GET', le: '+Inf' }),
    ).toBeGreaterThanOrEqual(1);
    // Process metrics of prom-client, on this instance's registry.
    expect(sampleValue(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sampleValue(after, 'keystore_build_info', { version: 'test' })).toBe(1);
  });

  it('counts keys inserted, then unchanged, and a secret key rejected with its reason code', async () => {
    const key = await makeKey([{ name: 'Metrics Example', email: `metrics-${backend}@example.org` }]);
    const keys = (before: Sample[], after: Sample[], outcome: string) => growth(before, after, 'keystore_keys_total', { outcome });
    const start = await scrape(server.url);
    expect((await pushKeys(server.url, key.armored)).status).toBe(200);
    const inserted = await scrape(server.url);
    expect(keys(start, inserted, 'inserted')).toBe(1);
    expect(keys(start, inserted, 'unchanged')).toBe(0);
    expect((await pushKeys(server.url, key.armored)).json).toMatchObject({ unchanged: [key.fingerprint] });
    const unchanged = await scrape(server.url);
    expect(keys(inserted, unchanged, 'unchanged')).toBe(1);
    expect(keys(inserted, unchanged, 'inserted')).toBe(0);

    const secret = await pushKeys(server.url, key.privateKey.armor());
    expect(secret.status).toBe(422);
    const rejected = await scrape(server.url);
    expect(keys(unchanged, rejected, 'rejected')).toBe(1);
    expect(growth(unchanged, rejected, 'keystore_keys_rejected_total', { reason: 'secret_key' })).toBe(1);
    expect(growth(unchanged, rejected, 'keystore_http_requests_total', { route: 'add', method: 'POST', status: '422' })).toBe(1);
    // The reason text (with its advice) is for the client, never a label.
    expect(rejected.some((s) => Object.values(s.labels).some((v) => v.includes('gpg --export')))).toBe(false);
  });

  it('reports database pool use on PostgreSQL only', async () => {
    const samples = await scrape(server.url);
    if (backend === 'postgresql') {
      expect(sampleValue(samples, 'keystore_db_pool_max_connections')).toBe(10);
      expect(sampleValue(samples, 'keystore_db_pool_connections')).toBeGreaterThanOrEqual(1);
      expect(sampleValue(samples, 'keystore_db_pool_idle_connections')).toBeGreaterThanOrEqual(0);
      expect(sampleValue(samples, 'keystore_db_pool_waiting_queries')).toBe(0);
    } else {
      expect(samples.some((s) => s.name.startsWith('keystore_db_pool_'))).toBe(false);
    }
  });

  it('echoes a sane X-Request-Id and logs it on the request line', async () => {
    const id = `client-req_1.2:${backend}`;
    const res = await fetch(`${server.url}/version`, { headers: { 'X-Request-Id': id } });
    expect(res.headers.get('x-request-id')).toBe(id);
    const line = logLines.find((l) => l['requestId'] === id);
    expect(line).toMatchObject({ msg: 'request', method: 'GET', path: '/version', status: 200 });
  });

  it('generates a new id when there is none or it is not sane, also on error responses', async () => {
    const plain = await fetch(`${server.url}/version`);
    const generated = plain.headers.get('x-request-id');
    expect(generated).toMatch(UUID);
    expect(logLines.some((l) => l['requestId'] === generated && l['path'] === '/version')).toBe(true);
    const again = await fetch(`${server.url}/version`);
    expect(again.headers.get('x-request-id')).toMatch(UUID);
    expect(again.headers.get('x-request-id')).not.toBe(generated);
    for (const insane of ['a'.repeat(129), 'has space', 'semi;colon', 'x<script>']) {
      const res = await fetch(`${server.url}/version`, { headers: { 'X-Request-Id': insane } });
      expect(res.headers.get('x-request-id'), insane).toMatch(UUID);
    }
    expect(logLines.some((l) => typeof l['requestId'] === 'string' && (l['requestId'] as string).includes('<'))).toBe(false);
    const missing = await fetch(`${server.url}/no-such-page`, { headers: { 'X-Request-Id': 'err-1' } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBe('err-1');
    expect(logLines.find((l) => l['requestId'] === 'err-1')).toMatchObject({ status: 404 });
  });
});

describe.each(backends)('METRICS_PORT on %s', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(backend, { METRICS_PORT: '0' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves /metrics on its own port and not on the main one', async () => {
    expect(server.metricsUrl).not.toBe(server.url);
    expect((await fetch(`${server.url}/version`)).status).toBe(200);
    const onMain = await fetch(`${server.url}/metrics`);
    expect(onMain.status).toBe(404);
    expect(await onMain.json()).toEqual({ error: { code: 404, reason: 'not_found', message: expect.any(String) } });
    const res = await fetch(`${server.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(UUID);
    const samples = await scrape(server.metricsUrl);
    // Requests to the main port are counted, including the 404 for /metrics there.
    expect(sampleValue(samples, 'keystore_http_requests_total', { route: 'version', method: 'GET', status: '200' })).toBe(1);
    expect(sampleValue(samples, 'keystore_http_requests_total', { route: 'metrics', method: 'GET', status: '404' })).toBe(1);
    expect(sampleValue(samples, 'keystore_http_requests_total', { route: 'metrics', method: 'GET', status: '200' })).toBe(1);
  });

  it('serves nothing else on the metrics port', async () => {
    expect((await fetch(`${server.metricsUrl}/version`)).status).toBe(404);
    expect((await fetch(`${server.metricsUrl}/pks/lookup?op=get&search=${NO_SUCH_FINGERPRINT}`)).status).toBe(404);
  });
});

/** Sends a POST whose body arrives in pieces; `between` runs after the first piece is sent. */
function slowPost(url: string, body: Buffer, headers: Record<string, string>, pieces: number, pauseMs: number, between: () => Promise<void>) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const size = Math.ceil(body.length / pieces);
    void (async () => {
      req.write(body.subarray(0, size));
      await between();
      for (let offset = size; offset < body.length; offset += size) {
        await sleep(pauseMs);
        req.write(body.subarray(offset, offset + size));
      }
      req.end();
    })().catch(reject);
  });
}

function tryConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
    socket.on('error', reject);
  });
}

describe('closing the server', () => {
  it('closes idle keep-alive connections at once', async () => {
    const server = await startTestServer('pglite');
    const agent = new http.Agent({ keepAlive: true });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(`${server.url}/version`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
      expect(status).toBe(200);
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(1); // kept alive, idle
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(2000); // not the 5 s keep-alive timeout
    } finally {
      agent.destroy();
    }
  });

  it('cuts off a request still in flight after SHUTDOWN_TIMEOUT_MS', async () => {
    const lines: Record<string, unknown>[] = [];
    const server = await startTestServer('pglite', { SHUTDOWN_TIMEOUT_MS: '300' }, capturingLogger(lines));
    const stalled = new Promise<string>((resolve) => {
      const req = http.request(`${server.url}/pks/add`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '1000' },
      });
      req.on('response', () => resolve('answered'));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.write('keytext='); // and never the rest
    });
    await sleep(300);
    const started = Date.now();
    await server.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3000);
    expect(await stalled).toBe('ECONNRESET');
    expect(lines.find((l) => l['level'] === 40)).toMatchObject({ msg: 'shutdown timeout: requests in flight were cut off', requests: 1 });
  });
});

describe('keystore serve stopped by SIGTERM', () => {
  let dir: string;
  let proc: ServerProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keystore-shutdown-'));
    proc = await startServerProcess({ DATA_DIR: join(dir, 'data'), SHUTDOWN_TIMEOUT_MS: '10000' });
  });
  afterAll(async () => {
    await proc?.stop(1000);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finishes the request in flight, refuses new connections, closes the database and exits 0', async () => {
    const key = await makeKey([{ name: 'Shutdown Example', email: 'shutdown@example.org' }]);
    const body = Buffer.from(new URLSearchParams({ keytext: key.armored }).toString());
    let signalledAt = 0;
    const res = await slowPost(
      `${proc.url}/pks/add?options=mr`,
      body,
      { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'slow-add' },
      8,
      200,
      async () => {
        await sleep(500); // the server has read the headers: the request is in flight
        signalledAt = Date.now();
        proc.child.kill('SIGTERM');
        await proc.waitForLog((l) => l['signal'] === 'SIGTERM');
        await expect(tryConnect(proc.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      },
    );
    expect(res.status, res.text).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ inserted: [key.fingerprint] });
    expect(res.headers['connection']).toBe('close');
    expect(Date.now() - signalledAt).toBeGreaterThan(1000); // the rest of the body came after the signal
    expect(await proc.exited).toBe(0);
    expect(proc.logs.find((l) => l['requestId'] === 'slow-add')).toMatchObject({ msg: 'request', path: '/pks/add', status: 200 });
    expect(proc.logs.some((l) => l['msg'] === 'stopped')).toBe(true);
    expect(proc.logs.some((l) => l['msg'] === 'shutdown timeout: requests in flight were cut off')).toBe(false);
  });
});

const pgBin = postgresBinaries();

describe.skipIf(!pgBin)('database stopped and started while keystore serve runs', () => {
  let pg: PrivatePostgres;
  let proc: ServerProcess;

  beforeAll(async () => {
    pg = await createPrivatePostgres(pgBin!);
    proc = await startServerProcess({ DATABASE_URL: pg.url, DB_POOL_SIZE: '4' });
  });
  afterAll(async () => {
    await proc?.stop();
    await pg?.destroy();
  });

  it('answers 503 with a JSON error while the database is down and recovers by itself', async () => {
    const key = await makeKey([{ name: 'Outage Example', email: 'outage@example.org' }]);
    const later = await makeKey([{ name: 'Outage Later', email: 'outage-later@example.org' }]);
    const get = (search: string) => lookup(proc.url, { op: 'get', options: 'mr', search });
    const health = async () => {
      const res = await fetch(`${proc.url}/pks/health`);
      return { status: res.status, json: (await res.json()) as unknown };
    };
    expect((await pushKeys(proc.url, key.armored)).status).toBe(200);
    expect((await get(`0x${key.fingerprint}`)).status).toBe(200);

    await pg.stop();
    const unavailable = { error: { code: 503, reason: 'unavailable', message: expect.any(String) } };
    // Several rounds: the first meets pooled connections the shutdown killed, the next ones a refused connect.
    for (let round = 0; round < 3; round++) {
      const answers = {
        get: await get(`0x${key.fingerprint}`),
        index: await lookup(proc.url, { op: 'index', options: 'mr', search: 'outage@example.org' }),
        stats: await lookup(proc.url, { op: 'stats', options: 'mr' }),
        add: await pushKeys(proc.url, later.armored),
        health: await health(),
      };
      for (const [name, answer] of Object.entries(answers)) {
        expect(answer.status, `${name} in round ${round}`).toBe(503);
        expect(answer.json, name).toEqual(unavailable);
      }
    }
    const down = await scrape(proc.url);
    expect(sampleValue(down, 'keystore_db_pool_max_connections')).toBe(4);
    expect(sampleValue(down, 'keystore_http_requests_total', { route: 'add', method: 'POST', status: '503' })).toBe(3);
    expect(proc.child.exitCode).toBeNull();

    await pg.start();
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline && (status = (await health()).status) !== 200) await sleep(250);
    expect(status).toBe(200);
    expect((await get(`0x${key.fingerprint}`)).status).toBe(200);
    expect((await get(NO_SUCH_FINGERPRINT)).status).toBe(404);
    expect((await pushKeys(proc.url, later.armored)).json).toMatchObject({ inserted: [later.fingerprint] });
    expect(proc.child.exitCode).toBeNull();
    // Every failure was recognised as the database being away: none became a 500.
    expect(proc.logs.filter((l) => l['msg'] === 'unhandled error')).toEqual([]);
  });

  it('survives a connection dying while checked out between queries (an error event with no query to take it)', async () => {
    const database = await openDatabase({ url: pg.url, dataDir: 'unused', poolSize: 2 });
    try {
      let failure: unknown;
      await database.db.connection().execute(async (conn) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn);
        await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(database.db);
        await sleep(300); // the client sees its connection end while no query runs on it
        failure = await sql`select 1`.execute(conn).then(
          () => undefined,
          (e: unknown) => e,
        );
      });
      expect(failure).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(failure)).toBe(true);
      expect((await sql<{ one: number }>`select 1 as one`.execute(database.db)).rows).toEqual([{ one: 1 }]);
    } finally {
      await database.close();
    }
  });
});
