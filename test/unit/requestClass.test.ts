import { parse } from 'node:querystring';
import { describe, expect, it } from 'vitest';
import { classifyRequest, classifyUrl, requestClassOf, singleParameter } from '../../src/http/requestClass.js';
import { LookupCache } from '../../src/http/hkp/lookupCache.js';
import { Metrics } from '../../src/metrics.js';
import { parseSamples, sampleValue } from '../helpers/prometheus.js';

describe('classifyRequest', () => {
  it.each([
    ['/pks/lookup', 'op=get&options=mr&search=0xAB', { route: 'lookup:get', rateLimit: 'get', op: 'get' }],
    ['/pks/lookup', 'op=index&search=a', { route: 'lookup:index', rateLimit: 'search', op: 'index' }],
    ['/pks/lookup', 'op=vindex&search=a', { route: 'lookup:vindex', rateLimit: 'search', op: 'vindex' }],
    ['/pks/lookup', 'op=stats', { route: 'lookup:stats', rateLimit: 'search', op: 'stats' }],
    // The route label takes the op as sent; the rate limit of a fetch is the same in any case.
    ['/pks/lookup', 'op=GET&search=0xAB', { route: 'lookup:other', rateLimit: 'get', op: 'GET' }],
    ['/pks/lookup', 'op=x-other', { route: 'lookup:other', rateLimit: 'search', op: 'x-other' }],
    ['/pks/lookup', '', { route: 'lookup:other', rateLimit: 'search', op: undefined }],
    // A repeated op is no op at all (as a repeated parameter in ctx.query is an array).
    ['/pks/lookup', 'op=get&op=get', { route: 'lookup:other', rateLimit: 'search', op: undefined }],
    ['/pks/lookup', '%6Fp=g%65t', { route: 'lookup:get', rateLimit: 'get', op: 'get' }],
    ['/pks/add', '', { route: 'add', rateLimit: 'add', op: undefined }],
    ['/pks/add', 'options=mr', { route: 'add', rateLimit: 'add', op: undefined }],
    ['/pks/health', '', { route: 'health', rateLimit: null, op: undefined }],
    ['/version', 'op=get', { route: 'version', rateLimit: null, op: 'get' }],
    ['/metrics', '', { route: 'metrics', rateLimit: null, op: undefined }],
    ['/', '', { route: 'form', rateLimit: null, op: undefined }],
    ['/v1/token-status', '', { route: '/v1/token-status', rateLimit: null, op: undefined }],
    ['/assets/config/config.prod.json', '', { route: '/assets/config/config.prod.json', rateLimit: null, op: undefined }],
    ['/nothing/here', '', { route: 'other', rateLimit: null, op: undefined }],
    ['/constructor', '', { route: 'other', rateLimit: null, op: undefined }],
    ['/pks/lookup/', 'op=get', { route: 'other', rateLimit: null, op: 'get' }],
  ] as const)('%s?%s', (path, query, expected) => {
    expect(classifyRequest(path, query)).toEqual(expected);
    expect(classifyUrl(query ? `${path}?${query}` : path)).toEqual(expected);
  });

  it('classifies a raw URL as its path and query (a fragment dropped, as Koa does)', () => {
    expect(classifyUrl('/pks/lookup?search=a&op=get#top')).toEqual(classifyRequest('/pks/lookup', 'search=a&op=get'));
    expect(classifyUrl('/pks/lookup?')).toEqual(classifyRequest('/pks/lookup', ''));
  });

  it("computes a Koa request's class once and keeps it in ctx.state", () => {
    const ctx = { path: '/pks/lookup', querystring: 'op=get', state: {} as Record<string, unknown> };
    const first = requestClassOf(ctx);
    expect(first).toEqual(classifyRequest('/pks/lookup', 'op=get'));
    ctx.querystring = 'op=index';
    expect(requestClassOf(ctx)).toBe(first);
  });
});

describe('singleParameter', () => {
  it("decodes a parameter exactly as node:querystring (Koa's ctx.query) does", () => {
    const parts = [
      'op',
      'o%70',
      'op=',
      'op=get',
      'op=%67et',
      'op=g+t',
      '',
      '=',
      '=op',
      'op=a=b',
      'op=%zz',
      'op=%',
      'x=1',
      'opx=1',
      'op+=1',
      '%6Fp=index',
      'op=%E2%82%AC',
      'op=%C3',
      'op%3D=1',
    ];
    let compared = 0;
    for (const a of parts) {
      for (const b of parts) {
        for (const query of [a, `${a}&${b}`, `${a}&&${b}`]) {
          const value = parse(query)['op'];
          expect(singleParameter(query, 'op'), query).toBe(typeof value === 'string' ? value : undefined);
          compared++;
        }
      }
    }
    expect(compared).toBe(parts.length * parts.length * 3);
  });
});

describe('lookup cache metrics', () => {
  it("exports the cache's hits, misses, entries and bytes at each scrape", async () => {
    const cache = new LookupCache({ maxBytes: 1 << 20, maxAgeMs: 60_000, listening: true });
    const metrics = new Metrics({ version: 'test', lookupCacheUse: () => cache.use() });
    const scrape = async () => parseSamples(await metrics.render());
    const empty = await scrape();
    expect(sampleValue(empty, 'keystore_lookup_cache_hits_total')).toBe(0);
    expect(sampleValue(empty, 'keystore_lookup_cache_misses_total')).toBe(0);
    expect(sampleValue(empty, 'keystore_lookup_cache_entries')).toBe(0);
    const produce = async () => ({ type: 'text/plain', body: Buffer.from('answer'), keys: 1 });
    await cache.answer('a', ['f:A'], produce);
    await cache.answer('a', ['f:A'], produce);
    await cache.answer('a', ['f:A'], produce);
    await cache.answer('b', ['f:B'], produce);
    const used = await scrape();
    expect(sampleValue(used, 'keystore_lookup_cache_hits_total')).toBe(2);
    expect(sampleValue(used, 'keystore_lookup_cache_misses_total')).toBe(2);
    expect(sampleValue(used, 'keystore_lookup_cache_entries')).toBe(2);
    expect(sampleValue(used, 'keystore_lookup_cache_bytes')).toBe(cache.size.bytes);
    expect(cache.size.bytes).toBeGreaterThan(0);
    // Scraped again without new lookups: the same totals, not doubled.
    expect(sampleValue(await scrape(), 'keystore_lookup_cache_hits_total')).toBe(2);
  });

  it('exports no lookup cache metrics when none is given', async () => {
    const samples = parseSamples(await new Metrics({ version: 'test' }).render());
    expect(samples.some((s) => s.name.startsWith('keystore_lookup_cache_'))).toBe(false);
  });
});
