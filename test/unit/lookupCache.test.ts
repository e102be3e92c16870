import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { changeTags, firstExpiry, LookupCache, queryTags, type CachedAnswer } from '../../src/http/hkp/lookupCache.js';

const V4 = '0123456789ABCDEF0123456789ABCDEF01234567';
const V4_SUB = 'FEDCBA9876543210FEDCBA9876543210FEDCBA98';
const V6 = 'AA'.repeat(32);

function answer(text: string, extra: Partial<CachedAnswer> = {}): CachedAnswer {
  return { type: 'text/plain', body: Buffer.from(text), keys: 1, ...extra };
}

function setup(options: { maxBytes?: number; maxAgeMs?: number; listening?: boolean } = {}) {
  let time = 1_000_000;
  const cache = new LookupCache({ maxBytes: options.maxBytes ?? 1 << 20, maxAgeMs: options.maxAgeMs ?? 60_000, listening: options.listening ?? true, now: () => time });
  let produced = 0;
  const ask = (key: string, tags: string[], text = key) => cache.answer(key, tags, async () => {
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

  it('drops the answers of a search when a key with that fingerprint, key ID or e-mail is written', async () => {
    const { cache, ask, produced } = setup();
    const searches: [string, string[]][] = [
      ['fpr', queryTags({ kind: 'fingerprint', fingerprint: V4 })],
      ['long', queryTags({ kind: 'longId', keyId: V4.slice(-16) })],
      ['short', queryTags({ kind: 'shortId', keyId: V4.slice(-8) })],
      ['sub-short', queryTags({ kind: 'shortId', keyId: V4_SUB.slice(-8) })],
      ['email', queryTags({ kind: 'email', email: 'alice@example.org' })],
      ['words', queryTags({ kind: 'words', words: ['alice'], text: 'alice' })],
      ['other', queryTags({ kind: 'fingerprint', fingerprint: 'B'.repeat(40) })],
    ];
    for (const [key, tags] of searches) await ask(key, tags);
    expect(produced()).toBe(searches.length);
    cache.invalidate({ fingerprints: [V4, V4_SUB], emails: ['Alice@Example.org'] });
    for (const [key, tags] of searches) await ask(key, tags);
    // Everything again but the unrelated fingerprint.
    expect(produced()).toBe(searches.length * 2 - 1);
  });

  it('derives v6 key IDs from the front of the fingerprint', () => {
    expect(changeTags({ fingerprints: [V6], emails: [] })).toEqual(['t', `f:${V6}`, `l:${V6.slice(0, 16)}`, `s:${V6.slice(8, 16)}`]);
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
    cache.invalidate({ fingerprints: [V4], emails: [] });
    release();
    expect((await pending).body.toString()).toBe('stale');
    expect((await cache.answer('a', ['f:A'], async () => answer('fresh'))).body.toString()).toBe('fresh');
  });

  it('keeps a 404 and throws it again until a matching key is written', async () => {
    const { cache } = setup();
    let calls = 0;
    const missing = () => cache.answer('get x', [`f:${V4}`], async () => {
      calls++;
      throw new AppError(404, 'not_found', 'no key matches the search');
    });
    await expect(missing()).rejects.toMatchObject({ status: 404 });
    await expect(missing()).rejects.toMatchObject({ status: 404 });
    expect(calls).toBe(1);
    cache.invalidate({ fingerprints: [V4], emails: [] });
    await expect(missing()).rejects.toMatchObject({ status: 404 });
    expect(calls).toBe(2);
  });

  it('does not keep other errors', async () => {
    const { cache } = setup();
    let calls = 0;
    const failing = () => cache.answer('get y', ['f:Y'], async () => {
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
    const expiring = () => cache.answer('b', ['f:B'], async () => {
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
    const big = 'x'.repeat(700);
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

  it('keeps nothing with a budget of 0', async () => {
    const { ask, produced } = setup({ maxBytes: 0 });
    await ask('a', ['f:A']);
    await ask('a', ['f:A']);
    expect(produced()).toBe(2);
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
