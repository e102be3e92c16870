// Finished answers of GET /pks/lookup (op=get and op=index for machines, 404s included) kept in memory, so
// gpg --refresh-keys and repeated Singularity searches are answered without the database. Each answer is
// tagged with what it depends on (the fingerprint, key ID or e-mail searched; "text" for user-ID searches)
// and dropped as soon as a write touching that is committed — by this instance (KeyService.onWritten) or by
// another one sharing the database (PostgreSQL NOTIFY). While changes cannot be heard, nothing is served.
import { AppError } from '../../errors.js';
import type { KeyChange, KeyChangeNews, KeyQuery } from '../../vocabulary.js';

export interface CachedAnswer {
  type: string;
  body: Buffer;
  /** Keys in the answer (for the request log). */
  keys: number;
  headers?: Record<string, string>;
  /** When the answer goes stale by itself (e.g. a listed key expires), Unix milliseconds. */
  validUntil?: number;
}

export interface LookupCacheOptions {
  /** Budget for answers (their bodies and keys); 0 turns the cache off. */
  maxBytes: number;
  /** Longest an answer is kept, even if nothing says it changed. */
  maxAgeMs: number;
  /** Whether changes are heard from the start (true when this process is the only writer). */
  listening: boolean;
  now?: () => number;
}

/**
 * What the app made of a request whose answer is a cached entry that the URL alone does not tell (its route,
 * rate-limit class and op come from requestClass.ts), so that the same URL can be answered again without the app.
 */
export interface CachedRequest {
  /** The kind of search, for the log line (search.ts's KeyQuery kind). */
  search: string;
}

interface Entry {
  answer: CachedAnswer | AppError;
  tags: string[];
  size: number;
  expiresAt: number;
  /** Request URLs known to be answered by this entry (a few spellings at most). */
  urls: string[];
}

// What an entry holds besides its body and key text: the entry and answer objects, the body's Buffer and memory
// block, its tags and Map slots. With the URLs' below, 1.0-1.1 KB an entry, as measured on the V8 heap with
// 10,000 fetches and searches of one URL each (256 + 96 counted half of it).
const ENTRY_OVERHEAD = 640;
// Each remembered request URL: its Map slot and record on top of its text.
const URL_OVERHEAD = 160;
// Spellings of one search remembered per answer; more are answered through the app, still from the cache.
const MAX_URLS_PER_ENTRY = 4;

export class LookupCache {
  private readonly entries = new Map<string, Entry>();
  // The entry key, or keys, of each tag: most tags (a fingerprint, a key ID) name one answer, and a Set for one
  // key would cost more than the entry's body.
  private readonly byTag = new Map<string, string | Set<string>>();
  private readonly byUrl = new Map<string, { key: string; request: CachedRequest }>();
  private bytes = 0;
  // Bumped by every change: an answer computed while one came in may predate it and is not kept.
  private generation = 0;
  private listening: boolean;
  private readonly now: () => number;
  hits = 0;
  misses = 0;

  constructor(private readonly options: LookupCacheOptions) {
    this.listening = options.listening;
    this.now = options.now ?? Date.now;
  }

  /**
   * The cached answer for `key`, else `produce`'s, kept under `tags`. A 404 (AppError) is cached too and
   * thrown again on a hit. `url` (the request's path and query) is remembered as answered by it, so that
   * forRequest finds it without parsing the request again.
   */
  async answer(
    key: string,
    tags: string[],
    produce: () => Promise<CachedAnswer>,
    url?: { url: string; request: CachedRequest },
  ): Promise<CachedAnswer> {
    const hit = this.get(key);
    if (hit) {
      this.hits++;
      if (url) this.rememberUrl(key, url.url, url.request);
      if (hit instanceof AppError) throw hit;
      return hit;
    }
    this.misses++;
    const started = this.generation;
    let answer: CachedAnswer;
    try {
      answer = await produce();
    } catch (e) {
      if (e instanceof AppError && e.status === 404 && this.set(key, tags, e, started, e.message.length) && url)
        this.rememberUrl(key, url.url, url.request);
      throw e;
    }
    if (this.set(key, tags, answer, started, answer.body.length, answer.validUntil) && url) this.rememberUrl(key, url.url, url.request);
    return answer;
  }

  /** The cached answer (or 404) to a request URL seen before, with what its log line needs; undefined if none. */
  forRequest(url: string): { answer: CachedAnswer | AppError; request: CachedRequest } | undefined {
    const known = this.byUrl.get(url);
    if (!known) return undefined;
    const answer = this.get(known.key);
    if (!answer) return undefined;
    this.hits++;
    return { answer, request: known.request };
  }

  /** A change was committed: drop every answer that may depend on it. */
  invalidate(news: KeyChangeNews): void {
    this.generation++;
    if (news === 'all') {
      this.clear();
      return;
    }
    for (const tag of changeTags(news)) {
      const keys = this.byTag.get(tag);
      if (typeof keys === 'string') this.remove(keys);
      else if (keys) for (const key of [...keys]) this.remove(key);
    }
  }

  /** Whether changes are being heard; on any switch everything cached is dropped. */
  setListening(on: boolean): void {
    this.generation++;
    this.listening = on;
    this.clear();
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  /** Hits, misses and size, for /metrics. */
  use(): { hits: number; misses: number; entries: number; bytes: number } {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size, bytes: this.bytes };
  }

