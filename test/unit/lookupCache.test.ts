import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { changeTags, firstExpiry, LookupCache, queryTags, type CachedAnswer, type CachedRequest } from '../../src/http/hkp/lookupCache.js';

const V4 = '0123456789ABCDEF0123456789ABCDEF01234567';
const V4_SUB = 'FEDCBA9876543210FEDCBA9876543210FEDCBA98';
const V6 = 'AA'.repeat(32);

function answer(text: string, extra: Partial<CachedAnswer> = {}): CachedAnswer {
  return { type: 'text/plain', body: Buffer.from(text), keys: 1, ...extra };
}

function setup(options: { maxBytes?: number; maxAgeMs?: number; listening?: boolean } = {}) {
  let time = 1_000_000;
  const cache = new LookupCache({
    maxBytes: options.maxBytes ?? 1 << 20,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    listening: options.listening ?? true,
    now: () => time,
  });
  let produced = 0;
  const ask = (key: string, tags: string[], text = key) =>
    cache.answer(key, tags, async () => {
      produced++;
      return answer(text);
    });
  return { cache, ask, produced: () => produced, advance: (ms: number) => (time += ms), now: () => time };
}

describe('LookupCache', () => {
  it('answers a repeated lookup from memory', async () => {
    const { ask, produced, cache } = setup();
    expect((await ask('get a', ['f:A'])).body.toString()).toBe('get a');
    expect((await ask('get a', ['f:A'])).body.toString()).toBe('get a');
    expect(produced()).toBe(1);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
  });

  it('drops the answers of a search when a key with that fingerprint, key ID or identity is written', async () => {
    const { cache, ask, produced } = setup();
    const searches: [string, string[]][] = [
      ['fpr', queryTags({ kind: 'fingerprint', fingerprint: V4 })],
      ['long', queryTags({ kind: 'longId', keyId: V4.slice(-16) })],
      ['short', queryTags({ kind: 'shortId', keyId: V4.slice(-8) })],
      ['sub-short', queryTags({ kind: 'shortId', keyId: V4_SUB.slice(-8) })],
      ['identity', queryTags({ kind: 'identity', identity: 'alice@example.org' })],
      ['account', queryTags({ kind: 'identity', identity: 'aaa12345xy' })],
      ['words', queryTags({ kind: 'words', words: ['alice'], text: 'alice' })],
      ['other', queryTags({ kind: 'fingerprint', fingerprint: 'B'.repeat(40) })],
    ];
    for (const [key, tags] of searches) await ask(key, tags);
    expect(produced()).toBe(searches.length);
    cache.invalidate({ fingerprints: [V4, V4_SUB], identities: ['alice@example.org', 'aaa12345xy'] });
    for (const [key, tags] of searches) await ask(key, tags);
    // Everything again but the unrelated fingerprint.
    expect(produced()).toBe(searches.length * 2 - 1);
  });

  it('drops every answer sharing a tag, also after another of them left the cache', async () => {
    const { cache, ask, produced, advance } = setup({ maxAgeMs: 10_000 });
    await ask('words a', ['t']);
    advance(5_000);
    await ask('words b', ['t']);
    await ask('words c', ['t']);
    // 'words a' expires and is dropped on its next lookup; b and c stay under the shared tag.
    advance(6_000);
    await ask('words a', ['t']);
    expect(produced()).toBe(4);
    cache.invalidate({ fingerprints: [V4], identities: [] });
    for (const key of ['words a', 'words b', 'words c']) await ask(key, ['t']);
    expect(produced()).toBe(7);
    expect(cache.size.entries).toBe(3);
  });

  it('derives v6 key IDs from the front of the fingerprint', () => {
    expect(changeTags({ fingerprints: [V6], identities: [] })).toEqual(['t', `f:${V6}`, `l:${V6.slice(0, 16)}`, `s:${V6.slice(8, 16)}`]);
  });

  it('drops everything on news it cannot read', async () => {
    const { cache, ask, produced } = setup();
    await ask('a', ['f:A']);
    cache.invalidate('all');
    await ask('a', ['f:A']);
    expect(produced()).toBe(2);
  });

  it('does not keep an answer computed while a change came in (it may predate the change)', async () => {
    const { cache } = setup();
    let release!: () => void;
    const pending = cache.answer('a', ['f:A'], async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return answer('stale');
    });
    await new Promise((r) => setImmediate(r));
    cache.invalidate({ fingerprints: [V4], identities: [] });
    release();
    expect((await pending).body.toString()).toBe('stale');
    expect((await cache.answer('a', ['f:A'], async () => answer('fresh'))).body.toString()).toBe('fresh');
  });

  it('keeps a 404 and throws it again until a matching key is written', async () => {
    const { cache } = setup();
    let calls = 0;
    const missing = () =>
      cache.answer('get x', [`f:${V4}`], async () => {
        calls++;
        throw new AppError(404, 'not_found', 'no key matches the search');
      });
    await expect(missing()).rejects.toMatchObject({ status: 404 });
    await expect(missing()).rejects.toMatchObject({ status: 404 });
    expect(calls).toBe(1);
    cache.invalidate({ fingerprints: [V4], identities: [] });
    await expect(missing()).rejects.toMatchObject({ status: 404 });
    expect(calls).toBe(2);
  });

  it('does not keep other errors', async () => {
    const { cache } = setup();
    let calls = 0;
    const failing = () =>
      cache.answer('get y', ['f:Y'], async () => {
        calls++;
        throw new AppError(503, 'unavailable', 'down');
      });
    await expect(failing()).rejects.toMatchObject({ status: 503 });
    await expect(failing()).rejects.toMatchObject({ status: 503 });
    expect(calls).toBe(2);
  });

  it('serves nothing while changes are not heard, and forgets everything when hearing starts again', async () => {
    const { cache, ask, produced } = setup({ listening: false });
    await ask('a', ['f:A']);
    await ask('a', ['f:A']);
    expect(produced()).toBe(2);
    cache.setListening(true);
    await ask('a', ['f:A']);
    await ask('a', ['f:A']);
    expect(produced()).toBe(3);
    cache.setListening(false);
    cache.setListening(true);
    await ask('a', ['f:A']);
    expect(produced()).toBe(4);
  });

  it('expires answers after the maximum age and at the first expiry they list', async () => {
    const { cache, ask, produced, advance, now } = setup({ maxAgeMs: 10_000 });
    await ask('a', ['f:A']);
    advance(9_999);
    await ask('a', ['f:A']);
    expect(produced()).toBe(1);
    advance(1);
    await ask('a', ['f:A']);
    expect(produced()).toBe(2);
    let made = 0;
    const expiring = () =>
      cache.answer('b', ['f:B'], async () => {
        made++;
        return answer('b', { validUntil: now() + 500 });
      });
    await expiring();
    advance(499);
    await expiring();
    advance(1);
    await expiring();
    expect(made).toBe(2);
  });

  it('stays within its byte budget, dropping the least recently used first', async () => {
    const { cache, ask, produced } = setup({ maxBytes: 16 * 1024 });
    const big = 'x'.repeat(300);
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) await ask(key, [`f:${key}`], big);
    expect(cache.size.bytes).toBeLessThanOrEqual(16 * 1024);
    expect(produced()).toBe(8);
    await ask('h', ['f:h'], big);
    expect(produced()).toBe(8);
    // Far more than fits: the oldest go, the newest stay.
    for (let i = 0; i < 40; i++) await ask(`k${i}`, [`f:k${i}`], big);
    const before = produced();
    await ask('k39', ['f:k39'], big);
    expect(produced()).toBe(before);
    await ask('a', ['f:a'], big);
    expect(produced()).toBe(before + 1);
    expect(cache.size.bytes).toBeLessThanOrEqual(16 * 1024);
  });

  it('does not keep an answer larger than a sixteenth of its budget', async () => {
    const { ask, produced } = setup({ maxBytes: 16 * 1024 });
    await ask('huge', ['f:H'], 'x'.repeat(2000));
    await ask('huge', ['f:H'], 'x'.repeat(2000));
    expect(produced()).toBe(2);
  });

  it('keeps a small answer in memory of its own, not in the shared slab its Buffer was cut from', async () => {
    const { cache } = setup();
    const pooled = Buffer.from('a small answer');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    await cache.answer('get a', ['f:A'], async () => ({ type: 'text/plain', body: pooled, keys: 1 }));
    const kept = (await cache.answer('get a', ['f:A'], () => Promise.reject(new Error('not cached')))).body;
    expect(kept.toString()).toBe('a small answer');
    expect(kept.buffer.byteLength).toBe(kept.length);
  });

  it('keeps nothing with a budget of 0', async () => {
    const { ask, produced } = setup({ maxBytes: 0 });
    await ask('a', ['f:A']);
    await ask('a', ['f:A']);
    expect(produced()).toBe(2);
  });
});

