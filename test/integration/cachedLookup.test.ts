// Cached lookups answered in front of the Koa app (src/http/hkp/cachedLookup.ts): the same bytes, headers,
// log line, metrics and rate limit as the app's, never a stale answer, and everything the fast path must not
// answer (pages for browsers, HEAD, LOOKUP_POLICY=token) still answered by the app. The servers run in this
// process, so the requests reaching the app are counted by spying on Koa's createContext.
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { createToken } from '../../src/cli/token.js';
import { UUID, lookupPath, pushKeys } from '../helpers/hkp.js';
import { makeKey, withUserIds, type TestKey } from '../helpers/keys.js';
import { growth, sampleValue, scrape, type Sample } from '../helpers/prometheus.js';
import { backends, capturingLogger, startTestServer, type TestServer } from '../helpers/server.js';

interface RawResponse {
  status: number;
  body: Buffer;
  /** Every header as [name, value], names in lower case, sorted. */
  headers: [string, string][];
  header(name: string): string | undefined;
}

async function fetchRaw(url: string, init: RequestInit = {}): Promise<RawResponse> {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  const headers = [...res.headers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { status: res.status, body, headers, header: (name) => res.headers.get(name) ?? undefined };
}

/** The headers two answers to the same request must share: all but the request id and the date. */
function comparableHeaders(res: RawResponse): [string, string][] {
  return res.headers.filter(([name]) => name !== 'x-request-id' && name !== 'date');
}

// Requests that reached the Koa app (every request through app.callback() creates a context).
let createContext: MockInstance;
const appRequests = () => createContext.mock.calls.length;

/** Runs `request` and says how many requests the app saw meanwhile (0: answered in front of it). */
async function seenByApp<T>(request: () => Promise<T>): Promise<{ result: T; app: number }> {
  const before = appRequests();
  const result = await request();
  return { result, app: appRequests() - before };
}

beforeAll(() => {
  createContext = vi.spyOn(Koa.prototype, 'createContext');
});
afterAll(() => {
  createContext.mockRestore();
});

describe.each(backends)('cached lookups answered before the app (%s)', (backend) => {
  let server: TestServer;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = await startTestServer(backend, {}, capturingLogger(logLines));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers a repeated op=get and op=index mr lookup with the same status, bytes and headers', async () => {
    const key = await makeKey([{ name: 'Fast Same', email: `fast-same-${backend}@example.org` }]);
    expect((await pushKeys(server.url, key.armored)).status).toBe(200);
    const paths = [
      lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` }),
      lookupPath({ op: 'index', options: 'mr', search: `fast-same-${backend}@example.org` }),
    ];
    for (const path of paths) {
      const first = await seenByApp(() => fetchRaw(`${server.url}${path}`));
      expect(first.app, path).toBe(1);
      const second = await seenByApp(() => fetchRaw(`${server.url}${path}`));
      expect(second.app, `${path} answered by the app again`).toBe(0);
      expect(second.result.status, path).toBe(200);
      expect(second.result.status, path).toBe(first.result.status);
      expect(second.result.body.equals(first.result.body), path).toBe(true);
      expect(comparableHeaders(second.result), path).toEqual(comparableHeaders(first.result));
      expect(second.result.header('x-request-id'), path).toMatch(UUID);
      expect(second.result.header('x-request-id'), path).not.toBe(first.result.header('x-request-id'));
    }
    const [get, index] = await Promise.all(paths.map((path) => fetchRaw(`${server.url}${path}`)));
    expect(get!.header('content-type')).toBe('application/pgp-keys');
    expect(get!.body.toString()).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
    expect(get!.header('access-control-allow-origin')).toBe('*');
    expect(get!.header('x-content-type-options')).toBe('nosniff');
    expect(get!.header('content-length')).toBe(String(get!.body.length));
    expect(index!.header('content-type')).toBe('text/plain; charset=utf-8');
    expect(index!.header('x-hkp-results-count')).toBe('1');
    expect(index!.body.toString()).toContain(`pub:${key.fingerprint}:`);
  });

  it("echoes a caller's sane X-Request-Id on a cached answer and replaces an insane one", async () => {
    const key = await makeKey([{ name: 'Fast Id', email: `fast-id-${backend}@example.org` }]);
    await pushKeys(server.url, key.armored);
    const url = `${server.url}${lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` })}`;
    expect((await fetchRaw(url, { headers: { 'x-request-id': 'trace-1.app' } })).header('x-request-id')).toBe('trace-1.app');
    const sane = await seenByApp(() => fetchRaw(url, { headers: { 'x-request-id': 'trace-2.fast:42' } }));
    expect(sane.app).toBe(0);
    expect(sane.result.header('x-request-id')).toBe('trace-2.fast:42');
    const insane = await seenByApp(() => fetchRaw(url, { headers: { 'x-request-id': 'two words' } }));
    expect(insane.app).toBe(0);
    expect(insane.result.header('x-request-id')).toMatch(UUID);
  });

  it('writes the same request log line as the app', async () => {
    const key = await makeKey([{ name: 'Fast Log', email: `fast-log-${backend}@example.org` }]);
    await pushKeys(server.url, key.armored);
    const cases: [string, Record<string, string>][] = [
      ['get', { op: 'get', options: 'mr', search: `0x${key.fingerprint}` }],
      ['index', { op: 'index', options: 'mr', search: `fast-log-${backend}@example.org` }],
      ['404', { op: 'get', options: 'mr', search: `0x${'CD'.repeat(20)}` }],
    ];
    for (const [label, params] of cases) {
      const url = `${server.url}${lookupPath(params)}`;
      expect((await seenByApp(() => fetchRaw(url, { headers: { 'x-request-id': `log-app-${label}` } }))).app).toBe(1);
      expect((await seenByApp(() => fetchRaw(url, { headers: { 'x-request-id': `log-fast-${label}` } }))).app).toBe(0);
      const line = (id: string) => {
        const found = logLines.filter((l) => l['requestId'] === id);
        expect(found, id).toHaveLength(1);
        const { requestId, ms, time, ...rest } = found[0]!;
        expect(typeof ms, id).toBe('number');
        return rest;
      };
      const app = line(`log-app-${label}`);
      expect(app['msg']).toBe('request');
      expect(app['reason'], label).toBe(label === '404' ? 'not_found' : undefined);
      expect(line(`log-fast-${label}`), label).toEqual(app);
    }
  });

  it('answers a cached 404 again with the same status, JSON body and content type', async () => {
    const url = `${server.url}${lookupPath({ op: 'get', options: 'mr', search: `0x${'AB'.repeat(20)}` })}`;
    const first = await seenByApp(() => fetchRaw(url));
    expect(first.app).toBe(1);
    const second = await seenByApp(() => fetchRaw(url));
    expect(second.app).toBe(0);
    expect(first.result.status).toBe(404);
    expect(second.result.status).toBe(404);
    expect(JSON.parse(second.result.body.toString())).toEqual({ error: { code: 404, reason: 'not_found', message: expect.any(String) } });
    expect(JSON.parse(second.result.body.toString())).toEqual(JSON.parse(first.result.body.toString()));
    expect(second.result.header('content-type')).toBe(first.result.header('content-type'));
    expect(second.result.header('content-type')).toMatch(/^application\/json/);
    expect(comparableHeaders(second.result)).toEqual(comparableHeaders(first.result));
  });

  it('never serves a stale answer: a pushed key, then a new user ID, show at once', async () => {
    const email = `fast-stale-${backend}@example.org`;
    const second = `fast-stale-2-${backend}@example.org`;
    const key = await makeKey([{ name: 'Fast Stale', email }]);
    const get = `${server.url}${lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` })}`;
    const index = `${server.url}${lookupPath({ op: 'index', options: 'mr', search: email })}`;
    const indexSecond = `${server.url}${lookupPath({ op: 'index', options: 'mr', search: second })}`;
    for (const url of [get, index, indexSecond]) {
      expect((await fetchRaw(url)).status).toBe(404);
      const again = await seenByApp(() => fetchRaw(url));
      expect(again.app).toBe(0);
      expect(again.result.status).toBe(404);
    }
    await pushKeys(server.url, key.armored);
    const fetched = await fetchRaw(get);
    expect(fetched.status).toBe(200);
    expect(fetched.body.toString()).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
    const listed = await fetchRaw(index);
    expect(listed.status).toBe(200);
    // Both cached again for the fast path.
    expect((await seenByApp(() => fetchRaw(get))).app).toBe(0);
    expect((await seenByApp(() => fetchRaw(index))).app).toBe(0);
    expect(listed.body.toString()).not.toContain(encodeURIComponent(second));

    const grown = await withUserIds(key, [
      { name: 'Fast Stale', email },
      { name: 'Fast Stale', email: second },
    ]);
    expect((await pushKeys(server.url, grown.armored)).json.updated).toEqual([key.fingerprint]);
    const regrown = await fetchRaw(get);
    expect(regrown.status).toBe(200);
    expect(regrown.body.length).toBeGreaterThan(fetched.body.length);
    const relisted = await fetchRaw(index);
    expect(relisted.body.toString()).toContain(second);
    expect((await fetchRaw(indexSecond)).status).toBe(200);
  });

  it('gives a browser the page for a URL cached for machines', async () => {
    const key = await makeKey([{ name: 'Fast Page', email: `fast-page-${backend}@example.org` }]);
    await pushKeys(server.url, key.armored);
    const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
    for (const path of [
      lookupPath({ op: 'get', search: `0x${key.fingerprint}` }),
      lookupPath({ op: 'index', search: `fast-page-${backend}@example.org` }),
    ]) {
      const url = `${server.url}${path}`;
      const machine = await fetchRaw(url);
      expect(machine.status, path).toBe(200);
      expect(machine.header('content-type'), path).not.toMatch(/html/);
      expect((await seenByApp(() => fetchRaw(url))).app, path).toBe(0);
      const page = await seenByApp(() => fetchRaw(url, { headers: browser }));
      expect(page.app, path).toBe(1);
      expect(page.result.status, path).toBe(200);
      expect(page.result.header('content-type'), path).toBe('text/html; charset=utf-8');
      expect(page.result.body.toString(), path).toMatch(/<html/i);
      // In any letter case.
      expect((await fetchRaw(url, { headers: { accept: 'TEXT/HTML' } })).header('content-type'), path).toBe('text/html; charset=utf-8');
    }
  });

  it('leaves HEAD and POST on a cached URL to the app', async () => {
    const key = await makeKey([{ name: 'Fast Head', email: `fast-head-${backend}@example.org` }]);
    await pushKeys(server.url, key.armored);
    const url = `${server.url}${lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` })}`;
    const get = await fetchRaw(url);
    expect((await seenByApp(() => fetchRaw(url))).app).toBe(0);
    const head = await seenByApp(() => fetchRaw(url, { method: 'HEAD' }));
    expect(head.app).toBe(1);
    expect(head.result.status).toBe(200);
    expect(head.result.body.length).toBe(0);
    expect(head.result.header('content-type')).toBe(get.header('content-type'));
    const post = await seenByApp(() => fetchRaw(url, { method: 'POST' }));
    expect(post.app).toBe(1);
    expect(post.result.status).not.toBe(200);
  });

  it('counts cached answers in /metrics under the route the app counts them', async () => {
    const key = await makeKey([{ name: 'Fast Metrics', email: `fast-metrics-${backend}@example.org` }]);
    await pushKeys(server.url, key.armored);
    const get = `${server.url}${lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` })}`;
    const missing = `${server.url}${lookupPath({ op: 'index', options: 'mr', search: `nobody-${backend}@example.org` })}`;
    const before = await scrape(server.url);
    let app = 0;
    for (let i = 0; i < 4; i++) app += (await seenByApp(() => fetchRaw(get))).app;
    for (let i = 0; i < 3; i++) app += (await seenByApp(() => fetchRaw(missing))).app;
    expect(app).toBe(2);
    const after = await scrape(server.url);
    expect(growth(before, after, 'keystore_http_requests_total', { route: 'lookup:get', method: 'GET', status: '200' })).toBe(4);
    expect(growth(before, after, 'keystore_http_requests_total', { route: 'lookup:index', method: 'GET', status: '404' })).toBe(3);
    expect(growth(before, after, 'keystore_http_request_duration_seconds_count', { route: 'lookup:get', method: 'GET' })).toBe(4);
    expect(growth(before, after, 'keystore_http_request_duration_seconds_count', { route: 'lookup:index', method: 'GET' })).toBe(3);
    // Nothing counted under another label (e.g. "other" or a raw URL).
    const total = (samples: Sample[]) => samples.filter((s) => s.name === 'keystore_http_requests_total').reduce((sum, s) => sum + s.value, 0);
    // 7 lookups and the first scrape.
    expect(total(after) - total(before)).toBe(8);
    // The cache's own figures: each URL missed once (answered by the app), then hit.
    expect(growth(before, after, 'keystore_lookup_cache_misses_total')).toBe(2);
    expect(growth(before, after, 'keystore_lookup_cache_hits_total')).toBe(5);
    expect(sampleValue(after, 'keystore_lookup_cache_entries')).toBeGreaterThanOrEqual(2);
    expect(sampleValue(after, 'keystore_lookup_cache_bytes')).toBeGreaterThan(0);
  });
});

describe.each(backends)('cached lookups and the rate limit (%s)', (backend) => {
  let server: TestServer;
  let key: TestKey;
  beforeAll(async () => {
    server = await startTestServer(backend, {
      RATE_LIMIT: 'on',
      RATE_LIMIT_GET_PER_MINUTE: '5',
      RATE_LIMIT_SEARCH_PER_MINUTE: '3',
      RATE_LIMIT_ADD_PER_MINUTE: '10',
      // X-Forwarded-For from this test is believed, so clients can be told apart.
      TRUSTED_PROXIES: '127.0.0.1,::1',
    });
    key = await makeKey([{ name: 'Fast Limited', email: `fast-limited-${backend}@example.org` }]);
    expect((await pushKeys(server.url, key.armored)).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
  });

  async function statuses(url: string, times: number, headers: Record<string, string> = {}) {
    const answers: RawResponse[] = [];
    let app = 0;
    for (let i = 0; i < times; i++) {
      const { result, app: seen } = await seenByApp(() => fetchRaw(url, { headers }));
      answers.push(result);
      app += seen;
    }
    return { answers, codes: answers.map((a) => a.status), app };
  }

  it('limits repeated cached gets to RATE_LIMIT_GET_PER_MINUTE, then answers 429 with Retry-After', async () => {
    const url = `${server.url}${lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` })}`;
    const { answers, codes, app } = await statuses(url, 8);
    expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    // The first answered by the app (and cached), the rest in front of it, the refusals included.
    expect(app).toBe(1);
    for (const limited of answers.slice(5)) {
      expect(Number(limited.header('retry-after'))).toBeGreaterThan(0);
      expect(JSON.parse(limited.body.toString())).toEqual({
        error: { code: 429, reason: 'rate_limited', message: expect.stringMatching(/too many requests/) },
      });
    }
    // Another fetch URL shares the bucket; not cached, it is refused by the app, with the same headers and body.
    const byApp = await seenByApp(() => fetchRaw(`${server.url}${lookupPath({ op: 'get', search: `0x${key.fingerprint}` })}`));
    expect(byApp.app).toBe(1);
    expect(byApp.result.status).toBe(429);
    const limited = answers[7]!;
    expect(comparableHeaders(byApp.result)).toEqual(comparableHeaders(limited));
    expect(JSON.parse(byApp.result.body.toString())).toEqual(JSON.parse(limited.body.toString()));
    // Another client has its own bucket.
    expect((await statuses(url, 6, { 'x-forwarded-for': '198.51.100.1' })).codes).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('limits repeated cached searches to RATE_LIMIT_SEARCH_PER_MINUTE, cached 404s included', async () => {
    const found = `${server.url}${lookupPath({ op: 'index', options: 'mr', search: `fast-limited-${backend}@example.org` })}`;
    const missing = `${server.url}${lookupPath({ op: 'index', options: 'mr', search: `nobody-limited-${backend}@example.org` })}`;
    const client = { 'x-forwarded-for': '198.51.100.2' };
    const first = await statuses(found, 5, client);
    expect(first.codes).toEqual([200, 200, 200, 429, 429]);
    expect(first.app).toBe(1);
    const other = { 'x-forwarded-for': '198.51.100.3' };
    const absent = await statuses(missing, 5, other);
    expect(absent.codes).toEqual([404, 404, 404, 429, 429]);
    expect(absent.app).toBe(1);
    // Searches do not use up fetches.
    expect(
      (await fetchRaw(`${server.url}${lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` })}`, { headers: client })).status,
    ).toBe(200);
  });
});

describe.each(backends)('cached lookups with LOOKUP_POLICY=token (%s)', (backend) => {
  let server: TestServer;
  let key: TestKey;
  let token: { id: string; secret: string };
  beforeAll(async () => {
    server = await startTestServer(backend, { LOOKUP_POLICY: 'token' });
    token = await createToken(server.database.db, { email: 'reader@example.org' });
    key = await makeKey([{ name: 'Fast Private', email: `fast-private-${backend}@example.org` }]);
    expect((await pushKeys(server.url, key.armored)).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('does not serve a cached answer without the token', async () => {
    const paths = [
      lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` }),
      lookupPath({ op: 'index', options: 'mr', search: `fast-private-${backend}@example.org` }),
      lookupPath({ op: 'get', options: 'mr', search: `0x${'EF'.repeat(20)}` }),
    ];
    const authorized = { authorization: `Bearer ${token.secret}` };
    for (const path of paths) {
      const url = `${server.url}${path}`;
      const expected = path.includes('EFEF') ? 404 : 200;
      expect((await fetchRaw(url, { headers: authorized })).status, path).toBe(expected);
      expect((await fetchRaw(url, { headers: authorized })).status, path).toBe(expected);
      for (const headers of [{}, { authorization: 'Bearer ks_wrong' }] as Record<string, string>[]) {
        const denied = await seenByApp(() => fetchRaw(url, { headers }));
        expect(denied.app, path).toBe(1);
        expect(denied.result.status, path).toBe(401);
        expect(JSON.parse(denied.result.body.toString()).error.message, path).toMatch(/^a valid access token is required to look up keys: /);
        expect(denied.result.body.toString(), path).not.toContain('BEGIN PGP');
      }
    }
  });
});