  private get(key: string): CachedAnswer | AppError | undefined {
    if (!this.listening) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.remove(key);
      return undefined;
    }
    // Least recently used first: a hit moves the entry to the end.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.answer;
  }

  /** Keeps an answer unless it may be stale or does not fit; says whether it was kept. */
  private set(key: string, tags: string[], answer: CachedAnswer | AppError, started: number, bodyBytes: number, validUntil?: number): boolean {
    if (!this.listening || started !== this.generation || this.options.maxBytes === 0) return false;
    const size = bodyBytes + key.length * 2 + ENTRY_OVERHEAD;
    // One huge key must not push out hundreds of small ones.
    if (size > this.options.maxBytes / 16) return false;
    const expiresAt = Math.min(this.now() + this.options.maxAgeMs, validUntil ?? Infinity);
    if (expiresAt <= this.now()) return false;
    this.remove(key);
    this.entries.set(key, { answer: answer instanceof AppError ? answer : ownMemory(answer), tags, size, expiresAt, urls: [] });
    this.bytes += size;
    for (const tag of tags) {
      const keys = this.byTag.get(tag);
      if (keys === undefined) this.byTag.set(tag, key);
      else if (typeof keys !== 'string') keys.add(key);
      else if (keys !== key) this.byTag.set(tag, new Set([keys, key]));
    }
    this.evictBeyondBudget();
    return true;
  }

  private rememberUrl(key: string, url: string, request: CachedRequest): void {
    const entry = this.entries.get(key);
    // A URL names one search, hence one key: known already means known for this entry.
    if (!entry || entry.urls.length >= MAX_URLS_PER_ENTRY || this.byUrl.has(url)) return;
    const size = url.length * 2 + URL_OVERHEAD;
    // The same bound as an answer's: a long query string must not push out the rest of the cache.
    if (entry.size + size > this.options.maxBytes / 16) return;
    this.byUrl.set(url, { key, request });
    // A new array of the exact length: push would give the first URL room for 17.
    entry.urls = entry.urls.concat(url);
    entry.size += size;
    this.bytes += size;
    this.evictBeyondBudget();
  }

  private evictBeyondBudget(): void {
    for (const oldest of this.entries.keys()) {
      if (this.bytes <= this.options.maxBytes) break;
      this.remove(oldest);
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.size;
    for (const url of entry.urls) this.byUrl.delete(url);
    for (const tag of entry.tags) {
      const keys = this.byTag.get(tag);
      if (keys === key) this.byTag.delete(tag);
      else if (typeof keys !== 'string' && keys?.delete(key) && keys.size === 0) this.byTag.delete(tag);
    }
  }

  private clear(): void {
    this.entries.clear();
    this.byUrl.clear();
    this.byTag.clear();
    this.bytes = 0;
  }
}

/**
 * The answer with a body in memory of its own. A small Buffer (Buffer.from of a string, Buffer.concat) is a view
 * into a shared 8 KiB slab, and keeping it keeps the whole slab alive: cached that way, answers of about 1 KB held
 * twice their size in slabs.
 */
function ownMemory(answer: CachedAnswer): CachedAnswer {
  const body = answer.body;
  if (body.byteOffset === 0 && body.buffer.byteLength === body.length) return answer;
  const own = Buffer.allocUnsafeSlow(body.length);
  body.copy(own);
  return { ...answer, body: own };
}

// Any write can change which keys a user-ID search finds (a new key, a new user ID, another order).
const TEXT_TAG = 't';

/** What an answer to this search depends on. */
export function queryTags(query: KeyQuery): string[] {
  switch (query.kind) {
    case 'fingerprint':
      return [`f:${query.fingerprint}`];
    case 'longId':
      return [`l:${query.keyId}`];
    case 'shortId':
      return [`s:${query.keyId}`];
    case 'identity':
      return [`i:${query.identity}`];
    case 'exactUserId':
    case 'words':
      return [TEXT_TAG];
  }
}

/** The tags a written key touches: each (sub)key's fingerprint and key IDs, its identities, and user-ID text. */
export function changeTags(change: KeyChange): string[] {
  const tags = [TEXT_TAG];
  for (const fingerprint of change.fingerprints) {
    const fpr = fingerprint.toUpperCase();
    // v4 key IDs are the fingerprint's last 16 hex digits, v6 key IDs its first 16; short IDs the last 8 of those.
    const longId = fpr.length === 64 ? fpr.slice(0, 16) : fpr.slice(-16);
    tags.push(`f:${fpr}`, `l:${longId}`, `s:${longId.slice(-8)}`);
  }
  for (const identity of change.identities) tags.push(`i:${identity}`);
  return tags;
}

/** The earliest expiry after `now` (Unix seconds) among listed keys, user IDs and subkeys, as Unix ms. */
export function firstExpiry(
  keys: { expires: number | null; userIds: { expires: number | null }[]; subkeys: { expires: number | null }[] }[],
  now: number,
): number | undefined {
  let first = Infinity;
  for (const k of keys) {
    for (const expires of [k.expires, ...k.userIds.map((u) => u.expires), ...k.subkeys.map((s) => s.expires)]) {
      if (expires !== null && expires > now && expires < first) first = expires;
    }
  }
  return first === Infinity ? undefined : first * 1000;
}
