// The cached-lookup shortcut in front of the app: what it answers itself, what it leaves to the app, and that a
// failure inside it never takes the server down (the app answers instead).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { cachedLookupListener } from '../../src/http/hkp/cachedLookup.js';
import { LookupCache, type CachedAnswer, type CachedRequest } from '../../src/http/hkp/lookupCache.js';
import { Metrics } from '../../src/metrics.js';

const GET: CachedRequest = { search: 'fingerprint' };
const URL_A = '/pks/lookup?op=get&options=mr&search=0xAAAA';

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(cache: LookupCache, logLines: string[]): Promise<string> {
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  const app: http.RequestListener = (_req, res) => {
    res.writeHead(299, { 'Content-Type': 'text/plain' });
    res.end('from the app');
  };
  server = http.createServer(cachedLookupListener({ cache, logger, metrics: new Metrics({ version: 'test' }) }, app));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

async function cacheAnswer(cache: LookupCache, answer: CachedAnswer): Promise<void> {
  await cache.answer('get a', ['f:AAAA'], async () => answer, { url: URL_A, request: GET });
}

describe('cachedLookupListener', () => {
  it('answers a remembered URL itself and leaves every other request to the app', async () => {
    const cache = new LookupCache({ maxBytes: 1 << 20, maxAgeMs: 60_000, listening: true });
    await cacheAnswer(cache, { type: 'application/pgp-keys', body: Buffer.from('KEY'), keys: 1 });
    const lines: string[] = [];
    const url = await serve(cache, lines);
    const cached = await fetch(`${url}${URL_A}`);
    expect(cached.status).toBe(200);
    expect(await cached.text()).toBe('KEY');
    expect(cached.headers.get('content-type')).toBe('application/pgp-keys');
    for (const other of [`${url}/pks/lookup?op=get&search=0xAAAA`, `${url}/version`]) {
      const res = await fetch(other);
      expect(res.status, other).toBe(299);
    }
    expect((await fetch(`${url}${URL_A}`, { headers: { Accept: 'text/html' } })).status).toBe(299);
    expect(lines.filter((l) => l.includes('"msg":"request"'))).toHaveLength(1);
  });

  it('lets the app answer, and keeps serving, when answering from the cache throws', async () => {
    const cache = new LookupCache({ maxBytes: 1 << 20, maxAgeMs: 60_000, listening: true });
    // A header value Node refuses to send makes setHeader throw inside the shortcut.
    await cacheAnswer(cache, { type: 'application/pgp-keys', body: Buffer.from('KEY'), keys: 1, headers: { 'X-Broken': 'a\nb' } });
    const lines: string[] = [];
    const url = await serve(cache, lines);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${url}${URL_A}`);
      expect(res.status).toBe(299);
      expect(await res.text()).toBe('from the app');
    }
    expect(lines.filter((l) => l.includes('cached lookup failed'))).toHaveLength(2);
  });
});
