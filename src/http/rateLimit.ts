// Per-client rate limits by route class (fetches generous, searches stricter, pushes strictest): a token
// bucket per class and client address, refilled continuously. In memory, per server instance.
import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';
import { requestClassOf, type RateLimitClass } from './requestClass.js';

export type RouteClass = RateLimitClass;

export interface RateLimitOptions {
  /** Requests per minute per client address, which is also the burst allowed. */
  perMinute: Record<RouteClass, number>;
  /** Proxy addresses whose X-Forwarded-For is believed. */
  trustedProxies: ReadonlySet<string>;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

const MAX_TRACKED_CLIENTS = 100_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Takes one request from the client's bucket; returns 0 when allowed, else seconds until it would be. */
  take(routeClass: RouteClass, client: string): number {
    const capacity = this.options.perMinute[routeClass];
    const ratePerMs = capacity / 60_000;
    const now = this.now();
    const key = `${routeClass} ${client}`;
    const bucket = this.buckets.get(key) ?? { tokens: capacity, updated: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.updated) * ratePerMs);
    bucket.updated = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000));
    }
    bucket.tokens -= 1;
    // Re-insert so the Map's order is least recently used first; forget the oldest clients beyond the cap.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > MAX_TRACKED_CLIENTS) this.buckets.delete(this.buckets.keys().next().value!);
    return 0;
  }

  /** The client's address: the socket peer, or the last untrusted X-Forwarded-For hop behind trusted proxies. */
  clientAddress(peer: string, forwardedFor: string | undefined): string {
    if (!forwardedFor || !this.options.trustedProxies.has(normalize(peer))) return normalize(peer);
    const hops = forwardedFor
      .split(',')
      .map((h) => normalize(h.trim()))
      .filter((h) => h.length > 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!this.options.trustedProxies.has(hops[i]!)) return hops[i]!;
    }
    return hops[0] ?? normalize(peer);
  }
}

function normalize(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The refusal of a request over its client's limit, `wait` seconds before one would be allowed (Retry-After). */
export function rateLimited(wait: number): AppError {
  return new AppError(429, 'rate_limited', `too many requests from your address; try again in ${wait} s`);
}

export function rateLimit(limiter: RateLimiter) {
  return async (ctx: Context, next: Next) => {
    const routeClass = requestClassOf(ctx).rateLimit;
    if (routeClass) {
      const client = limiter.clientAddress(ctx.req.socket.remoteAddress ?? '', ctx.get('x-forwarded-for') || undefined);
      const wait = limiter.take(routeClass, client);
      if (wait > 0) {
        ctx.set('Retry-After', String(wait));
        throw rateLimited(wait);
      }
    }
    await next();
  };
}
