import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/http/rateLimit.js';
import { classifyRequest } from '../../src/http/requestClass.js';

function limiter(trusted: string[] = []) {
  let now = 1_000_000;
  const l = new RateLimiter({ perMinute: { get: 60, search: 6, add: 2 }, trustedProxies: new Set(trusted), now: () => now });
  return { l, advance: (ms: number) => (now += ms) };
}

describe('RateLimiter', () => {
  it('allows a burst of the per-minute count, then asks to wait', () => {
    const { l } = limiter();
    for (let i = 0; i < 6; i++) expect(l.take('search', '10.0.0.1')).toBe(0);
    expect(l.take('search', '10.0.0.1')).toBe(10);
  });

  it('refills continuously', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 2; i++) expect(l.take('add', 'a')).toBe(0);
    expect(l.take('add', 'a')).toBeGreaterThan(0);
    advance(30_000);
    expect(l.take('add', 'a')).toBe(0);
    expect(l.take('add', 'a')).toBeGreaterThan(0);
  });

  it('keeps classes and clients apart', () => {
    const { l } = limiter();
    for (let i = 0; i < 2; i++) l.take('add', 'a');
    expect(l.take('add', 'a')).toBeGreaterThan(0);
    expect(l.take('add', 'b')).toBe(0);
    expect(l.take('get', 'a')).toBe(0);
  });

  it('believes X-Forwarded-For only from trusted proxies', () => {
    const { l } = limiter(['127.0.0.1', '10.0.0.2']);
    expect(l.clientAddress('192.0.2.7', '198.51.100.1')).toBe('192.0.2.7');
    expect(l.clientAddress('127.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    expect(l.clientAddress('::ffff:127.0.0.1', 'spoofed, 198.51.100.1, 10.0.0.2')).toBe('198.51.100.1');
    expect(l.clientAddress('127.0.0.1', undefined)).toBe('127.0.0.1');
  });
});

describe('routeClassOf', () => {
  const routeClassOf = (request: { method: string; path: string; query: string }) =>
    classifyRequest(request.path, request.query, request.method).rateLimit;
  const ctx = (method: string, path: string, query: Record<string, string> = {}) => ({ method, path, query: new URLSearchParams(query).toString() });

  it("counts the newer APIs' pushes as pushes, their index and prefix log as searches, the rest as fetches", () => {
    expect(routeClassOf(ctx('POST', '/pks/v2/certs'))).toBe('add');
    expect(routeClassOf(ctx('POST', '/vks/v1/upload'))).toBe('add');
    expect(routeClassOf(ctx('POST', '/vks/v1/request-verify'))).toBe('add');
    expect(routeClassOf(ctx('GET', '/pks/v2/index/a@b'))).toBe('search');
    expect(routeClassOf(ctx('GET', '/pks/v2/prefixlog/2026-01-01'))).toBe('search');
    expect(routeClassOf(ctx('GET', '/pks/v2/certs/by-keyid/0123456789ABCDEF'))).toBe('get');
    expect(routeClassOf(ctx('HEAD', '/vks/v1/by-email/a@b'))).toBe('get');
    expect(routeClassOf(ctx('GET', '/.well-known/openpgpkey/hu/x'))).toBe('get');
    expect(routeClassOf(ctx('OPTIONS', '/pks/v2/certs'))).toBeNull();
    expect(routeClassOf(ctx('GET', '/version'))).toBeNull();
    expect(routeClassOf(ctx('GET', '/pks/lookup', { op: 'index' }))).toBe('search');
  });
});