describe('LookupCache.forRequest', () => {
  const GET: CachedRequest = { search: 'fingerprint' };
  const URL_A = `/pks/lookup?op=get&options=mr&search=0x${V4}`;

  /** Answers `key` (producing `text` on a miss) and remembers `url` for it. */
  function askFor(cache: LookupCache, key: string, tags: string[], url: string, text = key, request: CachedRequest = GET) {
    return cache.answer(key, tags, async () => answer(text), { url, request });
  }

  it('knows nothing of a URL never answered', async () => {
    const { cache, ask } = setup();
    expect(cache.forRequest(URL_A)).toBeUndefined();
    // An answer kept without a URL is not found by any URL.
    await ask('get a', [`f:${V4}`]);
    expect(cache.forRequest(URL_A)).toBeUndefined();
    expect(cache.forRequest('/pks/lookup?op=get&search=a')).toBeUndefined();
  });

  it('finds the answer and what the app made of the request by the URL it was answered for', async () => {
    const { cache } = setup();
    const index: CachedRequest = { search: 'email' };
    const headers = { 'X-HKP-Results-Count': '1' };
    await cache.answer('index a', ['i:a@example.org'], async () => answer('pub:…', { headers }), {
      url: '/pks/lookup?op=index&search=a@example.org',
      request: index,
    });
    await askFor(cache, 'get a', [`f:${V4}`], URL_A, 'armored');
    const found = cache.forRequest(URL_A);
    expect(found?.request).toEqual(GET);
    expect((found?.answer as CachedAnswer).body.toString()).toBe('armored');
    const listed = cache.forRequest('/pks/lookup?op=index&search=a@example.org');
    expect(listed?.request).toEqual(index);
    expect((listed?.answer as CachedAnswer).headers).toEqual(headers);
    // The URL exactly as sent: another spelling is not known until the app answered it.
    expect(cache.forRequest(URL_A.replace('op=get', 'op=GET'))).toBeUndefined();
    expect(cache.forRequest(`${URL_A}&`)).toBeUndefined();
  });

  it('remembers a URL answered by a hit, not only by a miss', async () => {
    const { cache, ask, produced } = setup();
    await ask('get a', [`f:${V4}`]);
    await askFor(cache, 'get a', [`f:${V4}`], URL_A);
    expect(produced()).toBe(1);
    expect((cache.forRequest(URL_A)?.answer as CachedAnswer).body.toString()).toBe('get a');
  });

  it('finds a cached 404 as the AppError the app threw', async () => {
    const { cache } = setup();
    const missing = new AppError(404, 'not_found', 'no key matches the search');
    await expect(
      cache.answer(
        'get x',
        [`f:${V4}`],
        async () => {
          throw missing;
        },
        { url: URL_A, request: GET },
      ),
    ).rejects.toBe(missing);
    const found = cache.forRequest(URL_A);
    expect(found?.answer).toBe(missing);
    expect(found?.answer).toBeInstanceOf(AppError);
    expect(found?.request).toEqual(GET);
  });

  it('does not remember the URL of an error that is not kept', async () => {
    const { cache } = setup();
    await expect(
      cache.answer(
        'get y',
        ['f:Y'],
        async () => {
          throw new AppError(503, 'unavailable', 'down');
        },
        { url: URL_A, request: GET },
      ),
    ).rejects.toMatchObject({ status: 503 });
    expect(cache.forRequest(URL_A)).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('forgets the URLs of an answer a write invalidated, and leaves the others', async () => {
    const { cache } = setup();
    const other = '/pks/lookup?op=get&options=mr&search=0xBBBBBBBBBBBBBBBB';
    await askFor(cache, 'get a', [`f:${V4}`], URL_A);
    await askFor(cache, 'get b', ['l:BBBBBBBBBBBBBBBB'], other);
    cache.invalidate({ fingerprints: [V4], identities: [] });
    expect(cache.forRequest(URL_A)).toBeUndefined();
    expect(cache.forRequest(other)).toBeDefined();
    // Answered again without its URL: the URL stays forgotten.
    await cache.answer('get a', [`f:${V4}`], async () => answer('fresh'));
    expect(cache.forRequest(URL_A)).toBeUndefined();
    cache.invalidate('all');
    expect(cache.forRequest(other)).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    await cache.answer('get b', ['l:BBBBBBBBBBBBBBBB'], async () => answer('fresh'));
    expect(cache.forRequest(other)).toBeUndefined();
  });

  it('answers no URL while changes are not heard, and forgets them all', async () => {
    const { cache } = setup();
    await askFor(cache, 'get a', [`f:${V4}`], URL_A);
    cache.setListening(false);
    expect(cache.forRequest(URL_A)).toBeUndefined();
    cache.setListening(true);
    expect(cache.forRequest(URL_A)).toBeUndefined();
    // Answered again without its URL: the URL stays forgotten.
    await cache.answer('get a', [`f:${V4}`], async () => answer('fresh'));
    expect(cache.forRequest(URL_A)).toBeUndefined();
    // Not listening: nothing is kept, so no URL is remembered either.
    cache.setListening(false);
    await askFor(cache, 'get a', [`f:${V4}`], URL_A);
    expect(cache.forRequest(URL_A)).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('forgets the URL when its answer expires, at the maximum age or the first expiry it lists', async () => {
    const { cache, advance, now } = setup({ maxAgeMs: 10_000 });
    await askFor(cache, 'get a', [`f:${V4}`], URL_A);
    advance(9_999);
    expect(cache.forRequest(URL_A)).toBeDefined();
    advance(1);
    expect(cache.forRequest(URL_A)).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    await cache.answer('get a', [`f:${V4}`], async () => answer('fresh'));
    expect(cache.forRequest(URL_A)).toBeUndefined();
    const url = '/pks/lookup?op=index&options=mr&search=b';
    await cache.answer('index b', ['t'], async () => answer('b', { validUntil: now() + 500 }), { url, request: GET });
    advance(499);
    expect(cache.forRequest(url)).toBeDefined();
    advance(1);
    expect(cache.forRequest(url)).toBeUndefined();
  });

  it('forgets the URLs of answers dropped for the byte budget', async () => {
    const { cache } = setup({ maxBytes: 16 * 1024 });
    const big = 'x'.repeat(100);
    const urlOf = (i: number) => `/pks/lookup?op=get&options=mr&search=k${i}`;
    for (let i = 0; i < 40; i++) await askFor(cache, `k${i}`, [`f:k${i}`], urlOf(i), big);
    expect(cache.size.bytes).toBeLessThanOrEqual(16 * 1024);
    expect(cache.forRequest(urlOf(0))).toBeUndefined();
    expect(cache.forRequest(urlOf(39))).toBeDefined();
    // Every URL still known leads to an entry still kept, and the bytes are those of the entries kept.
    const known = Array.from({ length: 40 }, (_, i) => i).filter((i) => cache.forRequest(urlOf(i)) !== undefined);
    expect(known.length).toBe(cache.size.entries);
    expect(known).toEqual(Array.from({ length: known.length }, (_, i) => 40 - known.length + i));
    // Answered again without its URL: the URL of the dropped answer stays forgotten.
    await cache.answer('k0', ['f:k0'], async () => answer(big));
    expect(cache.forRequest(urlOf(0))).toBeUndefined();
  });

  it('remembers at most 4 URLs per answer; the others are still answered from the cache through the app', async () => {
    const { cache } = setup();
    let produced = 0;
    const spellings = [
      'op=get&search=a',
      'search=a&op=get',
      'op=get&search=a&options=mr',
      'options=mr&op=get&search=a',
      'op=get&options=mr&search=a',
    ].map((q) => `/pks/lookup?${q}`);
    for (const url of spellings) {
      await cache.answer(
        'get a',
        [`f:${V4}`],
        async () => {
          produced++;
          return answer('a');
        },
        { url, request: GET },
      );
    }
    expect(produced).toBe(1);
    expect(spellings.map((url) => cache.forRequest(url) !== undefined)).toEqual([true, true, true, true, false]);
    // Once the entry is dropped and answered again, there is room for new spellings.
    cache.invalidate({ fingerprints: [V4], identities: [] });
    await askFor(cache, 'get a', [`f:${V4}`], spellings[4]!);
    expect(cache.forRequest(spellings[4]!)).toBeDefined();
    expect(cache.forRequest(spellings[0]!)).toBeUndefined();
  });

  it('counts remembered URLs in its size, and gives their bytes back when they are dropped', async () => {
    const { cache, ask } = setup();
    await ask('get a', [`f:${V4}`]);
    const bare = cache.size.bytes;
    await askFor(cache, 'get a', [`f:${V4}`], URL_A);
    const withOne = cache.size.bytes;
    expect(withOne).toBeGreaterThanOrEqual(bare + URL_A.length);
    // The same URL again is not counted twice; a longer one counts more.
    await askFor(cache, 'get a', [`f:${V4}`], URL_A);
    expect(cache.size.bytes).toBe(withOne);
    const long = `${URL_A}&options=mr${'&x=1'.repeat(250)}`;
    await askFor(cache, 'get a', [`f:${V4}`], long);
    expect(cache.size.bytes - withOne).toBeGreaterThanOrEqual(long.length);
    expect(cache.size.bytes - withOne).toBeGreaterThan(withOne - bare);
    expect(cache.size.entries).toBe(1);
    cache.invalidate({ fingerprints: [V4], identities: [] });
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('drops the oldest answers when remembered URLs push it over its budget', async () => {
    const { cache, ask, produced } = setup({ maxBytes: 64 * 1024 });
    const body = 'x'.repeat(200);
    const keys = Array.from({ length: 77 }, (_, i) => `k${i}`);
    for (const key of keys) await ask(key, [`f:${key}`], body);
    // All fit without URLs.
    expect(cache.size.entries).toBe(keys.length);
    const url = (i: number) => `/pks/lookup?op=get&search=q&n=${i}${'&x=1'.repeat(60)}`;
    // Long URLs for the newest answer: only the URLs grow the cache, and the oldest answers make room.
    for (let i = 0; i < 4; i++) await askFor(cache, 'q', ['f:q'], url(i), body);
    expect(produced()).toBe(keys.length);
    expect(cache.size.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.size.entries).toBeLessThan(keys.length);
    for (let i = 0; i < 4; i++) expect(cache.forRequest(url(i))).toBeDefined();
    await ask('k0', ['f:k0'], body);
    expect(produced()).toBe(keys.length + 1);
  });

  it('does not remember a URL that would take its answer past a sixteenth of the budget', async () => {
    const { cache, ask } = setup({ maxBytes: 16 * 1024 });
    const body = 'x'.repeat(100);
    for (let i = 0; i < 10; i++) await ask(`k${i}`, [`f:${i}`], body);
    const before = cache.size;
    const long = `/pks/lookup?op=get&search=k9&pad=${'x'.repeat(8000)}`;
    await askFor(cache, 'k9', ['f:9'], long, body);
    expect(cache.forRequest(long)).toBeUndefined();
    expect(cache.size).toEqual(before);
    const short = '/pks/lookup?op=get&search=k9';
    await askFor(cache, 'k9', ['f:9'], short, body);
    expect(cache.forRequest(short)).toBeDefined();
  });
});

describe('firstExpiry', () => {
  it('is the earliest future expiry of keys, user IDs and subkeys, in ms', () => {
    const keys = [
      { expires: 500, userIds: [{ expires: 2_000 }], subkeys: [{ expires: null }] },
      { expires: null, userIds: [{ expires: null }], subkeys: [{ expires: 1_500 }] },
    ];
    expect(firstExpiry(keys, 1_000)).toBe(1_500_000);
    expect(firstExpiry(keys, 3_000)).toBeUndefined();
  });
});
