// Rate limits in the server: per client address and route class, 429 with Retry-After and the JSON error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

const limits = { RATE_LIMIT: 'on', RATE_LIMIT_ADD_PER_MINUTE: '2', RATE_LIMIT_SEARCH_PER_MINUTE: '3', RATE_LIMIT_GET_PER_MINUTE: '1000' };

async function push(server: TestServer, key: TestKey, forwardedFor?: string) {
  const res = await fetch(`${server.url}/pks/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: new URLSearchParams({ keytext: key.armored }).toString(),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

describe.each(backends)('rate limits on %s', (backend) => {
  let direct: TestServer;
  let proxied: TestServer;
  let key: TestKey;

  beforeAll(async () => {
    [direct, proxied] = await Promise.all([
      startTestServer(backend, limits),
      startTestServer(backend, { ...limits, TRUSTED_PROXIES: '127.0.0.1,::1' }),
    ]);
    key = await makeKey([{ email: 'limited@example.org' }]);
  });
  afterAll(async () => {
    await Promise.all([direct?.close(), proxied?.close()]);
  });

  it('answers 429 with Retry-After and the JSON error past the push limit, while fetches go on', async () => {
    expect((await push(direct, key)).status).toBe(200);
    expect((await push(direct, key)).status).toBe(200);
    const limited = await push(direct, key);
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect(JSON.parse(limited.body)).toEqual({ error: { code: 429, reason: 'rate_limited', message: expect.stringMatching(/too many requests/) } });
    const get = await fetch(`${direct.url}/pks/lookup?op=get&search=0x${key.fingerprint}`);
    expect(get.status).toBe(200);
  });

  it('limits searches separately and more strictly than fetches', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${direct.url}/pks/lookup?op=index&options=mr&search=limited@example.org`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    for (let i = 0; i < 10; i++) expect((await fetch(`${direct.url}/pks/lookup?op=get&search=0x${key.fingerprint}`)).status).toBe(200);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    expect((await push(direct, key, '198.51.100.7')).status).toBe(429);
  });

  it('counts each client behind a trusted proxy on its own', async () => {
    for (const client of ['198.51.100.1', '198.51.100.2']) {
      expect((await push(proxied, key, client)).status).toBe(200);
      expect((await push(proxied, key, client)).status).toBe(200);
      expect((await push(proxied, key, client)).status).toBe(429);
    }
  });
});
